import { it } from 'vitest';
import { add, div, gemm, logSoftmax, matmul, mul, reduceMax, reduceMean, reduceSum, relu, sigmoid, softmax, tanh, where, greater, pow, sqrt, log, exp, abs, sub, neg, leakyRelu, cast } from '../../src/ops/index.js';
import { gradCheck } from '../helpers/gradcheck.js';

it('quick', async () => {
  await gradCheck({ op: 'Add', inputs: [{ shape: [3, 4] }, { shape: [4] }], build: (g, [a, b]) => add(g, a, b) });
  await gradCheck({ op: 'Mul', inputs: [{ shape: [3, 1] }, { shape: [2, 1, 4] }], build: (g, [a, b]) => mul(g, a, b) });
  await gradCheck({ op: 'Div', inputs: [{ shape: [3, 4] }, { shape: [4], positive: true }], build: (g, [a, b]) => div(g, a, b) });
  await gradCheck({ op: 'Pow', inputs: [{ shape: [3, 4], positive: true }, { shape: [4] }], build: (g, [a, b]) => pow(g, a, b) });
  await gradCheck({ op: 'MatMul', inputs: [{ shape: [2, 3, 4] }, { shape: [4, 5] }], build: (g, [a, b]) => matmul(g, a, b) });
  await gradCheck({ op: 'MatMul', label: '1d', inputs: [{ shape: [4] }, { shape: [2, 4, 5] }], build: (g, [a, b]) => matmul(g, a, b) });
  await gradCheck({ op: 'MatMul', label: '1d b', inputs: [{ shape: [2, 3, 4] }, { shape: [4] }], build: (g, [a, b]) => matmul(g, a, b) });
  for (const [ta, tb] of [[0, 0], [1, 0], [0, 1], [1, 1]])
    await gradCheck({ op: 'Gemm', label: `${ta}${tb}`, inputs: [{ shape: ta ? [4, 3] : [3, 4] }, { shape: tb ? [5, 4] : [4, 5] }, { shape: [5] }], build: (g, [a, b, c]) => gemm(g, a, b, c, { transA: !!ta, transB: !!tb, alpha: 0.7, beta: 1.3 }) });
  await gradCheck({ op: 'Softmax', inputs: [{ shape: [3, 4] }], build: (g, [a]) => softmax(g, a, 0) });
  await gradCheck({ op: 'LogSoftmax', inputs: [{ shape: [3, 4] }], build: (g, [a]) => logSoftmax(g, a) });
  await gradCheck({ op: 'ReduceMean', inputs: [{ shape: [3, 4, 2] }], build: (g, [a]) => reduceMean(g, a, [0, 2], false) });
  await gradCheck({ op: 'ReduceMean', opset: 18, inputs: [{ shape: [3, 4, 2] }], build: (g, [a]) => reduceMean(g, a, [1], true) });
  await gradCheck({ op: 'ReduceMax', inputs: [{ shape: [3, 4] }], build: (g, [a]) => reduceMax(g, a, [1], false) });
  await gradCheck({ op: 'ReduceSum', inputs: [{ shape: [3, 4] }], build: (g, [a]) => reduceSum(g, a, [], false) });
  for (const f of [tanh, sigmoid, relu, exp, abs, neg, (g: any, x: any) => leakyRelu(g, x, 0.2)])
    await gradCheck({ op: 'unary', inputs: [{ shape: [3, 4] }], build: (g, [a]) => f(g, a) });
  await gradCheck({ op: 'Sqrt', inputs: [{ shape: [3, 4], positive: true }], build: (g, [a]) => sqrt(g, a) });
  await gradCheck({ op: 'Log', inputs: [{ shape: [3, 4], positive: true }], build: (g, [a]) => log(g, a) });
  await gradCheck({ op: 'Where', inputs: [{ shape: [3, 4] }, { shape: [4] }], build: (g, [a, b]) => where(g, greater(g, a, b), a, sub(g, b, a)) });
  await gradCheck({ op: 'Cast', inputs: [{ shape: [3, 4] }], build: (g, [a]) => cast(g, cast(g, a, 'float32'), 'float64'), eps: 1e-2, rtol: 1e-4 });
});
