// The study's claims, one by one (paper Table III and §IV), judged from the
// per-model summaries: accuracy at equal epochs and at equal training time,
// training time, memory, and what block skipping costs and saves.
import { percent } from './format.js';
import type { StudyKind } from './study-runs.js';
import { accuracyVerdict, costVerdict, type ClaimVerdict, type Spread, type Verdict } from './study-verdicts.js';

/** What the study measured of one architecture, over its seeds. */
export interface ModelSummary {
  id: string;
  label: string;
  kind: StudyKind;
  role: 'twnn' | 'baseline';
  paperName: string;
  /** Seeds with a finished run. */
  seeds: number[];
  /** Final test accuracy (model.onnx re-evaluated). */
  accuracy: Spread;
  /** Mean forward sweeps per test sample. */
  sweeps: Spread;
  /** The trainer's own seconds per epoch (metrics.jsonl), taken under whatever else ran on the machine. */
  trainerSecondsPerEpoch: Spread;
  /** One training step at batch 64, timed by the bench round-robin with the other models. */
  msPerStep?: number;
  /** msPerStep × steps per epoch. */
  secondsPerEpoch?: number;
  /** Peak memory of that step above the process's resident size before it, KiB. */
  stepMemoryKb?: number;
  /** Test accuracy after each epoch over the seeds, and the training seconds it took at the bench's step time. */
  perEpoch: { epoch: number; accuracy: Spread; benchSeconds?: number }[];
  /**
   * Skip-gated models: how often each block was skipped on the test set, and
   * the accuracy of the same weights computed densely (blockSkipping 'off':
   * the same function, so it must match; a check of the skipping graph).
   */
  skip?: { rates: { block: string; rate: Spread }[]; unskippedAccuracy: Spread };
}

export interface StudyVerdicts {
  claims: ClaimVerdict[];
}

/** A skip-gated model's inference time with and without skipping, at one batch size. */
export interface SkipTimingLike {
  model: string;
  batch: number;
  skippingMs: number;
  unskippedMs: number;
}

/** How a claim names each baseline. */
const PHRASE: Record<StudyKind, string> = { twnn: 'the TWNN ResNet', 'twnn-skip': 'the TWNN ResNet with skipping', 'same-blocks': 'a plain ResNet of the same blocks', deep: 'a plain ResNet of twice the blocks' };

const PAPER = { twnn: '96.54%', same: '88.25% (ResNet-36)', deep: '90.63% (ResNet-50)' };

/**
 * Every claim the study can judge, in the order the report lists them; a
 * claim whose models have no finished runs is `undetermined`.
 *
 * @example judgeStudy(report.models, report.skipTimings).claims.map((c) => c.verdict)
 */
export function judgeStudy(models: readonly ModelSummary[], skipTimings: readonly SkipTimingLike[]): StudyVerdicts {
  const by = (kind: StudyKind) => models.find((m) => m.kind === kind && m.accuracy.n > 0);
  const twnn = by('twnn');
  const skip = by('twnn-skip');
  const same = by('same-blocks');
  const deep = by('deep');
  const claims: ClaimVerdict[] = [];
  for (const [base, paper] of [[same, PAPER.same], [deep, PAPER.deep]] as const) {
    if (!twnn || !base) continue;
    claims.push(equalEpochs(twnn, base, paper));
    claims.push(equalTime(twnn, base));
  }
  if (twnn && deep) {
    const time = costVerdict(twnn.secondsPerEpoch, deep.secondsPerEpoch);
    claims.push({
      claim: `The TWNN ResNet trains no slower per epoch than ${PHRASE.deep}`,
      paper: '"the training time is not higher than ResNet"',
      measured: `${fmt(twnn.secondsPerEpoch, 's')} against ${fmt(deep.secondsPerEpoch, 's')} per epoch${ratioText(time.ratio)}`,
      verdict: time.verdict,
      why: time.verdict === 'undetermined' ? 'a step time is missing' : `held when within 5% or faster; ${twnn.sweeps.mean.toFixed(1)} sweeps per sample on the test set`,
    });
    const memory = costVerdict(twnn.stepMemoryKb, deep.stepMemoryKb, 0);
    claims.push({
      claim: `A TWNN ResNet training step needs less memory than one of ${PHRASE.deep}`,
      paper: '"the memory consumption is significantly less than DNN models"',
      measured: `${fmt(kib(twnn.stepMemoryKb), ' MiB')} against ${fmt(kib(deep.stepMemoryKb), ' MiB')} at batch 64${ratioText(memory.ratio)}`,
      verdict: memory.verdict,
      why: memory.verdict === 'undetermined' ? 'a memory measurement is missing' : 'peak resident memory of one train.onnx step above the process before it (implicit adjoint: no stored sweeps)',
    });
  }
  if (skip?.skip) {
    for (const t of skipTimings.filter((s) => s.model === skip.id)) {
      const saves = costVerdict(t.skippingMs, t.unskippedMs, -0.05);
      claims.push({
        claim: `Skipping saves inference time at batch ${t.batch}`,
        paper: '"the training time is not higher than ResNet" (skipping B4)',
        measured: `${t.skippingMs.toFixed(2)} ms against ${t.unskippedMs.toFixed(2)} ms per run${ratioText(saves.ratio)}`,
        verdict: saves.verdict,
        why: 'held when at least 5% faster than the same weights run without skipping (median over the timed inputs, interleaved)',
      });
    }
    if (twnn) {
      const w = accuracyVerdict(skip.accuracy, twnn.accuracy);
      claims.push({
        claim: 'Skipping blocks costs no test accuracy (the TWNN ResNet with skip gates against without)',
        paper: '(implied: skipping B4 kept 96.54%)',
        measured: `${acc(skip.accuracy)} against ${acc(twnn.accuracy)}; skipped: ${skip.skip.rates.map((r) => `${r.block} ${percent(r.rate.mean, 1)}`).join(', ')}`,
        verdict: w.verdict === 'reversed' ? 'fails' : w.verdict === 'undetermined' ? 'undetermined' : 'holds',
        why: w.verdict === 'undetermined' ? 'fewer than two seeds' : `${w.verdict === 'reversed' ? 'lower' : 'no lower'} beyond the seeds' spread (${tText(w.t)})`,
      });
    }
  }
  return { claims };
}

function equalEpochs(twnn: ModelSummary, base: ModelSummary, paper: string): ClaimVerdict {
  const v = accuracyVerdict(twnn.accuracy, base.accuracy);
  return {
    claim: `The TWNN ResNet is more accurate than ${PHRASE[base.kind]} at equal epochs`,
    paper: `${PAPER.twnn} against ${paper} on CIFAR-10`,
    measured: `${acc(twnn.accuracy)} against ${acc(base.accuracy)}`,
    verdict: v.verdict,
    why: whyAccuracy(v.verdict, v.t),
  };
}

/**
 * Equal training time: the TWNN's accuracy against what the baseline reached
 * within the TWNN's training time (its last epoch that ended by then, at the
 * bench's step times). A baseline that finished sooner had time left; where
 * the TWNN wins anyway that spare time is untested, so the claim is
 * undetermined unless the baseline's curve was still flat.
 */
function equalTime(twnn: ModelSummary, base: ModelSummary): ClaimVerdict {
  const claim = `The TWNN ResNet is more accurate than ${PHRASE[base.kind]} at equal training time`;
  const budget = twnn.perEpoch.at(-1)?.benchSeconds;
  const within = base.perEpoch.filter((p) => p.benchSeconds !== undefined && budget !== undefined && p.benchSeconds <= budget * 1.02);
  if (budget === undefined || base.perEpoch.every((p) => p.benchSeconds === undefined)) {
    return { claim, paper: '(not reported)', measured: 'no step times', verdict: 'undetermined', why: 'the step times were not measured' };
  }
  if (within.length === 0) {
    return { claim, paper: '(not reported)', measured: `the baseline finished no epoch within the TWNN's ${budget.toFixed(0)} s`, verdict: 'holds', why: 'the baseline had nothing to show in that time' };
  }
  const reached = within[within.length - 1];
  const v = accuracyVerdict(twnn.accuracy, reached.accuracy);
  const finishedEarly = reached.epoch === base.perEpoch.length && (reached.benchSeconds ?? 0) < budget * 0.9;
  const measured = `${acc(twnn.accuracy)} after ${budget.toFixed(0)} s against ${acc(reached.accuracy)} after ${reached.benchSeconds!.toFixed(0)} s (epoch ${reached.epoch})`;
  if (v.verdict === 'holds' && finishedEarly) {
    return {
      claim,
      paper: '(not reported)',
      measured,
      verdict: 'undetermined',
      why: `the baseline stopped at ${reached.benchSeconds!.toFixed(0)} s with ${(budget - reached.benchSeconds!).toFixed(0)} s left: a longer baseline run would tell`,
    };
  }
  const spare = finishedEarly ? `; the baseline used only ${reached.benchSeconds!.toFixed(0)} s of it` : '';
  return { claim, paper: '(not reported)', measured, verdict: v.verdict, why: `${whyAccuracy(v.verdict, v.t)}${spare}` };
}

function whyAccuracy(verdict: Verdict, t: number | undefined): string {
  switch (verdict) {
    case 'holds':
      return `higher beyond the seeds' spread (${tText(t)})`;
    case 'reversed':
      return `lower beyond the seeds' spread (${tText(t)})`;
    case 'fails':
      return `no difference the seeds can show (${tText(t)})`;
    default:
      return 'fewer than two finished seeds on a side';
  }
}

const tText = (t: number | undefined) => (t === undefined ? 't undefined' : `Welch t = ${Number.isFinite(t) ? t.toFixed(2) : String(t)}`);
const acc = (s: Spread) => (s.n === 0 ? 'n/a' : `${percent(s.mean)} ± ${percent(s.std)} (n = ${s.n})`);
const fmt = (v: number | undefined, unit: string) => (v === undefined ? 'n/a' : `${v.toFixed(v < 10 ? 2 : 0)}${unit}`);
const kib = (kb: number | undefined) => (kb === undefined ? undefined : kb / 1024);
const ratioText = (r: number | undefined) => (r === undefined ? '' : ` (×${r.toFixed(2)})`);
