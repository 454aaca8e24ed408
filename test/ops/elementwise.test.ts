import { describe, expect, it } from 'vitest';
import { Graph, Tensor, type DType, type Value } from '../../src/ir/index.js';
import { abs, add, div, exp, leakyRelu, log, mul, neg, pow, relu, sigmoid, sqrt, sub, tanh } from '../../src/ops/index.js';
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

describe.each<DType>(['float32', 'float64'])('elementwise unary and binary %s', (dtype) => {
  const xs = [-2, -0.5, 0.25, 1.5];
  const pos = [0.5, 1, 2.25, 4];
  const cases: [string, (g: Graph, x: Value) => Value, number[], (v: number) => number][] = [
    ['Neg', neg, xs, (v) => -v],
    ['Abs', abs, xs, Math.abs],
    ['Exp', exp, xs, Math.exp],
    ['Log', log, pos, Math.log],
    ['Sqrt', sqrt, pos, Math.sqrt],
    ['Tanh', tanh, xs, Math.tanh],
    ['Relu', relu, xs, (v) => Math.max(v, 0)],
    ['LeakyRelu', (g, x) => leakyRelu(g, x, 0.25), xs, (v) => (v >= 0 ? v : 0.25 * v)],
  ];
  it.each(cases)('%s matches its formula', async (_name, emit, input, formula) => {
    const g = new Graph('unary');
    const x = g.input('x', dtype, [4]);
    const y = emit(g, x);
    expect(y.shape).toEqual([4]);
    g.output('y', y);
    const out = await runGraph(g, { x: Tensor.fromNumbers(dtype, [4], input) });
    out.y.toNumbers().forEach((v, i) => expect(v).toBeCloseTo(formula(input[i]), 5));
  });

  it('Sub, Mul, Div, Pow broadcast like numpy', async () => {
    const g = new Graph('binary');
    const a = g.input('a', dtype, [2, 2]);
    const b = g.input('b', dtype, [2]);
    g.output('sub', sub(g, a, b));
    g.output('mul', mul(g, a, b));
    g.output('div', div(g, a, b));
    g.output('pow', pow(g, a, b));
    const av = [1, 2, 3, 4];
    const bv = [2, 0.5];
    const out = await runGraph(g, { a: Tensor.fromNumbers(dtype, [2, 2], av), b: Tensor.fromNumbers(dtype, [2], bv) });
    const ref = (f: (p: number, q: number) => number) => av.map((p, i) => f(p, bv[i % 2]));
    out.sub.toNumbers().forEach((v, i) => expect(v).toBeCloseTo(ref((p, q) => p - q)[i], 5));
    out.mul.toNumbers().forEach((v, i) => expect(v).toBeCloseTo(ref((p, q) => p * q)[i], 5));
    out.div.toNumbers().forEach((v, i) => expect(v).toBeCloseTo(ref((p, q) => p / q)[i], 5));
    out.pow.toNumbers().forEach((v, i) => expect(v).toBeCloseTo(ref((p, q) => p ** q)[i], 5));
  });
});

it('Add accepts int64 (iteration counters)', async () => {
  const g = new Graph('count');
  const n = g.input('n', 'int64', [3]);
  g.output('m', add(g, n, g.constant(Tensor.scalar(1, 'int64'))));
  const out = await runGraph(g, { n: Tensor.fromNumbers('int64', [3], [0, 5, 9]) });
  expect(out.m.toNumbers()).toEqual([1, 6, 10]);
});
