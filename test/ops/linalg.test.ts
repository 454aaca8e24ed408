import { describe, expect, it } from 'vitest';
import { Graph, ShapeError, Tensor, type DType, type Shape } from '../../src/ir/index.js';
import { gemm, matmul, type GemmOptions } from '../../src/ops/index.js';
import { bindShape, expectClose, runAndCheckShapes } from '../helpers/assert.js';
import { broadcastRef, matmulRef, sample, type Dense } from '../helpers/reference.js';

const DIMS = { B: 2, S: 3, M: 3, K: 4, N: 5 };

// [A's IR shape, B's IR shape, inferred output shape]; symbols bound by DIMS at run time.
const MATMUL_CASES: [Shape, Shape, Shape][] = [
  [[3, 4], [4, 5], [3, 5]],
  [['B', 'S', 'K'], ['K', 'N'], ['B', 'S', 'N']],
  [[2, 1, 'M', 'K'], [3, 'K', 'N'], [2, 3, 'M', 'N']],
  [['B', 1, 'M', 4], [1, 'S', 4, 2], ['B', 'S', 'M', 2]],
  [['K'], ['K', 'N'], ['N']],
  [['M', 'K'], ['K'], ['M']],
  [['K'], ['K'], []],
  [['B', 'M', 'K'], ['K'], ['B', 'M']],
  [['K'], ['B', 'K', 'N'], ['B', 'N']],
];

function feed(dtype: DType, shape: Shape, seed: number): { tensor: Tensor; dense: Dense } {
  const concrete = bindShape(shape, DIMS);
  const data = sample(concrete.reduce((a, b) => a * b, 1), seed);
  return { tensor: Tensor.fromNumbers(dtype, concrete, data), dense: { data, shape: concrete } };
}

function transpose(m: Dense): Dense {
  const [r, c] = m.shape;
  return { data: Array.from({ length: r * c }, (_, i) => m.data[(i % r) * c + Math.floor(i / r)]), shape: [c, r] };
}

describe.each<DType>(['float32', 'float64'])('linalg %s', (dtype) => {
  it.each(MATMUL_CASES)('MatMul %j x %j -> %j', async (aShape, bShape, yShape) => {
    const g = new Graph('matmul');
    const a = g.input('a', dtype, aShape);
    const b = g.input('b', dtype, bShape);
    const y = matmul(g, a, b);
    expect(y.shape).toEqual(yShape);
    g.output('y', y);
    const fa = feed(dtype, aShape, 1);
    const fb = feed(dtype, bShape, 2);
    const out = await runAndCheckShapes(g, { a: fa.tensor, b: fb.tensor });
    const ref = matmulRef(fa.dense, fb.dense);
    expect(out.y.shape).toEqual(ref.shape);
    expectClose(out.y, ref.data);
  });

  // [options, A's shape, B's shape, C's shape or undefined]; the result is always [M,N] = [3,5].
  const GEMM_CASES: [GemmOptions, Shape, Shape, Shape | undefined][] = [
    [{}, ['M', 'K'], ['K', 'N'], undefined],
    [{}, ['M', 'K'], ['K', 'N'], ['N']],
    [{ transA: true }, ['K', 'M'], ['K', 'N'], ['M', 'N']],
    [{ transB: true }, ['M', 'K'], ['N', 'K'], [1, 'N']],
    [{ transA: true, transB: true }, ['K', 'M'], ['N', 'K'], ['M', 1]],
    [{ alpha: 0.5, beta: -2 }, ['M', 'K'], ['K', 'N'], []],
    [{ alpha: 2, transB: true }, ['M', 'K'], ['N', 'K'], [1]],
  ];

  it.each(GEMM_CASES)('Gemm %j A%j B%j C%j', async (options, aShape, bShape, cShape) => {
    const g = new Graph('gemm');
    const a = g.input('a', dtype, aShape);
    const b = g.input('b', dtype, bShape);
    const c = cShape && g.input('c', dtype, cShape);
    const y = gemm(g, a, b, c, options);
    expect(y.shape).toEqual(['M', 'N']);
    g.output('y', y);
    const fa = feed(dtype, aShape, 1);
    const fb = feed(dtype, bShape, 2);
    const fc = cShape && feed(dtype, cShape, 3);
    const out = await runAndCheckShapes(g, { a: fa.tensor, b: fb.tensor, ...(fc ? { c: fc.tensor } : {}) });
    const ab = matmulRef(options.transA ? transpose(fa.dense) : fa.dense, options.transB ? transpose(fb.dense) : fb.dense);
    const { alpha = 1, beta = 1 } = options;
    const expected = fc ? broadcastRef([ab, fc.dense], (p, q) => alpha * p + beta * q).data : ab.data.map((p) => alpha * p);
    expectClose(out.y, expected);
  });
});

describe('linalg build errors', () => {
  function inputs(aShape: Shape, bShape: Shape, bDType: DType = 'float32') {
    const g = new Graph('bad');
    return { g, a: g.input('a', 'float32', aShape), b: g.input('b', bDType, bShape) };
  }

  it('MatMul rejects mismatched inner dimensions, naming both shapes', () => {
    const { g, a, b } = inputs(['B', 3], [4, 2]);
    expect(() => matmul(g, a, b)).toThrow(ShapeError);
    expect(() => g.scope('dense1', () => matmul(g, a, b))).toThrow(/MatMul 'dense1\/MatMul_1': inner dimensions differ: A has K=3, B has K=4 \(inputs: float32\[B,3\], float32\[4,2\]\)/);
  });

  it('MatMul rejects a 1-D B of the wrong length', () => {
    const { g, a, b } = inputs([3, 4], [5]);
    expect(() => matmul(g, a, b)).toThrow(/inner dimensions differ: A has K=4, B has K=5/);
  });

  it('MatMul rejects batch dimensions that do not broadcast', () => {
    const { g, a, b } = inputs([2, 3, 4], [3, 4, 5]);
    expect(() => matmul(g, a, b)).toThrow(/MatMul 'MatMul_0': batch dimensions \[2\] and \[3\] do not broadcast.*float32\[2,3,4\], float32\[3,4,5\]/);
  });

  it('MatMul rejects scalars', () => {
    const { g, a, b } = inputs([], [3]);
    expect(() => matmul(g, a, b)).toThrow(/MatMul 'MatMul_0': operands must have rank >= 1/);
  });

  it('MatMul rejects mixed dtypes', () => {
    const { g, a, b } = inputs([2, 3], [3, 4], 'float64');
    expect(() => matmul(g, a, b)).toThrow(/MatMul 'MatMul_0': input 1 has dtype float64, expected float32.*float32\[2,3\], float64\[3,4\]/);
  });

  it('Gemm rejects operands that are not 2-D', () => {
    const { g, a, b } = inputs(['B', 3, 4], [4, 5]);
    expect(() => gemm(g, a, b)).toThrow(/Gemm 'Gemm_0': A and B must be 2-D, got rank 3 and 2.*float32\[B,3,4\], float32\[4,5\]/);
  });

  it('Gemm checks the inner dimension after transposes', () => {
    const { g, a, b } = inputs(['B', 4], [4, 5]);
    expect(gemm(g, a, b).shape).toEqual(['B', 5]);
    expect(() => gemm(g, a, b, undefined, { transB: true })).toThrow(/Gemm 'Gemm_\d+': inner dimensions differ: A' has K=4, B' has K=5/);
  });

  it('Gemm rejects a C that does not broadcast to [M,N]', () => {
    const { g, a, b } = inputs([3, 4], [4, 5]);
    const c = g.input('c', 'float32', [2, 5]);
    expect(() => gemm(g, a, b, c)).toThrow(/Gemm 'Gemm_0': C \[2,5\] does not broadcast to \[M,N\] = \[3,5\].*float32\[2,5\]/);
    const wide = g.input('wide', 'float32', [1, 3, 5]);
    expect(() => gemm(g, a, b, wide)).toThrow(/C \[1,3,5\] does not broadcast/);
  });

  it('Gemm rejects a C of another dtype', () => {
    const { g, a, b } = inputs([3, 4], [4, 5]);
    const c = g.input('c', 'float64', [5]);
    expect(() => gemm(g, a, b, c)).toThrow(/Gemm 'Gemm_0': input 2 has dtype float64, expected float32/);
  });
});
