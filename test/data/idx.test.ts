import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseIdx, readIdxFile } from '../../src/data/idx.js';
import { encodeIdx } from '../helpers/idx.js';
import { FormatError } from '../../src/common/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-idx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An IDX file spelt out byte by byte, as the format's description gives it. */
function handWritten(): Uint8Array {
  return Uint8Array.of(
    0x00, 0x00, 0x08, 0x02, // magic: uint8, rank 2
    0x00, 0x00, 0x00, 0x02, // 2 rows
    0x00, 0x00, 0x00, 0x03, // 3 columns
    1, 2, 3, 250, 251, 252,
  );
}

describe('IDX parsing', () => {
  it('reads the header and the data of a hand-written uint8 file', () => {
    const a = parseIdx(handWritten(), 'hand');
    expect(a.type).toBe('uint8');
    expect(a.shape).toEqual([2, 3]);
    expect(Array.from(a.data)).toEqual([1, 2, 3, 250, 251, 252]);
  });

  it('reads big-endian multi-byte types', () => {
    // int16 [2]: 0x0102 = 258 and 0xfffe = -2, big-endian.
    const int16 = parseIdx(Uint8Array.of(0, 0, 0x0b, 1, 0, 0, 0, 2, 0x01, 0x02, 0xff, 0xfe), 'i16');
    expect(int16.type).toBe('int16');
    expect(Array.from(int16.data)).toEqual([258, -2]);
    // float32 [1]: 0x3fc00000 = 1.5.
    const f32 = parseIdx(Uint8Array.of(0, 0, 0x0d, 1, 0, 0, 0, 1, 0x3f, 0xc0, 0, 0), 'f32');
    expect(Array.from(f32.data)).toEqual([1.5]);
  });

  it('round-trips every type through encodeIdx', () => {
    const cases = [
      { type: 'int8', data: Int8Array.of(-128, 0, 127) },
      { type: 'int32', data: Int32Array.of(-2147483648, 7, 2147483647) },
      { type: 'float64', data: Float64Array.of(Math.PI, -0, 1e-300) },
    ] as const;
    for (const c of cases) {
      const back = parseIdx(encodeIdx({ type: c.type, shape: [3], data: c.data }), c.type);
      expect(back.type).toBe(c.type);
      expect(Array.from(back.data)).toEqual(Array.from(c.data));
    }
  });

  it('reads files from disk', async () => {
    const path = join(dir, 'small-idx2-ubyte');
    writeFileSync(path, handWritten());
    expect((await readIdxFile(path)).shape).toEqual([2, 3]);
  });

  it.each([
    ['a bad magic', Uint8Array.of(0x12, 0x34, 0x08, 0x01, 0, 0, 0, 1, 5), /bad magic 12 34 08 01/],
    ['an unknown type byte', Uint8Array.of(0, 0, 0x07, 1, 0, 0, 0, 1, 5), /unknown type byte 0x07/],
    ['a truncated header', Uint8Array.of(0, 0, 0x08, 3, 0, 0, 0, 1), /declares 3 dimensions .* \(truncated\)/],
    ['truncated data', handWritten().subarray(0, 15), /needs 6 data bytes, the file has 3 \(truncated\)/],
    ['trailing bytes', Uint8Array.of(...handWritten(), 9), /needs 6 data bytes, the file has 7/],
    ['an empty file', new Uint8Array(0), /shorter than the 4-byte magic/],
  ])('rejects %s with a FormatError naming the file', async (_, bytes, message) => {
    const path = join(dir, 'corrupt-idx-ubyte');
    writeFileSync(path, bytes);
    const err = await readIdxFile(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toMatch(message);
  });

  it('names a missing file', async () => {
    const path = join(dir, 'nope-idx1-ubyte');
    await expect(readIdxFile(path)).rejects.toThrow(`${path}: cannot read IDX file (no such file)`);
  });
});
