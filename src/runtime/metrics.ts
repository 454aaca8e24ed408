// Losses and accuracy computed in JS from a model's `y` (evaluation), and the
// metrics.jsonl log a training run writes.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { fileError, writeFileAtomic } from '../common/files.js';
import { TwnnError } from '../common/errors.js';
import type { Tensor } from '../ir/tensor.js';
import { sequentialBatches, type Dataset } from '../data/batches.js';
import type { LossKind } from '../twnn/task.js';
import { addUnsettled, checkFixedPoint, unsettledSamples, type RegionLimits, type UnsettledSamples } from './guard.js';
import type { TwnnSession } from './session.js';
import { countSkips, skipRates, type SkipCounts, type SkipRate } from './skip-rates.js';

/** Sums over the samples seen so far; `evaluationResult` turns them into means. */
export interface EvalTotals {
  samples: number;
  /** Sum of per-sample losses (float64). */
  lossSum: number;
  /** Correctly classified samples (cross_entropy only). */
  correct: number;
  /** Sum and maximum of the per-sample `iterations` output (0 when the model has none). */
  iterationsSum: number;
  iterationsMax: number;
  /** Per region, the samples that ran out of sweeps unsettled (data-set indices; see `addUnsettled`). */
  unsettled: UnsettledSamples[];
  /** Per skip-gated block, the samples that skipped it. */
  skips: SkipCounts;
}

/** What an evaluation reports. */
export interface EvalResult {
  samples: number;
  loss: number;
  /** Fraction in [0, 1]; classification only. */
  accuracy?: number;
  iterationsMean: number;
  iterationsMax: number;
  /**
   * Per region whose counts the model outputs: how many samples ran all
   * maxIter sweeps without settling, and the first UNSETTLED_LISTED of their
   * data-set indices (count 0 for a region where every sample settled).
   */
  unsettled: UnsettledSamples[];
  /** Per skip-gated block (models that have them), the fraction of samples that skipped it. */
  skipRates: SkipRate[];
}

/** Empty totals. @example const totals = emptyTotals(); */
export function emptyTotals(): EvalTotals {
  return { samples: 0, lossSum: 0, correct: 0, iterationsSum: 0, iterationsMax: 0, unsettled: [], skips: {} };
}

/**
 * Add one batch of predictions to `totals`. `mse`: a sample's loss is the mean
 * of (y − target)² over its elements (so the dataset mean equals the training
 * graph's batch-mean MSE); `cross_entropy`: −log softmax(y)[label], with `y`
 * the logits `[B, C]` and `target` int64 labels `[B]`, computed in float64
 * with the log-sum-exp shift.
 *
 * @example accumulate(totals, 'mse', outputs.y, target, outputs.iterations);
 */
export function accumulate(totals: EvalTotals, loss: LossKind, y: Tensor, target: Tensor, iterations?: Tensor): void {
  const batch = y.shape[0];
  if (target.shape[0] !== batch) throw new TwnnError(`evaluation: y has ${batch} rows but the target ${target.shape[0]}`);
  const width = y.size / batch;
  const yv = y.data as Float32Array | Float64Array;
  if (loss === 'mse') {
    if (target.size !== y.size) throw new TwnnError(`evaluation: mse needs a target shaped like y [${y.shape.join(',')}], got [${target.shape.join(',')}]`);
    const tv = target.data as Float32Array | Float64Array;
    for (let b = 0; b < batch; b++) {
      let s = 0;
      for (let k = b * width; k < (b + 1) * width; k++) s += (yv[k] - tv[k]) ** 2;
      totals.lossSum += s / width;
    }
  } else {
    if (target.dtype !== 'int64' || target.size !== batch) {
      throw new TwnnError(`evaluation: cross_entropy needs int64 labels [${batch}], got ${target.dtype} [${target.shape.join(',')}]`);
    }
    for (let b = 0; b < batch; b++) {
      const label = Number((target.data as BigInt64Array)[b]);
      if (label < 0 || label >= width) throw new TwnnError(`evaluation: label ${label} is outside 0..${width - 1} (y has ${width} classes)`);
      let max = -Infinity;
      let arg = 0;
      for (let c = 0; c < width; c++) {
        const v = yv[b * width + c];
        if (v > max) {
          max = v;
          arg = c;
        }
      }
      let sum = 0;
      for (let c = 0; c < width; c++) sum += Math.exp(yv[b * width + c] - max);
      totals.lossSum += Math.log(sum) + max - yv[b * width + label];
      if (arg === label) totals.correct += 1;
    }
  }
  if (iterations) {
    for (const it of iterations.toNumbers()) {
      totals.iterationsSum += it;
      totals.iterationsMax = Math.max(totals.iterationsMax, it);
    }
  }
  totals.samples += batch;
}

/**
 * Means from totals.
 *
 * @example evaluationResult(totals, 'cross_entropy') // { samples: 10000, loss: 0.08, accuracy: 0.976, ... }
 */
export function evaluationResult(totals: EvalTotals, loss: LossKind): EvalResult {
  const n = Math.max(1, totals.samples);
  return {
    samples: totals.samples,
    loss: totals.lossSum / n,
    ...(loss === 'cross_entropy' ? { accuracy: totals.correct / n } : {}),
    iterationsMean: totals.iterationsSum / n,
    iterationsMax: totals.iterationsMax,
    unsettled: totals.unsettled.map((u) => ({ ...u, samples: [...u.samples] })),
    skipRates: skipRates(totals.skips),
  };
}

/** Mean of a tensor's elements (0 for an empty tensor). @example meanOf(outputs.iterations) // 2 */
export function meanOf(t: Tensor | undefined): number {
  if (!t || t.size === 0) return 0;
  let s = 0;
  for (const v of t.toNumbers()) s += v;
  return s / t.size;
}

/**
 * One line of metrics.jsonl: a step, or the end of an epoch (`kind`). The
 * unsettled counts are absent from logs written before twnn counted them.
 */
export type MetricsRecord =
  | {
      kind: 'step';
      epoch: number;
      step: number;
      lr: number;
      /** The task loss (without any Jacobian penalty). */
      loss: number;
      iterations: number;
      iterations_backward: number;
      /** Samples of the batch that ran out of sweeps unsettled in some region (train.onnx's `unsettled` > 0). */
      unsettled?: number;
      /** train.onnx's `jacobian_penalty`, where a region has `jacobianPenalty` > 0. */
      jacobian_penalty?: number;
      /** train.onnx's `skip_cost`, where skip-gated blocks have a cost: γ·mean(s) summed over them. */
      skip_cost?: number;
      /** train.onnx's `fp_correction` with task.train.fpCorrection: each term's task loss, earliest iterate first. */
      fp_correction?: number[];
      samples_per_s: number;
    }
  | {
      kind: 'epoch';
      epoch: number;
      step: number;
      train_loss: number;
      test_loss: number;
      test_accuracy?: number;
      test_iterations: number;
      /** The sum of the epoch's steps' `unsettled`. */
      unsettled?: number;
      /** Unsettled test samples, summed over the regions. */
      test_unsettled?: number;
      /** With `train --spectral`: per region, the spectral radius of dF/dS at the fixed point over a fixed test batch (src/runtime/spectral.ts). */
      spectral_radius?: Record<string, { mean: number; max: number }>;
      seconds: number;
    };

/**
 * Check a classification data set's labels against the model's classes
 * before training starts (issue 13): a label outside 0..classes-1 would
 * otherwise surface only at the first evaluation, after a full epoch.
 *
 * @example checkLabels(data.train, 10); // throws for a label 10
 */
export function checkLabels(data: Dataset, classes: number): void {
  const labels = data.target.data as BigInt64Array;
  for (let i = 0; i < labels.length; i++) {
    const label = Number(labels[i]);
    if (label < 0 || label >= classes) {
      throw new TwnnError(
        `${data.name}: label ${label} (row ${i}) is outside 0..${classes - 1}: the model's output y has ${classes} classes; ` +
          'fix the labels, or give the head as many outputs as there are classes',
      );
    }
  }
}

/**
 * The append-only metrics.jsonl of a run: one JSON object per line.
 *
 * @example
 * const log = new MetricsLog('runs/sine/metrics.jsonl');
 * log.write({ kind: 'step', epoch: 1, step: 1, loss: 0.5, iterations: 1, iterations_backward: 0, samples_per_s: 9000 });
 */
export class MetricsLog {
  constructor(readonly path: string) {}

  /** Append one record (synchronously, so a crash loses at most the line being written). */
  write(record: MetricsRecord): void {
    try {
      appendFileSync(this.path, `${JSON.stringify(record)}\n`);
    } catch (err) {
      throw fileError('write', this.path, err);
    }
  }

  /**
   * Start the log of a run: empty for a fresh run; for a resumed one, keep
   * only the lines up to the checkpoint's step, since the steps after it are
   * about to be run again.
   */
  async start(resumeAtStep: number | undefined): Promise<void> {
    if (resumeAtStep === undefined || !existsSync(this.path)) {
      await writeFileAtomic(this.path, '');
      return;
    }
    const kept = readMetrics(this.path).filter((r) => r.step <= resumeAtStep);
    await writeFileAtomic(this.path, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
  }
}

/**
 * The records of a metrics.jsonl file (a torn last line, from a crash, is skipped).
 *
 * @example readMetrics('runs/sine/metrics.jsonl').filter((r) => r.kind === 'epoch')
 */
export function readMetrics(path: string): MetricsRecord[] {
  const records: MetricsRecord[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line) as MetricsRecord);
    } catch {
      // Only the last line can be torn (appends are sequential); everything before it is intact.
    }
  }
  return records;
}

/**
 * Evaluate an inference session (inputs `x`; outputs `y` and optionally
 * `iterations`) on a data set in order, `batch` rows at a time; the loss is
 * computed here, in JS, from `y`. With the model's `regions` (from
 * `regionLimits`), samples that ran out of sweeps unsettled are counted per
 * region with their data-set indices; whatever a region's onMaxIter, deciding
 * what to do about them is the caller's (`checkSettled`). A non-finite
 * residual is an error at once. With `skipGates` (`skipThresholds` of the
 * model), how often each skip-gated block was skipped.
 *
 * @example const result = await evaluate(session, await loadTaskData({ kind: 'mnist', layout: 'flat' }, 'test'), 'cross_entropy', 256); // result.loss, result.accuracy
 */
export async function evaluate(
  session: TwnnSession,
  data: Dataset,
  loss: LossKind,
  batch: number,
  regions: readonly RegionLimits[] = [],
  skipGates: Readonly<Record<string, number>> = {},
): Promise<EvalResult> {
  const totals = emptyTotals();
  for (const { x, target } of sequentialBatches(data, batch)) {
    const out = await session.run({ x });
    checkFixedPoint(out, session.where, regions.map((r) => r.region));
    if (!out.y) throw new TwnnError(`${session.where}: the model has no output 'y' (its outputs are ${session.outputNames.join(', ')})`);
    const offset = totals.samples;
    addUnsettled(totals.unsettled, unsettledSamples(out, regions), (b) => offset + b);
    accumulate(totals, loss, out.y, target, out.iterations);
    countSkips(totals.skips, out, skipGates);
  }
  return evaluationResult(totals, loss);
}
