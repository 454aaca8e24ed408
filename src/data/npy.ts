import type { DType } from '../ir/dtype.js';
import { FormatError } from '../common/errors.js';
import { allocate, Tensor } from '../ir/tensor.js';

// The NPY format (numpy/lib/format.py): magic, version, little-endian header
// length (u16 in v1.0, u32 in v2.0/3.0), a Python dict literal padded with
// spaces and '\n' so the data starts on a 64-byte boundary, then the raw data.
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64;

/** The descr numpy writes for each twnn dtype (little-endian; one-byte types have no byte order). */
const DESCR: Record<DType, string> = {
  float32: '<f4',
  float64: '<f8',
  int64: '<i8',
  int32: '<i4',
  uint8: '|u1',
  bool: '|b1',
};
const BY_DESCR = new Map(Object.entries(DESCR).map(([dtype, descr]) => [descr, dtype as DType]));

/**
 * Read a `.npy` file's bytes (NPY v1.0, v2.0 or v3.0, C order, dtypes
 * <f4 <f8 <i8 <i4 |u1 |b1). `where` names the file in errors.
 *
 * @example
 * const x = readNpy(await readFile('x.npy'), 'x.npy'); // Tensor float32 [4,16]
 */
export function readNpy(bytes: Uint8Array, where: string): Tensor {
  const fail = (why: string) => new FormatError(`'${where}' is not a readable .npy file: ${why}`);
  if (bytes.length < 10 || !MAGIC.every((b, i) => bytes[i] === b)) throw fail('it does not start with the NPY magic \\x93NUMPY');
  const major = bytes[6];
  if (major < 1 || major > 3) throw fail(`unknown format version ${major}.${bytes[7]} (twnn reads 1.0, 2.0 and 3.0)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) throw fail('the header is truncated');
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lengthBytes + headerLength;
  if (dataStart > bytes.length) throw fail(`the header claims ${headerLength} bytes but the file has ${bytes.length - 8 - lengthBytes} after it`);
  const headerBytes = bytes.subarray(8 + lengthBytes, dataStart);
  // v1/v2 headers are latin1, v3 utf8; everything twnn accepts is ASCII either way.
  const header = major === 3 ? new TextDecoder().decode(headerBytes) : Array.from(headerBytes, (c) => String.fromCharCode(c)).join('');
  const { descr, fortranOrder, shape } = parseHeader(header, fail);

  if (fortranOrder) throw new FormatError(`'${where}': Fortran-order arrays are not supported; save it in C order (np.ascontiguousarray)`);
  // One-byte types have no byte order; accept any marker numpy might put there.
  const dtype = BY_DESCR.get(/^[<>=|][ub]1$/.test(descr) ? `|${descr.slice(1)}` : descr);
  if (!dtype) {
    const bigEndian = /^>[a-z]\d+$/.test(descr);
    throw new FormatError(
      `'${where}': ${bigEndian ? `big-endian dtype '${descr}' is not supported; convert it with a.astype(a.dtype.newbyteorder('<'))` : `dtype '${descr}' is not supported`}` +
        ` (twnn reads ${[...BY_DESCR.keys()].join(' ')})`,
    );
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const width = byteWidth(dtype);
  const dataBytes = bytes.length - dataStart;
  if (dataBytes !== count * width) {
    throw fail(`shape (${shape.join(', ')}) of ${descr} needs ${count * width} data bytes, the file has ${dataBytes}${dataBytes < count * width ? ' (truncated)' : ''}`);
  }
  return new Tensor(dtype, shape, decodeData(dtype, view, dataStart, count));
}

/**
 * Encode a tensor as a `.npy` file (v1.0, or v2.0 when the header needs more
 * than 65535 bytes), as numpy's own `np.save` would.
 *
 * @example await writeFile('y.npy', writeNpy(y));
 */
export function writeNpy(t: Tensor): Uint8Array {
  const shapeText = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  const dict = `{'descr': '${DESCR[t.dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  let major = 1;
  let prefix = 10;
  // Pad with spaces to the alignment, ending in '\n' (numpy's layout).
  let padded = padHeader(dict, prefix);
  if (padded.length > 0xffff) {
    major = 2;
    prefix = 12;
    padded = padHeader(dict, prefix);
  }
  const width = byteWidth(t.dtype);
  const out = new Uint8Array(prefix + padded.length + t.size * width);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, padded.length, true);
  else view.setUint32(8, padded.length, true);
  for (let i = 0; i < padded.length; i++) out[prefix + i] = padded.charCodeAt(i);
  encodeData(t, view, prefix + padded.length);
  return out;
}

/** Bytes per element: the number in the descr ('<f8' -> 8). */
function byteWidth(dtype: DType): number {
  return Number(DESCR[dtype].slice(2));
}

function padHeader(dict: string, prefix: number): string {
  const total = Math.ceil((prefix + dict.length + 1) / ALIGN) * ALIGN;
  return dict + ' '.repeat(total - prefix - dict.length - 1) + '\n';
}

interface Header {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

/** Parse the header dict: the three keys numpy writes, in any order, and nothing else. */
function parseHeader(header: string, fail: (why: string) => FormatError): Header {
  const text = header.trim();
  if (!text.startsWith('{') || !text.endsWith('}')) throw fail(`the header is not a dict: ${JSON.stringify(text.slice(0, 80))}`);
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw fail(`the header lacks 'descr', 'fortran_order' or 'shape': ${JSON.stringify(text.slice(0, 120))}`);
  }
  const parts = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const shape = parts.map((p) => {
    // numpy may write 3L on Python 2.
    const n = /^(\d+)L?$/.exec(p);
    if (!n) throw fail(`bad shape (${shapeText})`);
    return Number(n[1]);
  });
  return { descr, fortranOrder: fortran === 'True', shape };
}

function decodeData(dtype: DType, view: DataView, start: number, count: number) {
  const data = allocate(dtype, count);
  for (let i = 0; i < count; i++) {
    switch (dtype) {
      case 'float32': data[i] = view.getFloat32(start + 4 * i, true); break;
      case 'float64': data[i] = view.getFloat64(start + 8 * i, true); break;
      case 'int64': data[i] = view.getBigInt64(start + 8 * i, true); break;
      case 'int32': data[i] = view.getInt32(start + 4 * i, true); break;
      case 'uint8': data[i] = view.getUint8(start + i); break;
      case 'bool': data[i] = view.getUint8(start + i) === 0 ? 0 : 1; break;
    }
  }
  return data;
}

function encodeData(t: Tensor, view: DataView, start: number): void {
  for (let i = 0; i < t.size; i++) {
    const v = t.data[i];
    switch (t.dtype) {
      case 'float32': view.setFloat32(start + 4 * i, v as number, true); break;
      case 'float64': view.setFloat64(start + 8 * i, v as number, true); break;
      case 'int64': view.setBigInt64(start + 8 * i, v as bigint, true); break;
      case 'int32': view.setInt32(start + 4 * i, v as number, true); break;
      case 'uint8': view.setUint8(start + i, v as number); break;
      case 'bool': view.setUint8(start + i, v ? 1 : 0); break;
    }
  }
}
