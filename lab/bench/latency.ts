// The cost of inference at batch 1 for "easy" and "hard" inputs (the paper's
// claim that easy inputs are processed more quickly): the samples a model
// settles fastest against those it iterates longest, timed in the same run.
import { gatherRows, type Dataset } from '../../src/data/batches.js';
import { TwnnError } from '../../src/common/errors.js';
import type { TwnnSession } from '../../src/runtime/session.js';
import { mean, median } from './stats.js';

/** One group's timing. */
export interface LatencyGroup {
  /** Data set rows, in the order chosen. */
  rows: number[];
  /** Mean sweeps of the group (from the batch evaluation). */
  sweepsMean: number;
  /** Median over the group of each sample's median time, in milliseconds (robust to a stray slow run on a shared machine). */
  msPerSample: number;
}

export interface EasyHardLatency {
  easy: LatencyGroup;
  hard: LatencyGroup;
  /** hard.msPerSample / easy.msPerSample. */
  timeRatio: number;
  /** hard.sweepsMean / easy.sweepsMean. */
  sweepRatio: number;
  /** Timed runs per sample (the median is kept). */
  repeats: number;
}

export interface LatencyOptions {
  /** Samples per group (default 100). */
  count?: number;
  /** Timed runs per sample (default 3). */
  repeats?: number;
}

/**
 * Time batch-1 inference of the `count` samples with the fewest sweeps
 * against the `count` with the most (ties broken by row, so the choice is
 * reproducible). Easy and hard runs alternate, sample by sample, so both
 * groups see the same machine load; each sample's time is the median of
 * `repeats` runs after one untimed warm-up pass, a group's the median of those.
 *
 * @example const l = await easyHardLatency(session, test, perSample.sweeps); // l.timeRatio
 */
export async function easyHardLatency(session: TwnnSession, data: Dataset, sweeps: ArrayLike<number>, options: LatencyOptions = {}): Promise<EasyHardLatency> {
  const count = options.count ?? 100;
  const repeats = options.repeats ?? 3;
  const n = data.x.shape[0];
  if (sweeps.length !== n) throw new TwnnError(`easyHardLatency: ${sweeps.length} sweep counts for ${n} samples`);
  if (2 * count > n) throw new TwnnError(`easyHardLatency: ${count} easy and ${count} hard samples need at least ${2 * count} samples, the data set has ${n}`);
  const byRow = Array.from({ length: n }, (_, i) => i);
  const easyRows = [...byRow].sort((a, b) => sweeps[a] - sweeps[b] || a - b).slice(0, count);
  const hardRows = [...byRow].sort((a, b) => sweeps[b] - sweeps[a] || a - b).slice(0, count);
  const inputs = (rows: number[]) => rows.map((r) => gatherRows(data.x, [r]));
  const easyX = inputs(easyRows);
  const hardX = inputs(hardRows);

  const timeOne = async (x: (typeof easyX)[number]) => {
    const start = performance.now();
    await session.run({ x });
    return performance.now() - start;
  };
  for (let k = 0; k < count; k++) {
    await timeOne(easyX[k]);
    await timeOne(hardX[k]);
  }
  const easyTimes = easyRows.map(() => [] as number[]);
  const hardTimes = hardRows.map(() => [] as number[]);
  for (let r = 0; r < repeats; r++) {
    for (let k = 0; k < count; k++) {
      easyTimes[k].push(await timeOne(easyX[k]));
      hardTimes[k].push(await timeOne(hardX[k]));
    }
  }
  const group = (rows: number[], times: number[][]): LatencyGroup => ({
    rows,
    sweepsMean: mean(rows.map((r) => sweeps[r])),
    msPerSample: median(times.map(median)),
  });
  const easy = group(easyRows, easyTimes);
  const hard = group(hardRows, hardTimes);
  return { easy, hard, timeRatio: hard.msPerSample / easy.msPerSample, sweepRatio: hard.sweepsMean / easy.sweepsMean, repeats };
}
