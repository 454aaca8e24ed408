/** Element types twnn builds graphs with (a subset of ONNX's TensorProto.DataType). */
export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'uint8' | 'bool';

/** ONNX TensorProto.DataType codes. */
export const ONNX_DTYPE_CODE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int32: 6,
  int64: 7,
  bool: 9,
  float64: 11,
};

const BY_CODE = new Map<number, DType>(
  Object.entries(ONNX_DTYPE_CODE).map(([name, code]) => [code, name as DType]),
);

/**
 * The twnn dtype for an ONNX TensorProto.DataType code, or undefined for types
 * twnn does not build with (float16, strings, ...).
 *
 * @example dtypeFromOnnx(1) // 'float32'
 */
export function dtypeFromOnnx(code: number): DType | undefined {
  return BY_CODE.get(code);
}

/** Name of any ONNX TensorProto.DataType code, for messages about foreign models. */
export function onnxDTypeName(code: number): string {
  const names = [
    'undefined', 'float32', 'uint8', 'int8', 'uint16', 'int16', 'int32', 'int64', 'string', 'bool',
    'float16', 'float64', 'uint32', 'uint64', 'complex64', 'complex128', 'bfloat16',
  ];
  return names[code] ?? `dtype#${code}`;
}

export const FLOAT_DTYPES: readonly DType[] = ['float32', 'float64'];

/** Every dtype twnn handles: what ops that move data without computing on it (Gather, Loop, Cast, ...) accept. */
export const ALL_DTYPES: readonly DType[] = ['float32', 'float64', 'int64', 'int32', 'bool', 'uint8'];

/** @example isFloat('float64') // true */
export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

/** Bytes per element in raw_data. */
export function dtypeBytes(dtype: DType): number {
  switch (dtype) {
    case 'float64':
    case 'int64':
      return 8;
    case 'float32':
    case 'int32':
      return 4;
    case 'uint8':
    case 'bool':
      return 1;
  }
}

/**
 * A byte count for people: `512 B`, `2.0 KiB`, `16.0 TiB`.
 *
 * @example formatBytes(2048) // '2.0 KiB'
 */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) [n, i] = [n / 1024, i + 1];
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}
