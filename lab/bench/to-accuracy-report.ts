// docs/performance/time-to-accuracy.md from a `twnn bench to-accuracy` run:
// each contestant's training time to the target accuracy, its ratio to the
// fastest PyTorch twin, and every evaluation on the way.
import { describeSetting } from './torch.js';
import type { AccuracyRaceResult, ContestantResult } from './to-accuracy.js';

/** Issue 21's target: twnn's time to the accuracy at most this times PyTorch's best. */
export const TIME_TO_ACCURACY_TARGET = 0.8;

/**
 * The fastest contestant of `engine` to reach the target, if any did.
 *
 * @example fastest(result, 'twnn')?.reached?.seconds
 */
export function fastest(r: AccuracyRaceResult, engine: 'twnn' | 'torch'): ContestantResult | undefined {
  const reached = r.contestants.filter((c) => c.engine === engine && c.reached);
  return reached.sort((a, b) => a.reached!.seconds - b.reached!.seconds)[0];
}

/**
 * The report as markdown.
 *
 * @example await writeFileAtomic('docs/performance/time-to-accuracy.md', accuracyReport(result, 'twnn bench to-accuracy'));
 */
export function accuracyReport(r: AccuracyRaceResult, command: string): string {
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
  const torch = fastest(r, 'torch');
  const twnn = fastest(r, 'twnn');
  const ratio = twnn && torch ? twnn.reached!.seconds / torch.reached!.seconds : undefined;
  const best = [...r.tuning].sort((a, b) => a.seconds - b.seconds)[0];
  const lines = [
    `## Time to ${pct(r.target)} test accuracy`,
    '',
    `Written by \`${command}\` (${(r.seconds / 60).toFixed(0)} min); regenerate it with that command.`,
    '',
    `**Method.** \`${r.graph}\` trained from the same initial weights (${r.weightsFrom}) on the same batches (twnn train's seeded order, batch ${r.batch}) ` +
      `with the same learning rate (${r.lr}, ${r.lrSchedule}${r.lrSchedule === 'cosine' ? ` over the task's ${r.plannedSteps} planned steps` : ''})${r.clipNorm !== undefined ? ` and the gradient's norm clipped at ${r.clipNorm}` : ''} by twnn (train.onnx in onnxruntime-node) and by its PyTorch twin. ` +
      `Before the race, twnn's first ${r.agreement.steps} steps and the twin's agree: losses within ${r.agreement.lossDiff.toExponential(1)} (relative; limit ${r.agreement.limit}), mean sweeps within ${(100 * r.agreement.sweepsDiff).toFixed(2)}%. ` +
      `The twin runs its fastest setting on the first steps, of ${r.tuning.length} tried (threads × OpenBLAS × dense or active sweeps): ${best ? `${describeSetting(best)}, ${best.mode} sweeps` : 'none'}. ` +
      `The contestants take turns of ${r.evalEvery} steps, each timed with the other PyTorch workers frozen; after each turn its weights are evaluated on the whole test set (not timed). ` +
      `Times are training time only. The first evaluation at or above ${pct(r.target)} stops a contestant; none runs past ${r.maxSteps} steps. ` +
      `The accuracy is read every ${r.evalEvery} steps, so a time to the target is late by up to one turn.`,
    '',
    '| contestant | setting | steps to target | training time to target | mean sweeps / adjoint steps per sample | vs the fastest PyTorch |',
    '|---|---|---|---|---|---|',
  ];
  for (const c of r.contestants) {
    const last = c.timeline[c.timeline.length - 1];
    const sweeps = c.timeline.length ? `${meanOf(c, 'sweeps').toFixed(1)} / ${meanOf(c, 'adjointSteps').toFixed(1)}` : '–';
    const vs = c.reached && torch ? (c.reached.seconds / torch.reached!.seconds).toFixed(2) : '–';
    lines.push(
      `| ${c.id} | ${c.label} | ${c.reached ? c.reached.step : `not reached in ${last?.step ?? 0} (best ${pct(Math.max(...c.timeline.map((p) => p.accuracy)))})`} | ` +
        `${c.reached ? `${c.reached.seconds.toFixed(0)} s` : '–'} | ${sweeps} | ${vs} |`,
    );
  }
  lines.push('');
  lines.push(
    ratio === undefined
      ? `**Verdict**: ${!torch ? 'PyTorch' : 'twnn'} did not reach ${pct(r.target)} within ${r.maxSteps} steps, so there is no ratio.`
      : `**Verdict**: twnn's fastest (${twnn!.id}) takes ${ratio.toFixed(2)}x the time of PyTorch's fastest (${torch!.id}) to ${pct(r.target)}; the target is ≤ ${TIME_TO_ACCURACY_TARGET}: **${ratio <= TIME_TO_ACCURACY_TARGET ? 'met' : 'not met'}**.`,
  );
  const shared = sharedAccuracy(r);
  if (shared && (!torch || !twnn)) {
    const torchAt = bestAt(r, 'torch', shared);
    const twnnAt = bestAt(r, 'twnn', shared);
    lines.push(
      '',
      `The highest test accuracy every contestant reached is ${pct(shared)}: twnn's fastest there (${twnnAt.id}) took ${twnnAt.seconds.toFixed(0)} s, PyTorch's (${torchAt.id}) ${torchAt.seconds.toFixed(0)} s: ` +
        `${(twnnAt.seconds / torchAt.seconds).toFixed(2)}x.`,
    );
  }
  lines.push('', '### Every evaluation', '', '| contestant | step | training s | test accuracy | test sweeps/sample | segment loss | sweeps | adjoint steps |', '|---|---|---|---|---|---|---|---|');
  for (const c of r.contestants) {
    for (const p of c.timeline) {
      lines.push(`| ${c.id} | ${p.step} | ${p.seconds.toFixed(1)} | ${pct(p.accuracy)} | ${p.testSweeps.toFixed(2)} | ${p.loss.toFixed(4)} | ${p.sweeps.toFixed(2)} | ${p.adjointSteps.toFixed(2)} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The highest test accuracy every contestant reached at some evaluation (the
 * lowest of their bests), or undefined without evaluations.
 *
 * @example sharedAccuracy(result) // 0.9874
 */
export function sharedAccuracy(r: AccuracyRaceResult): number | undefined {
  const bests = r.contestants.map((c) => Math.max(...c.timeline.map((p) => p.accuracy)));
  return bests.length && bests.every(Number.isFinite) ? Math.min(...bests) : undefined;
}

/** The contestant of `engine` first at or above `accuracy`, with its training time then. */
function bestAt(r: AccuracyRaceResult, engine: 'twnn' | 'torch', accuracy: number): { id: string; seconds: number } {
  const times = r.contestants
    .filter((c) => c.engine === engine)
    .flatMap((c) => {
      const p = c.timeline.find((q) => q.accuracy >= accuracy);
      return p ? [{ id: c.id, seconds: p.seconds }] : [];
    });
  return times.sort((a, b) => a.seconds - b.seconds)[0];
}

/** A contestant's sweeps (or adjoint steps) per sample over its whole run, each turn weighted by its steps. */
function meanOf(c: ContestantResult, key: 'sweeps' | 'adjointSteps'): number {
  let total = 0;
  let steps = 0;
  let before = 0;
  for (const p of c.timeline) {
    total += p[key] * (p.step - before);
    steps += p.step - before;
    before = p.step;
  }
  return steps ? total / steps : 0;
}
