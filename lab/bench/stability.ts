// `twnn bench stability` (issue 24, the experiment): does the TWNN ResNet train
// stably without gradient clipping? Three variants (contractive wormholes,
// fixed-point correction, as it is now) × seeds × lrs (stability-runs.ts),
// each run then read back:
// - its collapse, if any, and the step where it began (collapse.ts);
// - model.onnx re-evaluated on the test set, as the study does (accuracy,
//   sweeps, unsettled samples);
// - from metrics.jsonl: seconds per epoch (the trainer's clock), forward sweeps
//   and backward steps per sample, the spectral radius after each epoch.
// `--train` first trains the runs that are not finished, one at a time: a
// stopped one resumes from its checkpoint, a finished or diverged one is
// skipped, so the 18 runs can be spread over sessions. A run whose loss turns
// non-finite stops the trainer; its folder gets diverged.json, which marks it
// finished (as a collapse). The report goes to <out>/STABILITY.md and
// stability.json; runs not trained are listed as missing.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TwnnError } from '../../src/common/errors.js';
import { writeFileAtomic } from '../../src/common/files.js';
import type { Dataset } from '../../src/data/batches.js';
import { CHECKPOINT_FILE } from '../../src/runtime/checkpoint.js';
import { readMetrics } from '../../src/runtime/metrics.js';
import { METRICS_FILE, TrainingDivergedError } from '../../src/runtime/trainer.js';
import type { DataSpec } from '../../src/twnn/task.js';
import { CHANCE_FRACTION, CHANCE_LOSS, COLLAPSE_WINDOW, detectCollapse, LEARNED_LOSS, LOW_ACCURACY } from './collapse.js';
import { loadRun, UnfinishedRunError, type LoadedRun } from './runs.js';
import { renderStability } from './stability-report.js';
import { stabilityRuns, type StabilityRun } from './stability-runs.js';
import type { SpectralPoint, StabilityReport, StabilityRunResult, StabilityStatus, StabilitySummary } from './stability-types.js';
import type { SpecLoader } from './step-graph.js';
import { reEvaluate, type BenchStudyOptions } from './study.js';
import { spread } from './study-verdicts.js';
import { testSetLoader } from './test-sets.js';

export interface BenchStabilityOptions extends Pick<BenchStudyOptions, 'outDir' | 'loadSpec' | 'evalBatch' | 'testData' | 'device' | 'command' | 'log'> {
  /** The runs (default: stabilityRuns(), all 18). */
  runs?: readonly StabilityRun[];
  /** Train each run that is not finished first (`resume`: it has a checkpoint to continue from); default: they are reported as they are. */
  train?: (run: StabilityRun, resume: boolean) => Promise<void>;
}

export const STABILITY_FILE = 'STABILITY.md';
export const STABILITY_JSON = 'stability.json';
/** Written into a run's folder when its loss turned non-finite: the step and loss, and the trainer's message. */
export const DIVERGED_FILE = 'diverged.json';

/**
 * Train what is not finished (with `train`), read every run back, and write
 * `<outDir>/STABILITY.md` and `<outDir>/stability.json`.
 *
 * @example await benchStability({ outDir: 'docs', loadSpec: loadModelSpec, log: console.error });
 */
export async function benchStability(options: BenchStabilityOptions): Promise<{ report: StabilityReport; files: string[] }> {
  const log = options.log ?? (() => {});
  const runs = options.runs ?? stabilityRuns();
  if (options.train) for (const run of runs) await trainRun(run, options.train, log);
  const testSet = testSetLoader(options.testData);
  const results: StabilityRunResult[] = [];
  let testName: string | undefined;
  for (const run of runs) {
    const { result, test } = await readRun(run, testSet, options, log);
    results.push(result);
    testName ??= test && `${test.name} (${test.x.shape[0]} examples)`;
  }
  const report: StabilityReport = {
    summaries: summarize(runs, results),
    runs: results,
    method: {
      testSet: testName ?? 'the test split',
      command: options.command ?? 'twnn bench stability',
      collapse: { window: COLLAPSE_WINDOW, learnedLoss: LEARNED_LOSS, chanceLevel: CHANCE_FRACTION * CHANCE_LOSS, lowAccuracy: LOW_ACCURACY },
    },
  };
  const markdown = join(options.outDir, STABILITY_FILE);
  const json = join(options.outDir, STABILITY_JSON);
  await writeFileAtomic(markdown, renderStability(report));
  await writeFileAtomic(json, `${JSON.stringify(report, null, 2)}\n`);
  return { report, files: [markdown, json] };
}

/** Train one run unless finished: resumed where it has a checkpoint; a divergence is recorded in its folder, not thrown. */
async function trainRun(run: StabilityRun, train: NonNullable<BenchStabilityOptions['train']>, log: (line: string) => void): Promise<void> {
  const { status } = await runState(run);
  if (status === 'done' || status === 'diverged') return;
  const resume = existsSync(join(run.dir, CHECKPOINT_FILE));
  log(`${runName(run)}: ${resume ? 'resuming' : 'training'} (${run.command}${resume ? ' --resume' : ''})`);
  try {
    await train(run, resume);
  } catch (err) {
    if (!(err instanceof TrainingDivergedError)) throw err;
    log(`${runName(run)}: ${err.message}; recorded in ${join(run.dir, DIVERGED_FILE)}`);
    await writeFileAtomic(join(run.dir, DIVERGED_FILE), `${JSON.stringify({ step: err.step, loss: String(err.loss), message: err.message }, null, 2)}\n`);
  }
}

/**
 * A run's state: diverged (its diverged.json), done (model.onnx holds the
 * weights of its last epoch), unfinished, or missing.
 */
async function runState(run: StabilityRun): Promise<{ status: StabilityStatus; loaded?: LoadedRun; divergedAt?: { step: number; loss: number } }> {
  // Not loaded: its model.onnx holds no final weights, and committed without a checkpoint it could not be read as a run.
  const divergedPath = join(run.dir, DIVERGED_FILE);
  if (existsSync(divergedPath)) return { status: 'diverged', divergedAt: readDiverged(divergedPath) };
  let loaded: LoadedRun | undefined;
  try {
    loaded = await loadRun({ id: `${run.variant.id}-s${run.seed}`, label: run.variant.label, family: 'stability', role: 'twnn', dir: run.dir, command: run.command, graph: run.variant.graph });
  } catch (err) {
    if (!(err instanceof UnfinishedRunError)) throw err;
  }
  // Stopped before its first checkpoint, a run has a log but nothing to resume from: `--train` starts it again.
  if (!loaded) return { status: existsSync(join(run.dir, CHECKPOINT_FILE)) || existsSync(join(run.dir, METRICS_FILE)) ? 'unfinished' : 'missing' };
  // A resumed run's model.onnx holds its checkpoint's weights until it ends: finished only with its last epoch logged.
  const finished = loaded.metrics.some((m) => m.kind === 'epoch' && m.epoch === loaded.config.epochs);
  return { status: finished ? 'done' : 'unfinished', loaded };
}

function readDiverged(path: string): { step: number; loss: number } {
  const value = JSON.parse(readFileSync(path, 'utf8')) as { step?: unknown; loss?: unknown };
  if (typeof value.step !== 'number' || typeof value.loss !== 'string') throw new TwnnError(`${path}: expected { step: number, loss: string } as \`twnn bench stability --train\` writes it`);
  return { step: value.step, loss: Number(value.loss) };
}

/** One run read back: its state, its logged epochs and sweeps, a finished one's re-evaluation and collapse. */
async function readRun(
  run: StabilityRun,
  testSet: (data: DataSpec) => Promise<Dataset>,
  options: BenchStabilityOptions,
  log: (line: string) => void,
): Promise<{ result: StabilityRunResult; test?: Dataset }> {
  const { status, loaded, divergedAt } = await runState(run);
  const metricsPath = join(run.dir, METRICS_FILE);
  const metrics = existsSync(metricsPath) ? readMetrics(metricsPath) : [];
  const steps = metrics.flatMap((m) => (m.kind === 'step' ? [m] : []));
  const mean = (f: (s: (typeof steps)[number]) => number) => steps.reduce((a, s) => a + f(s), 0) / steps.length;
  const logged: StabilityRunResult = {
    variant: run.variant.id,
    lr: run.lr,
    seed: run.seed,
    dir: run.dir,
    command: run.command,
    status,
    steps: steps.length,
    epochs: metrics.flatMap((m) =>
      m.kind === 'epoch' ? [{ epoch: m.epoch, accuracy: m.test_accuracy ?? NaN, trainLoss: m.train_loss, seconds: m.seconds, ...(m.spectral_radius ? { spectral: m.spectral_radius } : {}) }] : [],
    ),
    ...(steps.length > 0 ? { sweeps: { forward: mean((s) => s.iterations), backward: mean((s) => s.iterations_backward) } } : {}),
  };
  if (status !== 'done' || !loaded) {
    log(`${runName(run)}: ${status}${status === 'missing' ? ` (no trained run in ${run.dir})` : ` after ${steps.length} logged steps`}`);
    // Only a finished run is judged: an unfinished one may yet collapse or recover.
    return { result: { ...logged, ...(divergedAt ? { collapse: detectCollapse(metrics, { divergedAt })! } : {}) } };
  }
  const data = loaded.manifest.task.data;
  if (!data) throw new TwnnError(`${run.dir}/manifest.json names no task data, so there is no test set to evaluate it on`);
  const test = await testSet(data);
  log(`${runName(run)}: re-evaluating ${loaded.modelPath} on ${test.name}`);
  const scored = await reEvaluate(run.variant.graph, run.dir, loaded, test, options);
  const collapse = detectCollapse(metrics, { finalAccuracy: scored.accuracy });
  return { result: { ...logged, test: scored, ...(collapse ? { collapse } : {}) }, test };
}

/** Per variant and lr, over seeds: collapses among the finished runs, and the statistics of those that did not diverge. */
function summarize(runs: readonly StabilityRun[], results: readonly StabilityRunResult[]): StabilitySummary[] {
  const groups = runs.filter((r, i) => runs.findIndex((o) => o.variant.id === r.variant.id && o.lr === r.lr) === i);
  return groups.map(({ variant, lr }) => {
    const mine = results.filter((r) => r.variant === variant.id && r.lr === lr);
    const finished = mine.filter((r) => r.status === 'done' || r.status === 'diverged');
    const done = mine.filter((r) => r.status === 'done' && r.test);
    return {
      variant: variant.id,
      label: variant.label,
      lr,
      planned: mine.length,
      finished: finished.length,
      collapses: finished.flatMap((r) => (r.collapse ? [{ seed: r.seed, kind: r.collapse.kind, ...(r.collapse.step !== undefined ? { step: r.collapse.step } : {}) }] : [])),
      accuracy: spread(done.map((r) => r.test!.accuracy)),
      unsettled: spread(done.map((r) => r.test!.unsettled ?? 0)),
      testSweeps: spread(done.map((r) => r.test!.sweeps)),
      secondsPerEpoch: spread(done.flatMap((r) => (r.epochs.length > 0 ? [r.epochs[r.epochs.length - 1].seconds / r.epochs.length] : []))),
      forwardSweeps: spread(done.flatMap((r) => (r.sweeps ? [r.sweeps.forward] : []))),
      backwardSweeps: spread(done.flatMap((r) => (r.sweeps ? [r.sweeps.backward] : []))),
      spectral: spectralPoints(done),
    };
  });
}

/** The spectral radius after each epoch, per region, over the runs that logged it. */
function spectralPoints(runs: readonly StabilityRunResult[]): SpectralPoint[] {
  const points: SpectralPoint[] = [];
  const epochs = [...new Set(runs.flatMap((r) => r.epochs.map((e) => e.epoch)))].sort((a, b) => a - b);
  for (const epoch of epochs) {
    const logged = runs.flatMap((r) => r.epochs.filter((e) => e.epoch === epoch && e.spectral).map((e) => e.spectral!));
    const regions = [...new Set(logged.flatMap((s) => Object.keys(s)))].sort();
    for (const region of regions) {
      const at = logged.flatMap((s) => (s[region] ? [s[region]] : []));
      points.push({ epoch, region, mean: spread(at.map((p) => p.mean)).mean, max: Math.max(...at.map((p) => p.max)), runs: at.length });
    }
  }
  return points;
}

function runName(run: StabilityRun): string {
  return `${run.variant.id} lr ${run.lr} seed ${run.seed}`;
}
