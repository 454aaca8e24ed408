// Datasets as row-major tensors, seeded per-epoch shuffling and mini-batches.
import { TwnnError } from '../common/errors.js';
import { allocate, Tensor } from '../ir/tensor.js';
import { Rng } from '../common/rng.js';

/** Examples along axis 0 of both tensors: inputs `x` and what the loss compares `y` with. */
export interface Dataset {
  /** Names the data in messages and reports (`mnist/test`, `sine/train`). */
  name: string;
  x: Tensor;
  /** Float like `y` for regression, int64 class labels `[N]` for classification. */
  target: Tensor;
}

/**
 * A dataset of `x` and `target` rows, checked to have the same number of rows.
 *
 * @example const d = makeDataset('toy', x, target);
 */
export function makeDataset(name: string, x: Tensor, target: Tensor): Dataset {
  if (x.shape.length === 0 || target.shape.length === 0) throw new TwnnError(`${name}: x and target need a leading example axis`);
  if (x.shape[0] !== target.shape[0]) throw new TwnnError(`${name}: x has ${x.shape[0]} examples but target has ${target.shape[0]}`);
  return { name, x, target };
}

/** Number of examples. @example datasetSize(mnistTest) // 10000 */
export function datasetSize(d: Dataset): number {
  return d.x.shape[0];
}

/**
 * The example order of one epoch: a Fisher–Yates shuffle of `0..size-1` drawn
 * from a generator seeded by (seed, epoch) alone. Deriving each epoch's order
 * from its number means the whole shuffle state is `{ seed, epoch }`: a resumed
 * run recomputes exactly the order the interrupted run was walking.
 *
 * @example shuffledOrder(5, 0, 1) // a permutation of 0..4, the same on every call
 */
export function shuffledOrder(size: number, seed: number, epoch: number): Uint32Array {
  const order = new Uint32Array(size);
  for (let i = 0; i < size; i++) order[i] = i;
  const rng = new Rng(`twnn:shuffle:${seed}:${epoch}`);
  for (let i = size - 1; i > 0; i--) {
    // next() has 53 random bits: the modulo bias of floor(u·(i+1)) is below 2^-30 for any dataset size.
    const j = Math.floor(rng.next() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Batches per epoch, the last one partial when `batch` does not divide `size`. @example batchCount(10, 4) // 3 */
export function batchCount(size: number, batch: number): number {
  if (!Number.isInteger(batch) || batch < 1) throw new TwnnError(`batch size must be a positive integer, got ${batch}`);
  return Math.ceil(size / batch);
}

/**
 * The example indices of batch `index` in `order` (the last batch keeps the remainder).
 *
 * @example batchRows(Uint32Array.of(3, 1, 0, 2), 1, 3) // Uint32Array [2]
 */
export function batchRows(order: Uint32Array, index: number, batch: number): Uint32Array {
  return order.subarray(index * batch, Math.min(order.length, (index + 1) * batch));
}

/**
 * The rows `rows` of `t` (along axis 0), stacked into a new tensor.
 *
 * @example gatherRows(Tensor.fromNumbers('float32', [3, 2], [1, 2, 3, 4, 5, 6]), [2, 0]).toNumbers() // [5, 6, 1, 2]
 */
export function gatherRows(t: Tensor, rows: ArrayLike<number>): Tensor {
  const width = t.shape.slice(1).reduce((a, b) => a * b, 1);
  const out = allocate(t.dtype, rows.length * width);
  for (let r = 0; r < rows.length; r++) {
    const from = rows[r] * width;
    // subarray + set copies a row in one native call (and works for BigInt64Array too).
    (out as Float32Array).set((t.data as Float32Array).subarray(from, from + width), r * width);
  }
  return new Tensor(t.dtype, [rows.length, ...t.shape.slice(1)], out);
}

/**
 * The `x` and `target` of one mini-batch.
 *
 * @example const { x, target } = takeBatch(train, batchRows(order, 0, 64));
 */
export function takeBatch(d: Dataset, rows: ArrayLike<number>): { x: Tensor; target: Tensor } {
  return { x: gatherRows(d.x, rows), target: gatherRows(d.target, rows) };
}

/**
 * Consecutive batches in dataset order (for evaluation, where order does not matter).
 *
 * @example for (const { x, target } of sequentialBatches(test, 256)) { ... }
 */
export function* sequentialBatches(d: Dataset, batch: number): Generator<{ x: Tensor; target: Tensor; rows: number }> {
  const size = datasetSize(d);
  const n = batchCount(size, batch);
  for (let i = 0; i < n; i++) {
    const start = i * batch;
    const rows = Array.from({ length: Math.min(batch, size - start) }, (_, k) => start + k);
    yield { ...takeBatch(d, rows), rows: rows.length };
  }
}

/**
 * A float tensor of `dtype` from plain numbers (data are computed in float64
 * and stored in the model's float type).
 *
 * @example floatTensor('float32', [2, 1], [0.5, -1]).dtype // 'float32'
 */
export function floatTensor(dtype: 'float32' | 'float64', shape: readonly number[], values: ArrayLike<number>): Tensor {
  const data = dtype === 'float32' ? Float32Array.from(values) : Float64Array.from(values);
  return new Tensor(dtype, shape, data);
}
