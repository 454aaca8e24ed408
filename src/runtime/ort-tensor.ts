import * as ort from 'onnxruntime-node';
import type { DType } from '../ir/dtype.js';
import { TwnnError } from '../common/errors.js';
import { Tensor, type TensorData } from '../ir/tensor.js';

/** onnxruntime tensor types that twnn has a dtype for (twnn's names are onnxruntime's). */
const TWNN_DTYPES: ReadonlySet<string> = new Set<DType>(['float32', 'float64', 'int64', 'int32', 'uint8', 'bool']);

/**
 * The twnn dtype for an onnxruntime tensor type, or undefined (float16, int8, string, ...).
 *
 * @example dtypeFromOrt('int64') // 'int64'
 */
export function dtypeFromOrt(type: string): DType | undefined {
  return TWNN_DTYPES.has(type) ? (type as DType) : undefined;
}

/**
 * A twnn Tensor as an onnxruntime-node tensor (sharing its data).
 *
 * @example toOrtTensor(Tensor.fromNumbers('float32', [2], [1, 2])).dims // [2]
 */
export function toOrtTensor(t: Tensor): ort.Tensor {
  return new ort.Tensor(t.dtype, t.data as never, [...t.shape]);
}

/**
 * An onnxruntime-node output as a twnn Tensor; `name` is for the error on a
 * type twnn does not handle.
 *
 * @example fromOrtTensor(new ort.Tensor('float32', new Float32Array([1]), [1]), 'y').toNumbers() // [1]
 */
export function fromOrtTensor(v: ort.Tensor, name: string): Tensor {
  const dtype = dtypeFromOrt(v.type);
  if (!dtype) throw new TwnnError(`output '${name}' has type ${v.type}, which twnn does not read (it reads ${[...TWNN_DTYPES].join(', ')})`);
  return new Tensor(dtype, v.dims.map(Number), v.data as TensorData);
}
