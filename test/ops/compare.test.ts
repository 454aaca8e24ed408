import { describe, expect, it } from 'vitest';
import { Graph, ShapeError, Tensor, type DType, type Value } from '../../src/ir/index.js';
import { equal, greater, less, where, WhereOp } from '../../src/ops/index.js';
import { expectClose, runAndCheckShapes } from '../helpers/assert.js';
import { broadcastRef } from '../helpers/reference.js';

const COMPARISONS: [string, (g: Graph, a: Value, b: Value) => Value, (a: number, b: number) => boolean][] = [
  ['Greater', greater, (a, b) => a > b],
  ['Less', less, (a, b) => a < b],
  ['Equal', equal, (a, b) => a === b],
];

describe.each<DType>(['float32', 'float64', 'int64', 'int32'])('comparisons %s', (dtype) => {
  it.each(COMPARISONS)('%s broadcasts [B,3] against [3] to a bool [B,3]', async (_, emit, ref) => {
    const g = new Graph('cmp');
    const a = g.input('a', dtype, ['B', 3]);
    const b = g.input('b', dtype, [3]);
    g.output('y', emit(g, a, b));
    const av = [1, 2, 3, 4, -5, 6];
    const bv = [2, 2, 2];
    const out = await runAndCheckShapes(g, {
      a: Tensor.fromNumbers(dtype, [2, 3], av),
      b: Tensor.fromNumbers(dtype, [3], bv),
    });
    const expected = broadcastRef([{ data: av, shape: [2, 3] }, { data: bv, shape: [3] }], (x, y) => Number(ref(x, y)));
    expect(out.y.toNumbers()).toEqual(expected.data);
  });
});

it('Equal compares bools', async () => {
  const g = new Graph('eqb');
  const a = g.input('a', 'bool', [4]);
  const b = g.input('b', 'bool', [4]);
  g.output('y', equal(g, a, b));
  const out = await runAndCheckShapes(g, {
    a: Tensor.fromNumbers('bool', [4], [1, 1, 0, 0]),
    b: Tensor.fromNumbers('bool', [4], [1, 0, 1, 0]),
  });
  expect(out.y.toNumbers()).toEqual([1, 0, 0, 1]);
});

describe.each<DType>(['float32', 'float64', 'int64'])('Where %s', (dtype) => {
  it('selects with a three-way broadcast: cond [B,1], x [3], y []', async () => {
    const g = new Graph('where');
    const c = g.input('c', 'bool', ['B', 1]);
    const x = g.input('x', dtype, [3]);
    const y = g.input('y', dtype, []);
    g.output('out', where(g, c, x, y));
    const cv = [1, 0];
    const xv = [1, 2, 3];
    const out = await runAndCheckShapes(g, {
      c: Tensor.fromNumbers('bool', [2, 1], cv),
      x: Tensor.fromNumbers(dtype, [3], xv),
      y: Tensor.fromNumbers(dtype, [], [-7]),
    });
    expect(out.out.shape).toEqual([2, 3]);
    expectClose(out.out, [1, 2, 3, -7, -7, -7]);
  });

  it('selects per element when all three shapes match', async () => {
    const g = new Graph('where');
    const c = g.input('c', 'bool', ['B']);
    const x = g.input('x', dtype, ['B']);
    const y = g.input('y', dtype, ['B']);
    g.output('out', where(g, c, x, y));
    const out = await runAndCheckShapes(g, {
      c: Tensor.fromNumbers('bool', [4], [0, 1, 1, 0]),
      x: Tensor.fromNumbers(dtype, [4], [1, 2, 3, 4]),
      y: Tensor.fromNumbers(dtype, [4], [10, 20, 30, 40]),
    });
    expectClose(out.out, [10, 2, 3, 40]);
  });
});

describe('compare build errors', () => {
  it('the condition of Where is marked as having no gradient', () => {
    expect(WhereOp.inputs.map((i) => i.nondiff ?? false)).toEqual([true, false, false]);
  });

  it.each(COMPARISONS)('%s rejects mixed dtypes', (opType, emit) => {
    const g = new Graph('bad');
    const a = g.input('a', 'float32', ['B', 3]);
    const b = g.input('b', 'float64', [3]);
    expect(() => emit(g, a, b)).toThrow(ShapeError);
    expect(() => emit(g, a, b)).toThrow(new RegExp(`${opType} '${opType}_\\d+': input 1 has dtype float64.*float32\\[B,3\\], float64\\[3\\]`));
  });

  it.each(COMPARISONS)('%s rejects shapes that do not broadcast', (opType, emit) => {
    const g = new Graph('bad');
    const a = g.input('a', 'float32', ['B', 3]);
    const b = g.input('b', 'float32', [4]);
    expect(() => emit(g, a, b)).toThrow(new RegExp(`${opType} .*do not broadcast.*\\[B,3\\].*\\[4\\]`));
  });

  it('Where rejects a non-bool condition', () => {
    const g = new Graph('bad');
    const c = g.input('c', 'float32', [3]);
    expect(() => where(g, c, c, c)).toThrow(/Where 'Where_0': input 0 has dtype float32; Where takes bool/);
  });

  it('Where rejects X and Y of different dtypes', () => {
    const g = new Graph('bad');
    const c = g.input('c', 'bool', [3]);
    const x = g.input('x', 'float32', [3]);
    const y = g.input('y', 'int64', [3]);
    expect(() => where(g, c, x, y)).toThrow(/Where 'Where_0': X has dtype float32 but Y has int64.*bool\[3\], float32\[3\], int64\[3\]/);
  });

  it('Where rejects a condition that does not broadcast', () => {
    const g = new Graph('bad');
    const c = g.input('c', 'bool', [2]);
    const x = g.input('x', 'float32', ['B', 3]);
    expect(() => where(g, c, x, x)).toThrow(/Where 'Where_0': shapes do not broadcast.*bool\[2\], float32\[B,3\]/);
  });

  it('comparisons reject uint8', () => {
    const g = new Graph('bad');
    const a = g.input('a', 'uint8', [3]);
    expect(() => greater(g, a, a)).toThrow(/Greater 'Greater_0': input 0 has dtype uint8/);
  });
});
