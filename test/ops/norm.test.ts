import { describe, expect, it } from 'vitest';
import { Graph, Tensor, type DType, type Value } from '../../src/ir/index.js';
import { batchNorm, BatchNormalizationOp, type BatchNormParams } from '../../src/ops/index.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { expectClose, runAndCheckShapes } from '../helpers/assert.js';
import { randomArray, type NdArray } from '../helpers/conv-reference.js';
import { expectOnnxValid } from '../helpers/onnx-checker.js';
import { seededRandom } from '../helpers/rng.js';

type Float = 'float32' | 'float64';

/** Per-channel statistics and affine parameters; variances in [0.5, 2.5). */
function randomParams(random: () => number, channels: number, dtype: Float) {
  const round = dtype === 'float32' ? Math.fround : (v: number) => v;
  const vector = () => randomArray(random, [channels], dtype).data;
  return { scale: vector(), bias: vector(), mean: vector(), variance: vector().map(() => round(0.5 + 2 * random())) };
}

/** y = scale (x - mean) / sqrt(var + eps) + bias, channel = dim 1. */
function batchNormRef(x: NdArray, p: ReturnType<typeof randomParams>, epsilon: number): number[] {
  const inner = x.shape.slice(2).reduce((a, d) => a * d, 1);
  return x.data.map((v, k) => {
    const c = Math.floor(k / inner) % x.shape[1];
    return (p.scale[c] * (v - p.mean[c])) / Math.sqrt(p.variance[c] + epsilon) + p.bias[c];
  });
}

function initializers(g: Graph, dtype: DType, p: ReturnType<typeof randomParams>): BatchNormParams {
  const init = (name: string, values: number[]) => g.initializer(name, Tensor.fromNumbers(dtype, [values.length], values));
  return { scale: init('bn.scale', p.scale), bias: init('bn.bias', p.bias), mean: init('bn.mean', p.mean), variance: init('bn.var', p.variance) };
}

const CASES = [
  { name: 'NCHW', shape: [2, 3, 4, 5], epsilon: undefined },
  { name: 'NC (after a dense layer)', shape: [4, 6], epsilon: undefined },
  { name: 'NCHW, epsilon 0.1', shape: [2, 3, 2, 2], epsilon: 0.1 },
];

/** A BN graph on a random x [B,...] with random parameters, its feed and the reference output. */
function build(dtype: Float, { shape, epsilon }: (typeof CASES)[number], seed: number) {
  const random = seededRandom(500 + seed);
  const x = randomArray(random, shape, dtype);
  const params = randomParams(random, shape[1], dtype);
  const graph = new Graph('bn');
  graph.output('y', batchNorm(graph, graph.input('x', dtype, ['B', ...shape.slice(1)]), initializers(graph, dtype, params), { epsilon }));
  // ONNX float attributes are float32, even in a float64 graph.
  const expected = batchNormRef(x, params, Math.fround(epsilon ?? 1e-5));
  return { graph, feeds: { x: Tensor.fromNumbers(dtype, x.shape, x.data) }, expected };
}

describe.each<Float>(['float32', 'float64'])('BatchNormalization %s against the JS reference', (dtype) => {
  it.each(CASES.map((c, seed) => ({ ...c, seed })))('$name', async ({ seed, ...c }) => {
    const { graph, feeds, expected } = build(dtype, c, seed);
    expect(graph.outputs[0].shape).toEqual(['B', ...c.shape.slice(1)]);
    const out = await runAndCheckShapes(graph, feeds);
    expectClose(out.y, expected);
  });
});

it('every case passes onnx 1.12 (checker + strict shape inference against our value_info)', () => {
  expectOnnxValid(CASES.map((c, seed) => serializeModel(build('float64', c, seed).graph)));
});

describe('BatchNormalization OpDef', () => {
  it('marks the running statistics, and only them, as non-differentiable', () => {
    expect(BatchNormalizationOp.inputs.filter((i) => i.nondiff).map((i) => i.name)).toEqual(['input_mean', 'input_var']);
  });

  it('has a float64 kernel (tested above), so it does not say otherwise', () => {
    expect(BatchNormalizationOp.float64Kernel).not.toBe(false);
  });
});

describe('BatchNormalization build-time errors', () => {
  function build(xShape: (number | string)[], lengths: Partial<Record<keyof BatchNormParams, number>> = {}) {
    const g = new Graph('bad');
    const x = g.input('x', 'float32', xShape);
    const param = (name: keyof BatchNormParams): Value => g.initializer(`bn.${name}`, Tensor.zeros('float32', [lengths[name] ?? 3]));
    const params = { scale: param('scale'), bias: param('bias'), mean: param('mean'), variance: param('variance') };
    return () => g.scope('head', () => batchNorm(g, x, params));
  }

  it.each([
    ['scale', 'scale'],
    ['bias', 'B'],
    ['mean', 'input_mean'],
    ['variance', 'input_var'],
  ] as const)('names a %s whose length is not the channel count', (param, onnxName) => {
    expect(build(['B', 3, 8, 8], { [param]: 4 })).toThrow(
      new RegExp(`BatchNormalization 'head/BatchNormalization_0': ${onnxName} must be \\[3\\] \\(one entry per channel of X\\), got \\[4\\] \\(inputs: float32\\[B,3,8,8\\],`),
    );
  });

  it('rejects an input without a channel dim', () => {
    expect(build([3])).toThrow(/BatchNormalization '.*': X must be \[N,C,...\] \(rank >= 2\), got rank 1 \(inputs: float32\[3\]/);
  });

  it('rejects training mode and mixed dtypes', () => {
    const g = new Graph('train');
    const x = g.input('x', 'float32', ['B', 2]);
    const p = g.initializer('p', Tensor.zeros('float32', [2]));
    expect(() => g.node(BatchNormalizationOp, [x, p, p, p, p], { training_mode: 1 })).toThrow(/training_mode must be 0/);
    const p64 = g.initializer('p64', Tensor.zeros('float64', [2]));
    expect(() => g.node(BatchNormalizationOp, [x, p, p, p, p64])).toThrow(/input 4 has dtype float64, expected float32/);
  });
});
