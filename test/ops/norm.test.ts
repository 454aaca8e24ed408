import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Graph, Tensor, type DType, type Node, type Shape, type Value, type VjpRule } from '../../src/ir/index.js';
import { batchNorm, BatchNormalizationOp, instanceNorm, InstanceNormalizationOp, type BatchNormParams } from '../../src/ops/index.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { expectClose, runAndCheckShapes } from '../helpers/assert.js';
import { runGraph } from '../helpers/ort.js';
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

/** y = scale (x − μ)/√(var + eps) + bias, μ and biased var per (n, c) over the remaining dims. */
function instanceNormRef(x: NdArray, scale: readonly number[], bias: readonly number[], epsilon: number): number[] {
  const inner = x.shape.slice(2).reduce((a, d) => a * d, 1);
  const y: number[] = [];
  for (let row = 0; row < x.data.length / inner; row++) {
    const v = x.data.slice(row * inner, (row + 1) * inner);
    const mean = v.reduce((a, b) => a + b, 0) / inner;
    const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / inner;
    const c = row % x.shape[1];
    y.push(...v.map((e) => (scale[c] * (e - mean)) / Math.sqrt(variance + epsilon) + bias[c]));
  }
  return y;
}

const IN_CASES = [
  { name: 'NCHW', shape: [2, 3, 4, 5], dims: ['B', 3, 4, 5], epsilon: undefined },
  { name: "[N,C,L] (GroupNorm's rows), symbolic batch and length", shape: [3, 4, 10], dims: ['B', 4, 'L'], epsilon: undefined },
  { name: 'epsilon 0.1', shape: [2, 2, 3, 3], dims: [2, 2, 3, 3], epsilon: 0.1 },
];

/** An InstanceNormalization graph (float32: onnxruntime's only kernel) on random x, scale and bias, with the reference output. */
function buildInstanceNorm({ shape, dims, epsilon }: (typeof IN_CASES)[number], seed: number) {
  const random = seededRandom(700 + seed);
  // Shifted rows: the kernel must subtract the mean before squaring.
  const x = randomArray(random, shape, 'float32', 2);
  x.data = x.data.map((v, i) => Math.fround(v + 3 * (Math.floor(i / 7) % 3)));
  const channels = shape[1];
  const scale = randomArray(random, [channels], 'float32').data;
  const bias = randomArray(random, [channels], 'float32').data;
  const graph = new Graph('instance_norm');
  const init = (name: string, values: number[]) => graph.initializer(name, Tensor.fromNumbers('float32', [channels], values));
  graph.output('y', instanceNorm(graph, graph.input('x', 'float32', dims as Shape), init('in.scale', scale), init('in.bias', bias), { epsilon }));
  const expected = instanceNormRef(x, scale, bias, Math.fround(epsilon ?? 1e-5));
  return { graph, feeds: { x: Tensor.fromNumbers('float32', x.shape, x.data) }, expected };
}

describe('InstanceNormalization float32 against the JS reference', () => {
  it.each(IN_CASES.map((c, seed) => ({ ...c, seed })))('$name', async ({ seed, ...c }) => {
    const { graph, feeds, expected } = buildInstanceNorm(c, seed);
    expect(graph.outputs[0].shape).toEqual(c.dims);
    expectClose((await runAndCheckShapes(graph, feeds)).y, expected);
  });

  it('every case passes onnx 1.12 (checker + strict shape inference against our value_info)', () => {
    expectOnnxValid(IN_CASES.map((c, seed) => serializeModel(buildInstanceNorm(c, seed).graph)));
  });
});

describe('InstanceNormalization in float64', () => {
  it('has no onnxruntime kernel (so the OpDef says so, and GroupNorm keeps its composite there)', async () => {
    expect(InstanceNormalizationOp.float64Kernel).toBe(false);
    const g = new Graph('in64');
    const p = g.initializer('p', Tensor.zeros('float64', [2]));
    g.output('y', instanceNorm(g, g.input('x', 'float64', [1, 2, 3]), p, p));
    await expect(ort.InferenceSession.create(serializeModel(g))).rejects.toThrow(/Could not find an implementation for InstanceNormalization/);
  });

  it('its VJP rule, run in float64 apart from the forward node, matches central differences of the JS reference in every entry', async () => {
    const shape = [2, 3, 2, 3];
    const epsilon = 0.01;
    const random = seededRandom(800);
    const x = randomArray(random, shape, 'float64', 2);
    const scale = randomArray(random, [3], 'float64').data;
    const bias = randomArray(random, [3], 'float64').data;
    const u = randomArray(random, shape, 'float64').data;
    // The rule reads the node only for its epsilon; the node's own graph is never run.
    const scratch = new Graph('forward');
    const forward = instanceNorm(scratch, scratch.input('x', 'float64', shape), scratch.input('s', 'float64', [3]), scratch.input('b', 'float64', [3]), { epsilon });
    const node = (forward.source as { node: Node }).node;
    const g = new Graph('in_vjp');
    const inputs = [g.input('x', 'float64', shape), g.input('scale', 'float64', [3]), g.input('bias', 'float64', [3])];
    const rule = InstanceNormalizationOp.vjp as VjpRule;
    const grads = rule({ node, inputs, captures: [], outputs: node.outputs, gradOutputs: [g.input('u', 'float64', shape)], wants: [true, true, true], graph: g });
    grads.forEach((v, i) => g.output(`grad${i}`, v!));
    const f64 = (s: number[], values: number[]) => Tensor.fromNumbers('float64', s, values);
    const out = await runGraph(g, { x: f64(shape, x.data), scale: f64([3], scale), bias: f64([3], bias), u: f64(shape, u) });

    // L = ⟨u, y⟩ as a function of one flat parameter vector [x, scale, bias].
    const loss = (p: number[]) => {
      const y = instanceNormRef({ shape, data: p.slice(0, x.data.length) }, p.slice(x.data.length, -3), p.slice(-3), Math.fround(epsilon));
      return y.reduce((acc, v, i) => acc + v * u[i], 0);
    };
    const point = [...x.data, ...scale, ...bias];
    const h = 1e-5;
    const numeric = point.map((_, k) => (loss(point.map((v, j) => (j === k ? v + h : v))) - loss(point.map((v, j) => (j === k ? v - h : v)))) / (2 * h));
    const analytic = [0, 1, 2].flatMap((i) => out[`grad${i}`].toNumbers());
    // Central differences at h = 1e-5 of an O(1) smooth function: ~1e-10 truncation and rounding.
    expect(analytic.length).toBe(numeric.length);
    analytic.forEach((a, k) => expect(Math.abs(a - numeric[k]), `entry ${k}: ${a} vs ${numeric[k]}`).toBeLessThan(1e-8 * Math.max(1, Math.abs(numeric[k]))));
  });
});

describe('InstanceNormalization build-time errors', () => {
  const build = (xShape: number[], channels: number) => () => {
    const g = new Graph('bad');
    const p = g.initializer('p', Tensor.zeros('float32', [channels]));
    return g.scope('norm', () => instanceNorm(g, g.input('x', 'float32', xShape), p, p));
  };

  it('names a scale whose length is not the channel count', () => {
    expect(build([2, 3, 5], 4)).toThrow(/InstanceNormalization 'norm\/InstanceNormalization_0': scale must be \[3\] \(one entry per channel of X\), got \[4\]/);
  });

  it('rejects an input without a spatial dim', () => {
    expect(build([2, 3], 3)).toThrow(/InstanceNormalization '.*': input must be \[N,C,D1,...\] \(rank >= 3\), got rank 2/);
  });
});
