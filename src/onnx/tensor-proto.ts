import { dtypeBytes, dtypeFromOnnx, FormatError, ONNX_DTYPE_CODE, onnxDTypeName, Tensor, allocate } from '../ir/index.js';
import { onnx, toNumber, type OnnxTypes } from './proto.js';

/**
 * A TensorProto with little-endian `raw_data`, as docs/DESIGN.md §3 requires.
 *
 * @example tensorToProto(Tensor.scalar(1, 'float32'), 'one').rawData.length // 4
 */
export function tensorToProto(t: Tensor, name?: string): OnnxTypes.ITensorProto {
  const bytes = new Uint8Array(t.size * dtypeBytes(t.dtype));
  const view = new DataView(bytes.buffer);
  const w = dtypeBytes(t.dtype);
  for (let i = 0; i < t.size; i++) {
    const o = i * w;
    switch (t.dtype) {
      case 'float32': view.setFloat32(o, t.data[i] as number, true); break;
      case 'float64': view.setFloat64(o, t.data[i] as number, true); break;
      case 'int64': view.setBigInt64(o, t.data[i] as bigint, true); break;
      case 'int32': view.setInt32(o, t.data[i] as number, true); break;
      case 'uint8':
      case 'bool': view.setUint8(o, t.data[i] as number); break;
    }
  }
  const proto: OnnxTypes.ITensorProto = { dims: [...t.shape], dataType: ONNX_DTYPE_CODE[t.dtype] };
  if (name !== undefined) proto.name = name;
  proto.rawData = bytes;
  return proto;
}

/**
 * Read a TensorProto (raw_data or the typed repeated fields) into a Tensor.
 * Tensors of types twnn does not handle, or stored externally, are a FormatError.
 */
export function tensorFromProto(p: OnnxTypes.ITensorProto, where: string): Tensor {
  const dtype = dtypeFromOnnx(p.dataType ?? 0);
  if (!dtype) throw new FormatError(`${where}: tensor '${p.name ?? ''}' has unsupported dtype ${onnxDTypeName(p.dataType ?? 0)}`);
  if (p.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new FormatError(`${where}: tensor '${p.name ?? ''}' is stored in an external file, which twnn does not read`);
  }
  const shape = (p.dims ?? []).map(toNumber);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = allocate(dtype, n);
  if (p.rawData && p.rawData.length > 0) {
    const w = dtypeBytes(dtype);
    if (p.rawData.length !== n * w) {
      throw new FormatError(`${where}: tensor '${p.name ?? ''}' has ${p.rawData.length} bytes of raw_data, expected ${n * w}`);
    }
    const view = new DataView(p.rawData.buffer, p.rawData.byteOffset, p.rawData.byteLength);
    for (let i = 0; i < n; i++) {
      const o = i * w;
      switch (dtype) {
        case 'float32': data[i] = view.getFloat32(o, true); break;
        case 'float64': data[i] = view.getFloat64(o, true); break;
        case 'int64': data[i] = view.getBigInt64(o, true); break;
        case 'int32': data[i] = view.getInt32(o, true); break;
        default: data[i] = view.getUint8(o);
      }
    }
    return new Tensor(dtype, shape, data);
  }
  const typed: ArrayLike<unknown> =
    dtype === 'float32' ? p.floatData ?? [] :
    dtype === 'float64' ? p.doubleData ?? [] :
    dtype === 'int64' ? p.int64Data ?? [] :
    p.int32Data ?? [];
  if (typed.length !== n) {
    throw new FormatError(`${where}: tensor '${p.name ?? ''}' has ${typed.length} values, expected ${n} for shape [${shape.join(',')}]`);
  }
  for (let i = 0; i < n; i++) {
    const v = typed[i] as number | { toNumber(): number };
    if (data instanceof BigInt64Array) data[i] = BigInt(toNumber(v));
    else data[i] = toNumber(v);
  }
  return new Tensor(dtype, shape, data);
}
