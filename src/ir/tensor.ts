import type { DType } from './dtype.js';
import { TwnnError } from '../common/errors.js';
import { numel } from './shape.js';

export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

/**
 * A concrete array: initializers, Constant values, runtime feeds and fetches.
 * `bool` is stored as a Uint8Array of 0/1, `int64` as a BigInt64Array.
 *
 * @example
 * const w = Tensor.fromNumbers('float32', [2, 2], [1, 0, 0, 1]);
 * w.get(3) // 1
 */
export class Tensor {
  constructor(
    readonly dtype: DType,
    readonly shape: readonly number[],
    readonly data: TensorData,
  ) {
    const n = numel(shape)!;
    if (data.length !== n) {
      throw new TwnnError(`tensor of shape [${shape.join(',')}] needs ${n} elements, got ${data.length}`);
    }
  }

  /** Allocate a zero tensor. */
  static zeros(dtype: DType, shape: readonly number[]): Tensor {
    return new Tensor(dtype, shape, allocate(dtype, numel(shape)!));
  }

  /** A tensor from plain numbers (int64 values are converted to bigint). */
  static fromNumbers(dtype: DType, shape: readonly number[], values: ArrayLike<number>): Tensor {
    const data = allocate(dtype, values.length);
    if (data instanceof BigInt64Array) for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
    else data.set(values as ArrayLike<number>);
    return new Tensor(dtype, shape, data);
  }

  /** A rank-0 tensor. @example Tensor.scalar(0.5, 'float64') */
  static scalar(value: number, dtype: DType): Tensor {
    return Tensor.fromNumbers(dtype, [], [value]);
  }

  get size(): number {
    return this.data.length;
  }

  /** Element `i` of the flat data as a JS number. */
  get(i: number): number {
    return Number(this.data[i]);
  }

  /** All elements as JS numbers. */
  toNumbers(): number[] {
    return Array.from(this.data as ArrayLike<number | bigint>, Number);
  }
}

/** A zero-filled typed array of the right class for `dtype`. */
export function allocate(dtype: DType, length: number): TensorData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(length);
    case 'float64':
      return new Float64Array(length);
    case 'int64':
      return new BigInt64Array(length);
    case 'int32':
      return new Int32Array(length);
    case 'uint8':
    case 'bool':
      return new Uint8Array(length);
  }
}
