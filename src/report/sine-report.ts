// The sine task's report (paper Task B, Fig. 6): one-step test MSE, the MSE of
// a 1000-step free-running (autoregressive) generation from the first test
// window, the sweeps each test sample's fixed point took, and the pictures:
// the generated wave against the true one, and a histogram of the sweeps.
import { join } from 'node:path';
import { sequentialBatches } from '../data/batches.js';
import { loadSine, sineSeries, sineSplitSizes, SINE_LENGTH } from '../data/sine.js';
import { TwnnError } from '../common/errors.js';
import { writeFileAtomic } from '../common/files.js';
import type { Device } from '../runtime/device.js';
import { generate } from '../runtime/generate.js';
import { checkFixedPoint } from '../runtime/guard.js';
import { accumulate, emptyTotals } from '../runtime/metrics.js';
import { openSession, type TwnnSession } from '../runtime/session.js';
import { EVAL_BATCH } from '../common/training.js';
import { histogram, lineChart, writeChart } from './charts.js';

/** The targets the sine task is held to (issue 5). */
export const SINE_TARGETS = { oneStepMse: 1e-4, freeRunningMse: 1e-2 } as const;
/** Steps of free-running generation the report scores. */
export const FREE_RUNNING_STEPS = 1000;

export interface SineReportOptions {
  /** The model: a path to model.onnx, or an open session (left open). */
  model: string | TwnnSession;
  /** The sine task's window and series length, as in task.data. */
  data: { window: number; length?: number };
  /** Write sine.svg/.png, sweeps.svg/.png and report.json here; without it, only compute the numbers. */
  outDir?: string;
  /** Device when `model` is a path (default cpu). */
  device?: Device | string;
  /** Free-running steps (default 1000). */
  steps?: number;
}

/** A target and whether the model met it. */
export interface TargetResult {
  value: number;
  limit: number;
  pass: boolean;
}

/** What report.json holds. */
export interface SineReport {
  task: { kind: 'sine'; window: number; length: number };
  /** Mean squared error of the next-sample prediction over the test windows. */
  oneStep: { mse: number; samples: number };
  /** Generation from the first test window, compared with the true wave over the same steps. */
  freeRunning: { mse: number; steps: number; startIndex: number; maxAbsError: number };
  /** Fixed-point sweeps per test sample (1 for a model without an `iterations` output). */
  sweeps: { mean: number; max: number; min: number; counts: Record<string, number> };
  targets: { oneStepMse: TargetResult; freeRunningMse: TargetResult };
  /** Files written (relative to the report's folder), when an outDir was given. */
  files?: { waveSvg: string; wavePng: string; sweepsSvg: string; sweepsPng: string; json: string };
}

/**
 * Score a sine model and, with `outDir`, write its pictures and report.json.
 *
 * @example
 * const report = await sineReport({ model: 'exported/sine/model.onnx', data: { window: 16 }, outDir: 'exported/sine' });
 * console.log(formatSineReport(report, 'exported/sine'));
 */
export async function sineReport(options: SineReportOptions): Promise<SineReport> {
  const { window } = options.data;
  const length = options.data.length ?? SINE_LENGTH;
  const steps = options.steps ?? FREE_RUNNING_STEPS;
  if (!Number.isSafeInteger(steps) || steps < 1) throw new TwnnError(`sine report: steps must be a positive integer, got ${steps}`);
  const session = typeof options.model === 'string' ? await openSession(options.model, { ...(options.device !== undefined ? { device: options.device } : {}) }) : options.model;
  try {
    const oneStep = await scoreOneStep(session, window, length);
    // The first test window starts where the training windows end; the true wave continues past the series if need be.
    const startIndex = sineSplitSizes(length, window).train;
    const truth = sineSeries(startIndex + window + steps);
    const generated = await generate(session, truth.subarray(startIndex, startIndex + window), steps);
    let squared = 0;
    let maxAbsError = 0;
    for (let k = 0; k < steps; k++) {
      const e = generated.series[k] - truth[startIndex + window + k];
      squared += e * e;
      maxAbsError = Math.max(maxAbsError, Math.abs(e));
    }
    const freeRunningMse = squared / steps;
    const { sweeps } = oneStep;
    const report: SineReport = {
      task: { kind: 'sine', window, length },
      oneStep: { mse: oneStep.mse, samples: sweeps.length },
      freeRunning: { mse: freeRunningMse, steps, startIndex, maxAbsError },
      sweeps: { mean: mean(sweeps), max: Math.max(...sweeps), min: Math.min(...sweeps), counts: countsOf(sweeps) },
      targets: {
        oneStepMse: target(oneStep.mse, SINE_TARGETS.oneStepMse),
        freeRunningMse: target(freeRunningMse, SINE_TARGETS.freeRunningMse),
      },
    };
    if (options.outDir) report.files = await writeSineFiles(options.outDir, report, truth, generated.series, sweeps);
    return report;
  } finally {
    if (typeof options.model === 'string') await session.close();
  }
}

/**
 * The report as the lines `twnn train` and `twnn eval` print, with PASS/FAIL
 * per target and, when files were written, where they are (under `dir`).
 *
 * @example process.stdout.write(formatSineReport(report, 'exported/sine'));
 */
export function formatSineReport(report: SineReport, dir?: string): string {
  const { oneStep, freeRunning, sweeps, targets } = report;
  const verdict = (t: TargetResult) => `${t.pass ? 'PASS' : 'FAIL'} (target <= ${t.limit.toExponential()})`;
  const lines = [
    `sine: one-step test MSE ${sci(oneStep.mse)} over ${oneStep.samples} windows  ${verdict(targets.oneStepMse)}`,
    `sine: free-running MSE ${sci(freeRunning.mse)} over ${freeRunning.steps} steps from t = ${freeRunning.startIndex}  ${verdict(targets.freeRunningMse)}`,
    `sine: sweeps per test sample: mean ${sweeps.mean.toFixed(2)}, max ${sweeps.max}`,
  ];
  if (report.files) {
    const at = (f: string) => (dir ? join(dir, f) : f);
    lines.push(`sine: pictures ${at(report.files.wavePng)} (generated vs true wave), ${at(report.files.sweepsPng)} (sweeps); numbers ${at(report.files.json)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The test split's MSE (computed like `twnn eval`'s) and each test sample's sweeps (1 for a model without an `iterations` output). */
async function scoreOneStep(session: TwnnSession, window: number, length: number): Promise<{ mse: number; sweeps: number[] }> {
  const dtype = session.input('x')?.type === 'float64' ? 'float64' : 'float32';
  const totals = emptyTotals();
  const sweeps: number[] = [];
  for (const { x, target } of sequentialBatches(loadSine({ window, length, dtype }, 'test'), EVAL_BATCH)) {
    const out = await session.run({ x });
    checkFixedPoint(out, session.where);
    if (!out.y) throw new TwnnError(`${session.where}: the model has no output 'y' (its outputs are ${session.outputNames.join(', ')})`);
    accumulate(totals, 'mse', out.y, target, out.iterations);
    if (out.iterations) sweeps.push(...out.iterations.toNumbers());
    else for (let i = 0; i < target.shape[0]; i++) sweeps.push(1);
  }
  return { mse: totals.lossSum / totals.samples, sweeps };
}

async function writeSineFiles(dir: string, report: SineReport, truth: Float64Array, generated: Float64Array, sweeps: readonly number[]): Promise<NonNullable<SineReport['files']>> {
  const { startIndex, steps, mse } = report.freeRunning;
  const { window } = report.task;
  // The true wave over the seed and the generated steps; the generation from its first step.
  const trueT = Array.from({ length: window + steps }, (_, k) => startIndex + k);
  const genT = Array.from({ length: steps }, (_, k) => startIndex + window + k);
  const wave = await lineChart({
    title: `Free-running generation: ${steps} steps from the first test window (MSE ${sci(mse)})`,
    xLabel: 't (samples; 50 per period)',
    yLabel: 'sin(2πt/50)',
    width: 1200,
    height: 420,
    dashed: ['true wave'],
    series: [
      { name: 'true wave', x: trueT, y: Array.from(truth.subarray(startIndex, startIndex + window + steps)) },
      { name: 'generated', x: genT, y: Array.from(generated) },
    ],
  });
  const sweepChart = await histogram({
    title: `Fixed-point sweeps per test sample (mean ${report.sweeps.mean.toFixed(2)}, max ${report.sweeps.max})`,
    xLabel: 'sweeps',
    yLabel: 'test samples',
    values: sweeps,
    discrete: true,
  });
  await writeChart(join(dir, 'sine'), wave);
  await writeChart(join(dir, 'sweeps'), sweepChart);
  const files = { waveSvg: 'sine.svg', wavePng: 'sine.png', sweepsSvg: 'sweeps.svg', sweepsPng: 'sweeps.png', json: 'report.json' };
  await writeFileAtomic(join(dir, files.json), `${JSON.stringify({ ...report, files }, null, 2)}\n`);
  return files;
}

function target(value: number, limit: number): TargetResult {
  return { value, limit, pass: value <= limit };
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}

/** How many samples took each number of sweeps, keyed by the count. */
function countsOf(xs: readonly number[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const x of [...xs].sort((a, b) => a - b)) counts[String(x)] = (counts[String(x)] ?? 0) + 1;
  return counts;
}

/** Three significant digits in exponent form. @example sci(0.0000123456) // '1.23e-5' */
function sci(n: number): string {
  return Number.isFinite(n) ? n.toExponential(2) : String(n);
}
