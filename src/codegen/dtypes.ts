// Element types a generated wrapper can carry: the typed array onnxruntime-node
// takes and returns for each. The names are ONNX's as `inspectModel` reports
// them, which are also onnxruntime's `Tensor.Type` names.

/**
 * The JS typed array of each supported element type. float16/bfloat16 have no
 * JS array in Node 20, strings and complex numbers no typed array at all.
 */
export const ARRAY_TYPES: Readonly<Record<string, string>> = {
  float32: 'Float32Array',
  float64: 'Float64Array',
  int8: 'Int8Array',
  int16: 'Int16Array',
  int32: 'Int32Array',
  int64: 'BigInt64Array',
  uint8: 'Uint8Array',
  uint16: 'Uint16Array',
  uint32: 'Uint32Array',
  uint64: 'BigUint64Array',
  // onnxruntime-node holds bool tensors as one byte per element.
  bool: 'Uint8Array',
};

/** The supported element types, for messages. */
export const SUPPORTED_DTYPES: readonly string[] = Object.keys(ARRAY_TYPES);

/**
 * The typed array for an element type, or undefined when a wrapper cannot carry it.
 *
 * @example arrayTypeFor('int64') // 'BigInt64Array'
 * @example arrayTypeFor('float16') // undefined
 */
export function arrayTypeFor(dtype: string): string | undefined {
  return Object.hasOwn(ARRAY_TYPES, dtype) ? ARRAY_TYPES[dtype] : undefined;
}
