// Writing IDX files (MNIST's format) for small test fixtures. The type codes
// are written out here from the format, not taken from src/data/idx.ts, so a
// wrong code in the reader fails the round-trip test instead of agreeing with it.
import type { IdxArray } from '../../src/data/idx.js';

const TYPE_CODES: Record<IdxArray['type'], { code: number; width: number }> = {
  uint8: { code: 0x08, width: 1 },
  int8: { code: 0x09, width: 1 },
  int16: { code: 0x0b, width: 2 },
  int32: { code: 0x0c, width: 4 },
  float32: { code: 0x0d, width: 4 },
  float64: { code: 0x0e, width: 8 },
};

/** An array as IDX bytes: magic `0 0 <type> <rank>`, big-endian uint32 sizes, big-endian data. */
export function encodeIdx(array: IdxArray): Uint8Array {
  const { code, width } = TYPE_CODES[array.type];
  const header = 4 + 4 * array.shape.length;
  const out = new Uint8Array(header + array.data.length * width);
  const view = new DataView(out.buffer);
  out[2] = code;
  out[3] = array.shape.length;
  array.shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < array.data.length; i++) {
    const at = header + i * width;
    const v = array.data[i];
    switch (array.type) {
      case 'uint8': view.setUint8(at, v); break;
      case 'int8': view.setInt8(at, v); break;
      case 'int16': view.setInt16(at, v, false); break;
      case 'int32': view.setInt32(at, v, false); break;
      case 'float32': view.setFloat32(at, v, false); break;
      case 'float64': view.setFloat64(at, v, false); break;
    }
  }
  return out;
}
