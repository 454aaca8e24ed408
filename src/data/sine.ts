// Paper Task B: a sine wave, cut into windows that predict the next sample.
//
// The series is s[t] = sin(t · 2π/50), t = 0..length-1: 50 samples per period,
// amplitude 1, fine enough that a window of 16 sees about a third of a period.
// Window k is s[k..k+window) and its target s[k+window], for k = 0..length-window-1.
// The first 80% of the windows (in time order) are the training split and the
// rest the test split; shuffling happens only within the training split.
import { TwnnError } from '../common/errors.js';
import { floatTensor, makeDataset, type Dataset } from './batches.js';

/** Radians per sample: 50 samples per period. */
export const SINE_STEP = (2 * Math.PI) / 50;
/** At most this many window values (2^27: 1 GiB in float64) are loaded, 10^4 times what the paper's series needs. */
export const MAX_SINE_VALUES = 2 ** 27;

/** Paper Table IV: sequence length 10000. */
export const SINE_LENGTH = 10000;
/** Fraction of the windows, from the start, that form the training split. */
export const SINE_TRAIN_FRACTION = 0.8;

export interface SineOptions {
  /** Samples per input window. */
  window: number;
  /** Length of the series (default 10000). */
  length?: number;
  /** Float type of the tensors (default float32). */
  dtype?: 'float32' | 'float64';
}

/**
 * The raw series `sin(t · 2π/50)` for t = 0..length-1, in float64 (the start
 * of autoregressive generation, and the reference to compare it with).
 *
 * @example sineSeries(3) // Float64Array [0, 0.1253..., 0.2486...]
 */
export function sineSeries(length: number = SINE_LENGTH): Float64Array {
  const s = new Float64Array(length);
  for (let t = 0; t < length; t++) s[t] = Math.sin(t * SINE_STEP);
  return s;
}

/**
 * How many windows go to training and how many to test.
 *
 * @example sineSplitSizes(10000, 16) // { train: 7987, test: 1997 }
 */
export function sineSplitSizes(length: number, window: number): { train: number; test: number } {
  const windows = length - window;
  const train = Math.floor(windows * SINE_TRAIN_FRACTION);
  return { train, test: windows - train };
}

/**
 * One split of the sine task: `x` `[N, window]`, `target` `[N, 1]` (like the
 * model's `y`).
 *
 * @example
 * const train = loadSine({ window: 16 }, 'train');
 * train.x.shape // [7987, 16]
 */
export function loadSine(options: SineOptions, split: 'train' | 'test'): Dataset {
  const { window } = options;
  const length = options.length ?? SINE_LENGTH;
  if (!Number.isInteger(window) || window < 1) throw new TwnnError(`sine data: window must be a positive integer, got ${window}`);
  if (!Number.isInteger(length) || length < window + 2) {
    throw new TwnnError(`sine data: length must be an integer of at least window + 2 = ${window + 2} (one train and one test window), got ${length}`);
  }
  // A hand-edited manifest once asked for 3e8 samples, and V8 died allocating them (issue 23, item 4).
  if ((length - window) * window > MAX_SINE_VALUES) {
    throw new TwnnError(
      `sine data: length ${length} with window ${window} makes ${length - window} windows of ${window} values, more than the ${MAX_SINE_VALUES} values twnn loads (the paper's series has length ${SINE_LENGTH})`,
    );
  }
  const sizes = sineSplitSizes(length, window);
  if (sizes.train < 1 || sizes.test < 1) throw new TwnnError(`sine data: length ${length} with window ${window} leaves an empty split`);
  const series = sineSeries(length);
  const first = split === 'train' ? 0 : sizes.train;
  const n = split === 'train' ? sizes.train : sizes.test;
  const x = new Float64Array(n * window);
  const target = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const k = first + i;
    x.set(series.subarray(k, k + window), i * window);
    target[i] = series[k + window];
  }
  const dtype = options.dtype ?? 'float32';
  return makeDataset(`sine/${split}`, floatTensor(dtype, [n, window], x), floatTensor(dtype, [n, 1], target));
}
