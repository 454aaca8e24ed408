import { describe, expect, it } from 'vitest';
import { Graph, Tensor, type DType } from '../../src/ir/index.js';
import { add, sigmoid } from '../../src/ops/index.js';
import { runGraph } from '../helpers/ort.js';

describe.each<DType>(['float32', 'float64'])('elementwise %s', (dtype) => {
  it('Add broadcasts a row over a batch', async () => {
    const g = new Graph('add');
    const x = g.input('x', dtype, ['B', 3]);
    const b = g.input('b', dtype, [3]);
    g.output('y', add(g, x, b));
    const out = await runGraph(g, {
      x: Tensor.fromNumbers(dtype, [2, 3], [1, 2, 3, 4, 5, 6]),
      b: Tensor.fromNumbers(dtype, [3], [10, 20, 30]),
    });
    expect(out.y.shape).toEqual([2, 3]);
    expect(out.y.toNumbers()).toEqual([11, 22, 33, 14, 25, 36]);
  });

  it('Sigmoid matches 1/(1+e^-x)', async () => {
    const g = new Graph('sig');
    const x = g.input('x', dtype, [4]);
    g.output('y', sigmoid(g, x));
    const xs = [-2, 0, 0.5, 3];
    const out = await runGraph(g, { x: Tensor.fromNumbers(dtype, [4], xs) });
    out.y.toNumbers().forEach((v, i) => expect(v).toBeCloseTo(1 / (1 + Math.exp(-xs[i])), 6));
  });
});

it('Add fails at build time on shapes that do not broadcast', () => {
  const g = new Graph('bad');
  const x = g.input('x', 'float32', ['B', 3]);
  const y = g.input('y', 'float32', ['B', 4]);
  expect(() => g.scope('block1', () => add(g, x, y))).toThrow(/Add 'block1\/Add_0'.*\[B,3\].*\[B,4\]/);
});
