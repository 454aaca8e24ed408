// Re-evaluating a trained classifier sample by sample through onnxruntime:
// what the report's accuracy, dynamic-depth histogram and correlations are
// computed from (never from numbers a training run logged).
import { sequentialBatches, type Dataset } from '../../src/data/batches.js';
import { TwnnError } from '../../src/common/errors.js';
import { checkFixedPoint } from '../../src/runtime/guard.js';
import type { TwnnSession } from '../../src/runtime/session.js';

/** One classifier's per-sample results on a data set, in data set order. */
export interface PerSample {
  samples: number;
  /** 1 where the arg-max class is the label, else 0. */
  correct: Uint8Array;
  /** The largest softmax probability (the model's confidence). */
  confidence: Float64Array;
  /** −log softmax(y)[label]. */
  loss: Float64Array;
  /** Sweeps each sample ran, summed over the regions (1 for a network without regions). */
  sweeps: Int32Array;
  /** Each region's sweeps, by region name (only when the model outputs `iterations.<region>`). */
  regionSweeps: Record<string, Int32Array>;
}

/**
 * Run `session` (outputs `y` logits `[B, C]`, optionally `iterations` and
 * `iterations.<region>`) over `data` `batch` rows at a time and keep each
 * sample's correctness, confidence, loss and sweeps. A non-finite residual is
 * an error (checkFixedPoint), never a prediction.
 *
 * @example const r = await perSampleResults(session, test, 256); // r.correct, r.sweeps
 */
export async function perSampleResults(session: TwnnSession, data: Dataset, batch: number): Promise<PerSample> {
  const n = data.x.shape[0];
  const result: PerSample = {
    samples: n,
    correct: new Uint8Array(n),
    confidence: new Float64Array(n),
    loss: new Float64Array(n),
    sweeps: new Int32Array(n).fill(1),
    regionSweeps: {},
  };
  const regionOutputs = session.outputNames.filter((o) => o.startsWith('iterations.'));
  for (const o of regionOutputs) result.regionSweeps[o.slice('iterations.'.length)] = new Int32Array(n);
  let at = 0;
  for (const { x, target } of sequentialBatches(data, batch)) {
    const out = await session.run({ x });
    checkFixedPoint(out, session.where);
    const y = out.y;
    if (!y || y.shape.length !== 2) throw new TwnnError(`${session.where}: needs an output 'y' of logits [B, classes], got ${y ? `[${y.shape.join(',')}]` : 'none'}`);
    if (target.dtype !== 'int64') throw new TwnnError(`${data.name}: per-sample results need int64 class labels, got ${target.dtype}`);
    const rows = y.shape[0];
    const classes = y.shape[1];
    const logits = y.data as Float32Array | Float64Array;
    const labels = target.data as BigInt64Array;
    for (let b = 0; b < rows; b++) {
      const row = logits.subarray(b * classes, (b + 1) * classes);
      const label = Number(labels[b]);
      let max = -Infinity;
      let arg = 0;
      for (let c = 0; c < classes; c++) {
        if (row[c] > max) {
          max = row[c];
          arg = c;
        }
      }
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += Math.exp(row[c] - max);
      result.correct[at + b] = arg === label ? 1 : 0;
      result.confidence[at + b] = 1 / sum;
      result.loss[at + b] = Math.log(sum) + max - row[label];
    }
    if (out.iterations) result.sweeps.set(out.iterations.toNumbers(), at);
    for (const o of regionOutputs) result.regionSweeps[o.slice('iterations.'.length)].set(out[o].toNumbers(), at);
    at += rows;
  }
  return result;
}

/** Fraction of correct samples. @example accuracyOf(r) // 0.9812 */
export function accuracyOf(r: PerSample): number {
  let c = 0;
  for (const v of r.correct) c += v;
  return c / Math.max(1, r.samples);
}
