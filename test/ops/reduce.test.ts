import { describe, expect, it } from 'vitest';
import { Graph, Tensor, type DType, type Value } from '../../src/ir/index.js';
import { ReduceMaxOp, ReduceMeanOp, ReduceSumOp, reduceMax, reduceMean, reduceSum } from '../../src/ops/index.js';
import { expectClose, runAndCheckShapes } from '../helpers/assert.js';
import { reduceRef, sample } from '../helpers/reference.js';

type Emit = (g: Graph, x: Value, axes?: readonly number[], keepdims?: boolean) => Value;

const OPS: [string, Emit, (xs: number[]) => number][] = [
  ['ReduceSum', reduceSum, (xs) => xs.reduce((a, b) => a + b, 0)],
  ['ReduceMean', reduceMean, (xs) => xs.reduce((a, b) => a + b, 0) / xs.length],
  ['ReduceMax', reduceMax, (xs) => Math.max(...xs)],
];

// [axes, keepdims, inferred shape for x: [B,3,4]]
const CASES: [number[], boolean, (string | number)[]][] = [
  [[1], true, ['B', 1, 4]],
  [[1], false, ['B', 4]],
  [[-1], false, ['B', 3]],
  [[0, 2], true, [1, 3, 1]],
  [[2, 0], false, [3]],
  [[], true, [1, 1, 1]],
  [[], false, []],
];

/** The opset where each op takes axes as an input rather than an attribute. */
const AXES_INPUT_SINCE: Record<string, number> = { ReduceSum: 13, ReduceMean: 18, ReduceMax: 18 };

describe.each([17, 18, 21])('opset %i', (opset) => {
  describe.each<DType>(['float32', 'float64'])('%s', (dtype) => {
    describe.each(OPS)('%s', (opType, emit, fn) => {
      it.each(CASES)('axes %j keepdims %s', async (axes, keepdims, shape) => {
        const g = new Graph('reduce', undefined, opset);
        const x = g.input('x', dtype, ['B', 3, 4]);
        const y = emit(g, x, axes, keepdims);
        expect(y.shape).toEqual(shape);
        g.output('y', y);
        const xs = sample(24);
        const out = await runAndCheckShapes(g, { x: Tensor.fromNumbers(dtype, [2, 3, 4], xs) }, { opset });
        const normalized = axes.map((a) => (a < 0 ? a + 3 : a));
        expectClose(out.y, reduceRef({ data: xs, shape: [2, 3, 4] }, normalized, fn));
      });

      it('emits axes in the form the opset expects', () => {
        const g = new Graph('form', undefined, opset);
        const x = g.input('x', dtype, ['B', 3, 4]);
        emit(g, x, [1, -1]);
        const node = g.nodes[g.nodes.length - 1];
        if (opset >= AXES_INPUT_SINCE[opType]) {
          expect(node.inputs[1]?.constant?.toNumbers()).toEqual([1, -1]);
          expect(node.inputs[1]?.dtype).toBe('int64');
          expect(node.attrs.axes).toBeUndefined();
        } else {
          expect(node.inputs).toHaveLength(1);
          expect(node.attr('axes')).toEqual([1, -1]);
        }
      });
    });
  });

  describe.each<DType>(['int64', 'int32'])('%s', (dtype) => {
    it.each<[string, Emit, number[]]>([
      ['ReduceSum', reduceSum, [6, 15]],
      ['ReduceMax', reduceMax, [3, 6]],
    ])('%s over the last axis', async (_, emit, expected) => {
      const g = new Graph('ints', undefined, opset);
      const x = g.input('x', dtype, ['B', 3]);
      g.output('y', emit(g, x, [1], false));
      const out = await runAndCheckShapes(g, { x: Tensor.fromNumbers(dtype, [2, 3], [1, 2, 3, 4, 5, 6]) }, { opset });
      expect(out.y.toNumbers()).toEqual(expected);
    });
  });
});

describe('axes as an input (opset 18)', () => {
  it('an empty axes constant reduces every dimension', async () => {
    const g = new Graph('empty', undefined, 18);
    const x = g.input('x', 'float64', [2, 3]);
    const axes = g.constant(Tensor.fromNumbers('int64', [0], []));
    const y = g.node(ReduceSumOp, [x, axes], { keepdims: 0 })[0];
    expect(y.shape).toEqual([]);
    g.output('y', y);
    const out = await runAndCheckShapes(g, { x: Tensor.fromNumbers('float64', [2, 3], [1, 2, 3, 4, 5, 6]) }, { opset: 18 });
    expectClose(out.y, [21]);
  });

  it('noop_with_empty_axes = 1 with no axes returns the input', async () => {
    const g = new Graph('noop', undefined, 18);
    const x = g.input('x', 'float32', ['B', 3]);
    const y = g.node(ReduceMeanOp, [x], { noop_with_empty_axes: 1 })[0];
    expect(y.shape).toEqual(['B', 3]);
    g.output('y', y);
    const out = await runAndCheckShapes(g, { x: Tensor.fromNumbers('float32', [2, 3], [1, 2, 3, 4, 5, 6]) }, { opset: 18 });
    expectClose(out.y, [1, 2, 3, 4, 5, 6]);
  });

  it('marks the axes input as having no gradient', () => {
    for (const op of [ReduceSumOp, ReduceMeanOp, ReduceMaxOp]) expect(op.inputs[1]).toMatchObject({ name: 'axes', nondiff: true });
  });
});

describe('reduce build errors', () => {
  it.each(OPS)('%s rejects an axis out of range', (opType, emit) => {
    const g = new Graph('bad');
    const x = g.input('x', 'float32', ['B', 3]);
    expect(() => emit(g, x, [2])).toThrow(new RegExp(`${opType} '${opType}_\\d+': axis 2 is out of range for rank 2.*float32\\[B,3\\]`));
    expect(() => emit(g, x, [-3])).toThrow(/axis -3 is out of range for rank 2/);
  });

  it.each(OPS)('%s rejects a dimension named twice', (opType, emit) => {
    const g = new Graph('bad', undefined, 18);
    const x = g.input('x', 'float32', ['B', 3]);
    expect(() => emit(g, x, [1, -1])).toThrow(new RegExp(`${opType} .*axes \\[1,-1\\] name dimension 1 twice`));
  });

  it('ReduceMean rejects an axes attribute at opset 18', () => {
    const g = new Graph('bad', undefined, 18);
    const x = g.input('x', 'float32', ['B', 3]);
    expect(() => g.node(ReduceMeanOp, [x], { axes: [1] })).toThrow(
      /ReduceMean 'ReduceMean_0': takes axes as an input since opset 18, not as an attribute \(graph opset 18\)/,
    );
  });

  it('ReduceMax rejects an axes input at opset 17', () => {
    const g = new Graph('bad', undefined, 17);
    const x = g.input('x', 'float32', ['B', 3]);
    const axes = g.constant(Tensor.fromNumbers('int64', [1], [1]));
    expect(() => g.node(ReduceMaxOp, [x, axes])).toThrow(/ReduceMax 'ReduceMax_\d+': takes axes as an attribute before opset 18/);
  });

  it('ReduceSum rejects an axes attribute at opset 17', () => {
    const g = new Graph('bad', undefined, 17);
    const x = g.input('x', 'float32', ['B', 3]);
    expect(() => g.node(ReduceSumOp, [x], { axes: [1] })).toThrow(/ReduceSum .*takes axes as an input since opset 13/);
  });

  it('rejects axes that are not a constant', () => {
    const g = new Graph('bad', undefined, 18);
    const x = g.input('x', 'float32', ['B', 3]);
    const axes = g.input('axes', 'int64', [1]);
    expect(() => g.node(ReduceSumOp, [x, axes])).toThrow(/ReduceSum 'ReduceSum_0': axes 'axes' must be a constant/);
  });

  it('rejects int32 axes', () => {
    const g = new Graph('bad', undefined, 18);
    const x = g.input('x', 'float32', ['B', 3]);
    const axes = g.constant(Tensor.fromNumbers('int32', [1], [1]));
    expect(() => g.node(ReduceSumOp, [x, axes])).toThrow(/ReduceSum .*axes must be a 1-D int64 tensor/);
  });

  it('ReduceMean rejects integer data', () => {
    const g = new Graph('bad');
    const x = g.input('x', 'int64', [3]);
    expect(() => reduceMean(g, x)).toThrow(/ReduceMean 'ReduceMean_0': input 0 has dtype int64/);
  });
});
