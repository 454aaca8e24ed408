import { describe, expect, it } from 'vitest';
import { Graph, ShapeError, Tensor, type DType } from '../../src/ir/index.js';
import { gatherElements, GatherElementsOp, scatterElements, ScatterElementsOp, type ScatterReduction } from '../../src/ops/index.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { expectClose, runAndCheckShapes } from '../helpers/assert.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { expectOnnxValid } from '../helpers/onnx-checker.js';

/** Row-major strides of `shape`. */
const stridesOf = (shape: readonly number[]) => shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));

/** Coordinates of flat position `k` in `shape`. */
const coordsOf = (k: number, shape: readonly number[]) => stridesOf(shape).map((s, i) => Math.floor(k / s) % shape[i]);

/** ScatterElements from the ONNX definition: output = data; output[idx with axis ← indices[idx]] (+)= updates[idx]. */
function scatterRef(data: number[], shape: number[], indices: number[], idxShape: number[], updates: number[], axis: number, reduction: ScatterReduction): number[] {
  const out = [...data];
  const strides = stridesOf(shape);
  indices.forEach((index, k) => {
    const at = coordsOf(k, idxShape);
    at[axis] = index < 0 ? index + shape[axis] : index;
    const flat = at.reduce((acc, c, i) => acc + c * strides[i], 0);
    out[flat] = reduction === 'add' ? out[flat] + updates[k] : updates[k];
  });
  return out;
}

/** GatherElements from the ONNX definition. */
function gatherRef(data: number[], shape: number[], indices: number[], idxShape: number[], axis: number): number[] {
  const strides = stridesOf(shape);
  return indices.map((index, k) => {
    const at = coordsOf(k, idxShape);
    at[axis] = index < 0 ? index + shape[axis] : index;
    return data[at.reduce((acc, c, i) => acc + c * strides[i], 0)];
  });
}

const DATA = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

interface Case {
  name: string;
  shape: number[];
  idxShape: number[];
  indices: number[];
  axis: number;
  reduction: ScatterReduction;
}

const CASES: Case[] = [
  { name: 'axis 0, written', shape: [3, 4], idxShape: [2, 3], indices: [1, 0, 2, 0, 2, 1], axis: 0, reduction: 'none' },
  { name: 'axis 1, written, negative index', shape: [3, 4], idxShape: [3, 2], indices: [0, -1, 2, 1, 3, 0], axis: 1, reduction: 'none' },
  // Repeated targets must accumulate: MaxPool's VJP relies on it for overlapping windows.
  { name: 'axis 0, added, repeated indices', shape: [12], idxShape: [7], indices: [3, 3, 0, 11, 3, 5, 0], axis: 0, reduction: 'add' },
  { name: 'axis -1, added, rank 3', shape: [2, 2, 3], idxShape: [2, 1, 3], indices: [2, 2, 0, 1, 1, 1], axis: -1, reduction: 'add' },
];

describe.each<DType>(['float32', 'float64', 'int64'])('ScatterElements / GatherElements %s', (dtype) => {
  it.each(CASES)('ScatterElements $name', async ({ shape, idxShape, indices, axis, reduction }) => {
    const updates = indices.map((_, k) => 10 * (k + 1));
    const g = new Graph('scatter');
    const data = g.input('data', dtype, shape);
    const idx = g.input('indices', 'int64', idxShape);
    g.output('y', scatterElements(g, data, idx, g.input('updates', dtype, idxShape), axis, reduction));
    const out = await runAndCheckShapes(g, {
      data: Tensor.fromNumbers(dtype, shape, DATA.slice(0, shape.reduce((a, b) => a * b, 1))),
      indices: Tensor.fromNumbers('int64', idxShape, indices),
      updates: Tensor.fromNumbers(dtype, idxShape, updates),
    });
    const resolved = axis < 0 ? axis + shape.length : axis;
    expectClose(out.y, scatterRef(DATA.slice(0, out.y.size), shape, indices, idxShape, updates, resolved, reduction));
  });

  it.each(CASES)('GatherElements $name', async ({ shape, idxShape, indices, axis }) => {
    const g = new Graph('gather');
    const data = g.input('data', dtype, shape);
    g.output('y', gatherElements(g, data, g.input('indices', 'int64', idxShape), axis));
    const out = await runAndCheckShapes(g, {
      data: Tensor.fromNumbers(dtype, shape, DATA.slice(0, shape.reduce((a, b) => a * b, 1))),
      indices: Tensor.fromNumbers('int64', idxShape, indices),
    });
    expectClose(out.y, gatherRef(DATA, shape, indices, idxShape, axis < 0 ? axis + shape.length : axis));
  });
});

describe('ScatterElements / GatherElements build', () => {
  it('writes models the onnx checker accepts, with reduction only where it is not the default', () => {
    const g = new Graph('scatter');
    const data = g.input('data', 'float32', ['N', 4]);
    const idx = g.input('indices', 'int64', ['K', 4]);
    const written = scatterElements(g, data, idx, g.input('updates', 'float32', ['K', 4]));
    g.output('y', scatterElements(g, written, idx, gatherElements(g, written, idx), 0, 'add'));
    expect(g.nodes.map((n) => n.attrs.reduction?.value)).toEqual([undefined, undefined, 'add']);
    expectOnnxValid(serializeModel(g));
  });

  const build = (opset: number) => {
    const g = new Graph('bad', undefined, opset);
    return { g, data: g.input('data', 'float32', [3, 4]), idx: g.input('indices', 'int64', [2, 4]), updates: g.input('updates', 'float32', [2, 4]) };
  };

  it('rejects reduction before opset 16, and reductions other than none and add', () => {
    const { g, data, idx, updates } = build(15);
    expect(() => scatterElements(g, data, idx, updates, 0, 'add')).toThrow(/reduction needs opset 16, but the model targets opset 15/);
    expect(scatterElements(g, data, idx, updates).shape).toEqual([3, 4]);
    const recent = build(17);
    expect(() => recent.g.node(ScatterElementsOp, [recent.data, recent.idx, recent.updates], { reduction: 'mul' })).toThrow(/reduction must be 'none' or 'add', got 'mul'/);
  });

  it('names the mismatch in indices and updates', () => {
    const { g, data, idx } = build(17);
    const floatIdx = g.input('fidx', 'float32', [2, 4]);
    expect(() => scatterElements(g, data, floatIdx, floatIdx)).toThrow(/indices 'fidx' must be int64 or int32, got float32/);
    expect(() => scatterElements(g, data, idx, g.input('u3', 'float32', [2, 3]))).toThrow(/updates u3: float32\[2,3\] must have the shape of indices/);
    expect(() => scatterElements(g, data, idx, g.input('u64', 'float64', [2, 4]))).toThrow(ShapeError);
    expect(() => gatherElements(g, data, g.input('wide', 'int64', [2, 5]), 0)).toThrow(/indices dim 1 is 5, larger than data's 4 \(only axis 0 may differ\)/);
    expect(() => gatherElements(g, data, g.input('flat', 'int64', [8]))).toThrow(/indices must have data's rank 2/);
    expect(() => g.node(GatherElementsOp, [data, idx], { axis: 2 })).toThrow(/axis 2 is out of range for rank 2/);
  });
});

describe('ScatterElements / GatherElements VJP (float64 finite differences)', () => {
  const fixed = (shape: number[], values: number[]) => ({ fixed: Tensor.fromNumbers('int64', shape, values) });
  it('ScatterElements add: data passes through, updates pick their targets', async () => {
    await gradCheck({
      op: 'ScatterElements',
      inputs: [{ shape: [3, 4] }, fixed([4, 2], [0, 2, 0, 2, 1, 1, 0, 2]), { shape: [4, 2] }],
      build: (g, [data, idx, updates]) => scatterElements(g, data, idx, updates, 0, 'add'),
    });
  });
  it('ScatterElements none: written cells take no gradient from data', async () => {
    await gradCheck({
      op: 'ScatterElements',
      inputs: [{ shape: [3, 4] }, fixed([3, 2], [3, 0, 1, 2, 0, 3]), { shape: [3, 2] }],
      build: (g, [data, idx, updates]) => scatterElements(g, data, idx, updates, 1),
    });
  });
  it('GatherElements with repeated indices accumulates', async () => {
    await gradCheck({
      op: 'GatherElements',
      inputs: [{ shape: [3, 4] }, fixed([5, 4], [0, 1, 2, 0, 0, 0, 2, 1, 2, 2, 2, 2, 1, 0, 0, 1, 0, 1, 0, 1])],
      build: (g, [data, idx]) => gatherElements(g, data, idx, 0),
    });
  });
});
