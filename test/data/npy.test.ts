import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../src/data/npy.js';
import { FormatError, Tensor, type DType } from '../../src/ir/index.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-npy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run a Python snippet with Debian's numpy (the `python3` first on PATH lacks it). */
function python(code: string): string {
  const r = spawnSync('/usr/bin/python3', ['-c', code], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout;
}

/** A v1.0 file with the given header dict and no data. */
function headerOnly(dict: string): Uint8Array {
  const header = new TextEncoder().encode(`${dict}\n`);
  const out = new Uint8Array(10 + header.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(header, 10);
  return out;
}

// The same values on both sides: element i is a formula in i, evaluated by
// numpy in Python (`np`) and by the test here (`value`).
const CASES: { dtype: DType; npType: string; np: string; value: (i: number) => number }[] = [
  { dtype: 'float32', npType: 'np.float32', np: 'i * 0.25 - 1.5', value: (i) => Math.fround(i * 0.25 - 1.5) },
  { dtype: 'float64', npType: 'np.float64', np: 'i / 3 - 2', value: (i) => i / 3 - 2 },
  { dtype: 'int64', npType: 'np.int64', np: 'i * 1000003 - 7', value: (i) => i * 1000003 - 7 },
  { dtype: 'int32', npType: 'np.int32', np: '5 - i * 3', value: (i) => 5 - i * 3 },
  { dtype: 'uint8', npType: 'np.uint8', np: '(i * 37) % 256', value: (i) => (i * 37) % 256 },
  { dtype: 'bool', npType: 'np.bool_', np: 'i % 3 == 0', value: (i) => (i % 3 === 0 ? 1 : 0) },
];

describe.each(CASES)('npy $dtype', ({ dtype, npType, np, value }) => {
  const shape = [2, 3, 4];
  const n = 24;
  const expected = Array.from({ length: n }, (_, i) => value(i));
  const npArray = `np.asarray(${np}).astype(${npType}).reshape(${shape.join(',')})`;
  const npPrelude = `import numpy as np\nfrom numpy.lib import format as f\ni = np.arange(${n}, dtype=np.float64)\n`;

  it.each([1, 2, 3])('reads a numpy-written v%i.0 file', (major) => {
    const file = join(dir, `${dtype}-v${major}.npy`);
    python(`${npPrelude}with open('${file}', 'wb') as fh: f.write_array(fh, ${npArray}, version=(${major}, 0))`);
    const t = readNpy(readFileSync(file), file);
    expect(t.dtype).toBe(dtype);
    expect(t.shape).toEqual(shape);
    expect(t.toNumbers()).toEqual(expected);
  });

  it('writes what numpy reads back, byte-identical to np.save', () => {
    const file = join(dir, `${dtype}-ours.npy`);
    const t = Tensor.fromNumbers(dtype, shape, expected);
    writeFileSync(file, writeNpy(t));
    const out = JSON.parse(
      python(
        `import numpy as np, json\na = np.load('${file}')\n` +
          `print(json.dumps({"dtype": a.dtype.name, "shape": list(a.shape), "values": a.ravel().astype(np.float64).tolist()}))`,
      ),
    );
    expect(out.dtype).toBe(dtype);
    expect(out.shape).toEqual(shape);
    expect(out.values).toEqual(expected);
    const ref = join(dir, `${dtype}-np.npy`);
    python(`${npPrelude}np.save('${ref}', ${npArray})`);
    expect(Buffer.from(writeNpy(t)).equals(readFileSync(ref))).toBe(true);
  });

  it('round-trips through writeNpy and readNpy', () => {
    const t = Tensor.fromNumbers(dtype, shape, expected);
    const back = readNpy(writeNpy(t), 'mem.npy');
    expect(back.dtype).toBe(dtype);
    expect(back.shape).toEqual(shape);
    expect(back.toNumbers()).toEqual(expected);
  });
});

it('round-trips a scalar and an empty array the way numpy writes them', () => {
  const scalarFile = join(dir, 'scalar.npy');
  const emptyFile = join(dir, 'empty.npy');
  python(`import numpy as np\nnp.save('${scalarFile}', np.float64(2.5))\nnp.save('${emptyFile}', np.zeros((0, 3), np.float32))`);
  const s = readNpy(readFileSync(scalarFile), scalarFile);
  expect(s.shape).toEqual([]);
  expect(s.toNumbers()).toEqual([2.5]);
  expect(Buffer.from(writeNpy(s)).equals(readFileSync(scalarFile))).toBe(true);
  const e = readNpy(readFileSync(emptyFile), emptyFile);
  expect(e.shape).toEqual([0, 3]);
  expect(Buffer.from(writeNpy(e)).equals(readFileSync(emptyFile))).toBe(true);
});

describe('npy errors name the file', () => {
  const save = (name: string, expr: string) => {
    const file = join(dir, name);
    python(`import numpy as np\nnp.save('${file}', ${expr})`);
    return file;
  };
  const read = (file: string) => () => readNpy(readFileSync(file), file);

  it('rejects Fortran order', () => {
    const file = save('fortran.npy', 'np.asfortranarray(np.ones((2, 3), np.float32))');
    expect(read(file)).toThrow(FormatError);
    expect(read(file)).toThrow(/fortran.npy.*Fortran-order.*C order/);
  });

  it('rejects big-endian data', () => {
    const file = save('big.npy', "np.ones(3, dtype='>f4')");
    expect(read(file)).toThrow(/big.npy.*big-endian dtype '>f4'/);
  });

  it('rejects dtypes twnn does not read', () => {
    const file = save('complex.npy', 'np.ones(3, np.complex64)');
    expect(read(file)).toThrow(/complex.npy.*dtype '<c8' is not supported.*<f4 <f8 <i8 <i4 \|u1 \|b1/);
  });

  it('rejects a foreign file, corrupt headers and truncated data', () => {
    const good = writeNpy(Tensor.fromNumbers('float32', [4], [1, 2, 3, 4]));
    expect(() => readNpy(new TextEncoder().encode('[1, 2, 3]'), 'x.json')).toThrow(/'x.json' is not a readable .npy file: .*magic/);
    const corrupt = Uint8Array.from(good);
    corrupt.set(new TextEncoder().encode('garbage!'), 10);
    expect(() => readNpy(corrupt, 'corrupt.npy')).toThrow(/'corrupt.npy' is not a readable .npy file: the header is not a dict/);
    expect(() => readNpy(good.subarray(0, good.length - 3), 'short.npy')).toThrow(/'short.npy'.*needs 16 data bytes, the file has 13 \(truncated\)/);
    expect(() => readNpy(good.subarray(0, 40), 'cut.npy')).toThrow(/'cut.npy'.*header claims/);
    const noShape = headerOnly("{'descr': '<f4', 'fortran_order': False, }");
    expect(() => readNpy(noShape, 'noshape.npy')).toThrow(/'noshape.npy'.*lacks 'descr', 'fortran_order' or 'shape'/);
    const badShape = headerOnly("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }");
    expect(() => readNpy(badShape, 'badshape.npy')).toThrow(/'badshape.npy'.*bad shape/);
  });
});
