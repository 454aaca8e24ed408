import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError, Graph, Tensor, TwnnError } from '../../src/ir/index.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { matmul, mul } from '../../src/ops/index.js';
import { openSession, type TwnnSession } from '../../src/runtime/session.js';

const W = [1, -2, 0.5, 3, -1, 4]; // [3,2], row-major

/** y = (x·W)·scale and echo = count: a model whose outputs are known in closed form. */
function tinyModel(): Uint8Array {
  const g = new Graph('tiny');
  const x = g.input('x', 'float32', ['B', 3]);
  const scale = g.input('scale', 'float32', []);
  const count = g.input('count', 'int64', ['B']);
  const w = g.initializer('W', Tensor.fromNumbers('float32', [3, 2], W));
  g.output('y', mul(g, matmul(g, x, w), scale));
  g.output('echo', count);
  return serializeModel(g);
}

/** x·W·s computed here, in float64. */
function expectedY(x: number[], s: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < x.length / 3; b++) {
    for (let j = 0; j < 2; j++) {
      let acc = 0;
      for (let k = 0; k < 3; k++) acc += x[b * 3 + k] * W[k * 2 + j];
      out.push(acc * s);
    }
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'twnn-session-'));
let session: TwnnSession;
const x = Tensor.fromNumbers('float32', [2, 3], [1, 2, 3, -1, 0.5, 2]);
const scale = Tensor.scalar(0.5, 'float32');
const count = Tensor.fromNumbers('int64', [2], [7, -40]);

beforeAll(async () => {
  session = await openSession(tinyModel(), { device: 'cpu', where: 'tiny.onnx' });
});
afterAll(async () => {
  await session.close();
  rmSync(dir, { recursive: true, force: true });
});

it('exposes input and output names and metadata', () => {
  expect(session.inputNames).toEqual(['x', 'scale', 'count']);
  expect(session.outputNames).toEqual(['y', 'echo']);
  expect(session.inputs).toEqual([
    { name: 'x', type: 'float32', shape: ['B', 3] },
    { name: 'scale', type: 'float32', shape: [] },
    { name: 'count', type: 'int64', shape: ['B'] },
  ]);
});

it('runs and returns twnn Tensors matching the closed form', async () => {
  const out = await session.run({ x, scale, count });
  expect(out.y.dtype).toBe('float32');
  expect(out.y.shape).toEqual([2, 2]);
  out.y.toNumbers().forEach((v, i) => expect(v).toBeCloseTo(expectedY(x.toNumbers(), 0.5)[i], 5));
  expect(out.echo.dtype).toBe('int64');
  expect(Array.from(out.echo.data as BigInt64Array)).toEqual([7n, -40n]);
});

describe('feed validation', () => {
  it('rejects an unknown feed name, listing the inputs (onnxruntime would ignore it)', async () => {
    await expect(session.run({ x, scale, count, W: Tensor.zeros('float32', [3, 2]) })).rejects.toThrow(
      "tiny.onnx: 'W' is not an input of the model; its inputs are x: float32[B,3], scale: float32[], count: int64[B]",
    );
  });

  it('rejects missing inputs, naming them', async () => {
    await expect(session.run({ x })).rejects.toThrow('tiny.onnx: missing inputs scale: float32[], count: int64[B]');
  });

  it('rejects a wrong dtype', async () => {
    await expect(session.run({ x: Tensor.zeros('float64', [2, 3]), scale, count })).rejects.toThrow(
      "tiny.onnx: input 'x' expects float32, got float64",
    );
  });

  it('rejects a wrong rank, naming both shapes', async () => {
    await expect(session.run({ x, scale: Tensor.fromNumbers('float32', [1], [0.5]), count })).rejects.toThrow(
      "tiny.onnx: input 'scale' expects shape [] (rank 0), got [1] (rank 1)",
    );
  });

  it('rejects a wrong static dimension, naming both shapes', async () => {
    await expect(session.run({ x: Tensor.zeros('float32', [2, 4]), scale, count })).rejects.toThrow(
      "tiny.onnx: input 'x' expects shape [B,3], got [2,4] (dimension 1 must be 3)",
    );
  });

  it('rejects inconsistent sizes for one symbolic dimension', async () => {
    await expect(session.run({ x, scale, count: Tensor.zeros('int64', [3]) })).rejects.toThrow(
      "tiny.onnx: input 'count' expects shape [B], got [3]: dimension B is 3 here but 2 in input 'x'",
    );
  });

  it('errors are TwnnErrors', async () => {
    await expect(session.run({})).rejects.toBeInstanceOf(TwnnError);
  });
});

describe('opening', () => {
  it('opens a model file by path and names it in errors', async () => {
    const file = join(dir, 'tiny.onnx');
    writeFileSync(file, tinyModel());
    const s = await openSession(file);
    await expect(s.run({ x })).rejects.toThrow(`${file}: missing inputs`);
    expect((await s.run({ x, scale, count })).echo.toNumbers()).toEqual([7, -40]);
    await s.close();
  });

  it.each([
    ['missing', null, /missing.onnx: cannot read ONNX file \(no such file\)/],
    ['empty', new Uint8Array(0), /empty.onnx: empty file, not an ONNX model/],
    ['truncated', tinyModel().subarray(0, 60), /truncated.onnx: corrupt or truncated ONNX file/],
    ['text', new TextEncoder().encode('{"not": "onnx"}\n'), /text.onnx: (corrupt or truncated ONNX file|not an ONNX model)/],
  ])('a %s file is a FormatError naming it', async (name, bytes, message) => {
    const file = join(dir, `${name}.onnx`);
    if (bytes) writeFileSync(file, bytes);
    await expect(openSession(file)).rejects.toBeInstanceOf(FormatError);
    await expect(openSession(file)).rejects.toThrow(message);
  });

  it('a cuda device without the CUDA EP fails before loading anything, with the install hint', async () => {
    await expect(openSession(tinyModel(), { device: 'cuda', nativeDir: dir })).rejects.toThrow(
      /--device cuda:0: onnxruntime-node's CUDA execution provider is not installed .*npm run cuda:install/,
    );
  });
});
