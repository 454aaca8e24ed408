import { afterAll, describe, expect, it } from 'vitest';
import { Graph, Tensor, type DType, type Shape } from '../../src/ir/index.js';
import {
  add,
  concat,
  constantOfShape,
  expand,
  flatten,
  gather,
  reshape,
  shapeOf,
  slice,
  squeeze,
  symbolicContents,
  transpose,
  unsqueeze,
} from '../../src/ops/index.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { expectOnnxValid } from '../helpers/onnx-checker.js';
import { runGraph } from '../helpers/ort.js';

// Every model these tests run also goes through onnx's checker, in one batch at the end.
const ranModels: Uint8Array[] = [];
afterAll(() => expectOnnxValid(ranModels));

/** 0, 1, 2, ... as a tensor of `shape`. */
function iota(dtype: DType, shape: readonly number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.fromNumbers(dtype, shape, Array.from({ length: n }, (_, i) => i));
}

/** Runtime dims must equal the IR's: numbers exactly, named symbols as bound in `dims`; `?N` dims match anything. */
function expectShapeAgrees(ir: Shape, actual: readonly number[], dims: Record<string, number>, what: string): void {
  expect(actual.length, `${what}: rank`).toBe(ir.length);
  ir.forEach((d, i) => {
    if (typeof d === 'number') expect(actual[i], `${what}: dim ${i}`).toBe(d);
    else if (!d.startsWith('?')) expect(actual[i], `${what}: dim ${i} (${d})`).toBe(dims[d]);
  });
}

/**
 * Run through onnxruntime and check every output's runtime dtype and shape against the IR's.
 * (helpers/assert.ts runAndCheckShapes requires every symbol bound; Loop scans and -1 reshapes have fresh `?N` dims.)
 */
async function run(g: Graph, feeds: Record<string, Tensor>, dims: Record<string, number> = {}): Promise<Record<string, Tensor>> {
  const out = await runGraph(g, feeds);
  ranModels.push(serializeModel(g));
  for (const v of g.outputs) {
    expect(out[v.name].dtype, `${v.name}: dtype`).toBe(v.dtype);
    expectShapeAgrees(v.shape, out[v.name].shape, dims, v.name);
  }
  return out;
}

describe.each<DType>(['float32', 'float64'])('shape ops %s', (dtype) => {
  it('Reshape copies a symbolic batch with 0 and infers -1', async () => {
    const g = new Graph('reshape');
    const x = g.input('x', dtype, ['B', 4, 4]);
    const y = reshape(g, x, [0, -1]);
    const z = reshape(g, x, [-1, 16]);
    expect(y.shape).toEqual(['B', 16]);
    expect(z.shape).toEqual(['B', 16]);
    g.output('y', y);
    g.output('z', z);
    const feed = iota(dtype, [2, 4, 4]);
    const out = await run(g, { x: feed }, { B: 2 });
    expect(out.y.toNumbers()).toEqual(feed.toNumbers());
    expect(out.z.toNumbers()).toEqual(feed.toNumbers());
  });

  it('Reshape gives a fresh dim where -1 is a multiple of the batch', async () => {
    const g = new Graph('reshape_fresh');
    const x = g.input('x', dtype, ['B', 3, 4]);
    const y = reshape(g, x, [-1, 6]);
    expect(y.shape).toEqual([expect.stringMatching(/^\?/), 6]);
    g.output('y', y);
    const out = await run(g, { x: iota(dtype, [2, 3, 4]) }, { B: 2 });
    expect(out.y.shape).toEqual([4, 6]);
    expect(out.y.toNumbers()).toEqual(iota(dtype, [24]).toNumbers());
  });

  it('Reshape to a shape computed from Shape keeps the batch symbol', async () => {
    const g = new Graph('reshape_dynamic');
    const x = g.input('x', dtype, ['B', 4, 4]);
    const target = concat(g, [shapeOf(g, x, 0, 1), g.constant(Tensor.fromNumbers('int64', [1], [16]))], 0);
    expect(symbolicContents(target)).toEqual(['B', 16]);
    const y = reshape(g, x, target);
    expect(y.shape).toEqual(['B', 16]);
    g.output('y', y);
    const out = await run(g, { x: iota(dtype, [3, 4, 4]) }, { B: 3 });
    expect(out.y.toNumbers()).toEqual(iota(dtype, [48]).toNumbers());
  });

  it('Expand and Reshape to shapes assembled from Gather and Unsqueeze of Shape', async () => {
    const g = new Graph('assembled');
    const x = g.input('x', dtype, ['B', 4, 4]);
    const bias = g.input('bias', dtype, [16]);
    const batch = gather(g, shapeOf(g, x), 0);
    expect(batch.shape).toEqual([]);
    const target = concat(g, [unsqueeze(g, batch, [0]), g.constant(Tensor.fromNumbers('int64', [1], [-1]))], 0);
    expect(symbolicContents(target)).toEqual(['B', -1]);
    const flat = reshape(g, x, target);
    const tiled = expand(g, bias, shapeOf(g, flat));
    expect([flat.shape, tiled.shape]).toEqual([['B', 16], ['B', 16]]);
    g.output('y', add(g, flat, tiled));
    const out = await run(g, { x: iota(dtype, [2, 4, 4]), bias: iota(dtype, [16]) }, { B: 2 });
    expect(out.y.toNumbers()).toEqual(Array.from({ length: 32 }, (_, i) => i + (i % 16)));
  });

  it('Flatten at axis 0, 1 and -1', async () => {
    const g = new Graph('flatten');
    const x = g.input('x', dtype, ['B', 2, 3]);
    g.output('f0', flatten(g, x, 0));
    g.output('f1', flatten(g, x, 1));
    g.output('fm1', flatten(g, x, -1));
    expect(g.outputs.map((v) => v.shape)).toEqual([[1, expect.stringMatching(/^\?/)], ['B', 6], [expect.stringMatching(/^\?/), 3]]);
    const feed = iota(dtype, [2, 2, 3]);
    const out = await run(g, { x: feed }, { B: 2 });
    expect(out.f0.shape).toEqual([1, 12]);
    expect(out.f1.shape).toEqual([2, 6]);
    expect(out.fm1.shape).toEqual([4, 3]);
    expect(out.f1.toNumbers()).toEqual(feed.toNumbers());
  });

  it('Transpose with the default (reversed) and an explicit perm', async () => {
    const g = new Graph('transpose');
    const x = g.input('x', dtype, ['B', 2, 3]);
    g.output('rev', transpose(g, x));
    g.output('swap', transpose(g, x, [0, 2, 1]));
    expect(g.outputs.map((v) => v.shape)).toEqual([[3, 2, 'B'], ['B', 3, 2]]);
    const out = await run(g, { x: iota(dtype, [1, 2, 3]) }, { B: 1 });
    expect(out.rev.toNumbers()).toEqual([0, 3, 1, 4, 2, 5]);
    expect(out.swap.toNumbers()).toEqual([0, 3, 1, 4, 2, 5]);
  });

  it('Concat along a static axis keeps B; along B it gives a fresh dim', async () => {
    const g = new Graph('concat');
    const a = g.input('a', dtype, ['B', 2]);
    const b = g.input('b', dtype, ['B', 1]);
    const c = g.input('c', dtype, [1, 2]);
    g.output('wide', concat(g, [a, b, a], 1));
    g.output('tall', concat(g, [a, c], 0));
    expect(g.outputs.map((v) => v.shape)).toEqual([['B', 5], [expect.stringMatching(/^\?/), 2]]);
    const out = await run(
      g,
      {
        a: Tensor.fromNumbers(dtype, [2, 2], [1, 2, 3, 4]),
        b: Tensor.fromNumbers(dtype, [2, 1], [9, 8]),
        c: Tensor.fromNumbers(dtype, [1, 2], [7, 6]),
      },
      { B: 2 },
    );
    expect(out.wide.toNumbers()).toEqual([1, 2, 9, 1, 2, 3, 4, 8, 3, 4]);
    expect(out.tall.shape).toEqual([3, 2]);
    expect(out.tall.toNumbers()).toEqual([1, 2, 3, 4, 7, 6]);
  });

  it('Slice with negative, clamped, INT64-max and negative-step bounds', async () => {
    const g = new Graph('slice');
    const x = g.input('x', dtype, [4, 5]);
    // rows -3.. end, cols 1..100 (clamped to 5)
    g.output('inner', slice(g, x, [-3, 1], [Infinity, 100], [0, 1]));
    // cols from the last backwards in steps of 2, to before the first
    g.output('backwards', slice(g, x, [-1], [-Infinity], [1], [-2]));
    // start -100 clamps to 0
    g.output('head', slice(g, x, [-100], [2]));
    g.output('empty', slice(g, x, [3], [1], [1]));
    expect(g.outputs.map((v) => v.shape)).toEqual([[3, 4], [4, 3], [2, 5], [4, 0]]);
    const out = await run(g, { x: iota(dtype, [4, 5]) });
    expect(out.inner.toNumbers()).toEqual([6, 7, 8, 9, 11, 12, 13, 14, 16, 17, 18, 19]);
    expect(out.backwards.toNumbers()).toEqual([4, 2, 0, 9, 7, 5, 14, 12, 10, 19, 17, 15]);
    expect(out.head.toNumbers()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(out.empty.toNumbers()).toEqual([]);
  });

  it('Slice keeps a symbolic dim sliced to the end and slices the static one', async () => {
    const g = new Graph('slice_sym');
    const x = g.input('x', dtype, ['B', 5]);
    const y = slice(g, x, [0, 1], [Infinity, -1], [0, 1]);
    expect(y.shape).toEqual(['B', 3]);
    g.output('y', y);
    const out = await run(g, { x: iota(dtype, [2, 5]) }, { B: 2 });
    expect(out.y.toNumbers()).toEqual([1, 2, 3, 6, 7, 8]);
  });

  it('Expand broadcasts both ways', async () => {
    const g = new Graph('expand');
    const bias = g.input('bias', dtype, [3]);
    const col = g.input('col', dtype, ['B', 1]);
    g.output('rows', expand(g, bias, [2, 3]));
    g.output('cols', expand(g, col, [1, 4]));
    expect(g.outputs.map((v) => v.shape)).toEqual([[2, 3], ['B', 4]]);
    const out = await run(
      g,
      { bias: Tensor.fromNumbers(dtype, [3], [1, 2, 3]), col: Tensor.fromNumbers(dtype, [2, 1], [5, 6]) },
      { B: 2 },
    );
    expect(out.rows.toNumbers()).toEqual([1, 2, 3, 1, 2, 3]);
    expect(out.cols.toNumbers()).toEqual([5, 5, 5, 5, 6, 6, 6, 6]);
  });

  it('Shape, Gather, Unsqueeze, Squeeze', async () => {
    const g = new Graph('helpers');
    const x = g.input('x', dtype, ['B', 3]);
    g.output('shape', shapeOf(g, x));
    g.output('tail', shapeOf(g, x, 1));
    g.output('cols', gather(g, x, [2, 0], 1));
    g.output('col1', gather(g, x, 1, 1));
    const u = unsqueeze(g, x, [0, -1]);
    g.output('u', u);
    g.output('s', squeeze(g, u, [0, 3]));
    g.output('sall', squeeze(g, u));
    expect(g.outputs.map((v) => v.shape)).toEqual([[2], [1], ['B', 2], ['B'], [1, 'B', 3, 1], ['B', 3], ['B', 3]]);
    const feed = iota(dtype, [2, 3]);
    const out = await run(g, { x: feed }, { B: 2 });
    expect(out.shape.toNumbers()).toEqual([2, 3]);
    expect(out.tail.toNumbers()).toEqual([3]);
    expect(out.cols.toNumbers()).toEqual([2, 0, 5, 3]);
    expect(out.col1.toNumbers()).toEqual([1, 4]);
    expect(out.u.toNumbers()).toEqual(feed.toNumbers());
    expect(out.s.toNumbers()).toEqual(feed.toNumbers());
    expect(out.sall.toNumbers()).toEqual(feed.toNumbers());
  });

  it('ConstantOfShape from a runtime shape broadcasts with its source', async () => {
    const g = new Graph('const_of_shape');
    const x = g.input('x', dtype, ['B', 3]);
    const sevens = constantOfShape(g, shapeOf(g, x), 7, dtype);
    expect(sevens.shape).toEqual(['B', 3]);
    g.output('y', add(g, x, sevens));
    g.output('ones', constantOfShape(g, [2, 2], 1, 'int64'));
    const out = await run(g, { x: iota(dtype, [2, 3]) }, { B: 2 });
    expect(out.y.toNumbers()).toEqual([7, 8, 9, 10, 11, 12]);
    expect(out.ones.dtype).toBe('int64');
    expect(out.ones.toNumbers()).toEqual([1, 1, 1, 1]);
  });
});

describe.each<DType>(['int64', 'int32', 'bool', 'uint8'])('shape ops on %s', (dtype) => {
  it('Reshape, Transpose, Concat, Slice, Expand, Gather keep dtype and values', async () => {
    const g = new Graph('non_float');
    const x = g.input('x', dtype, ['B', 2]);
    g.output('r', reshape(g, x, [-1]));
    g.output('t', transpose(g, x));
    g.output('c', concat(g, [x, x], 1));
    g.output('s', slice(g, x, [1], [2], [1]));
    g.output('e', expand(g, slice(g, x, [0], [1], [1]), [1, 3]));
    g.output('g', gather(g, x, [1], 1));
    const values = [1, 0, 0, 1, 1, 1];
    const out = await run(g, { x: Tensor.fromNumbers(dtype, [3, 2], values) }, { B: 3 });
    expect(Object.values(out).every((t) => t.dtype === dtype)).toBe(true);
    expect(out.r.toNumbers()).toEqual(values);
    expect(out.t.toNumbers()).toEqual([1, 0, 1, 0, 1, 1]);
    expect(out.c.toNumbers()).toEqual([1, 0, 1, 0, 0, 1, 0, 1, 1, 1, 1, 1]);
    expect(out.s.toNumbers()).toEqual([0, 1, 1]);
    expect(out.e.toNumbers()).toEqual([1, 1, 1, 0, 0, 0, 1, 1, 1]);
    expect(out.g.toNumbers()).toEqual([0, 1, 1]);
  });
});

describe('shape op build errors', () => {
  it('Reshape to an incompatible total names the op and both shapes', () => {
    const g = new Graph('bad');
    const x = g.input('x', 'float32', [2, 3]);
    expect(() => g.scope('blk', () => reshape(g, x, [4, 2]))).toThrow(
      /Reshape 'blk\/Reshape_\d+': cannot reshape \[2,3\] \(6 elements\) to \[4,2\] \(8 elements\)/,
    );
    const b = g.input('b', 'float32', ['B', 3]);
    expect(() => reshape(g, b, [0, -1, 4])).toThrow(/Reshape .*cannot reshape \[B,3\].*\[0,-1,4\].*float32\[B,3\]/);
  });

  it('Concat with mismatched off-axis dims names the inputs and shapes', () => {
    const g = new Graph('bad');
    const a = g.input('a', 'float32', ['B', 2]);
    const c = g.input('c', 'float32', ['C', 3]);
    expect(() => concat(g, [a, c], 1)).toThrow(/Concat 'Concat_\d+': input 1 'c' \[C,3\] differs from input 0 \[B,2\] in dimension 0/);
  });

  it('Transpose with a perm of the wrong length names the perm and shape', () => {
    const g = new Graph('bad');
    const x = g.input('x', 'float32', ['B', 2, 3]);
    expect(() => transpose(g, x, [1, 0])).toThrow(/Transpose 'Transpose_\d+': perm \[1,0\] is not a permutation of the 3 axes of \[B,2,3\]/);
  });

  it('Gather with a constant index out of range', () => {
    const g = new Graph('bad');
    const x = g.input('x', 'float32', ['B', 3]);
    expect(() => gather(g, x, 3, 1)).toThrow(/Gather 'Gather_\d+': index 3 is out of range for dimension 1 of size 3/);
  });
});
