// Forward mode (docs/DESIGN.md §2, paper Eq. 9 first line): buildJvpGraph's y_dot
// against central differences in float64, against reverse mode by the
// dot-product test ⟨u, J ẋ⟩ = ⟨Jᵀu, ẋ⟩ (float32 conv networks, where
// differences are too coarse), per-sample tangent settling, and the checker.
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/autodiff/transform.js';
import { Graph, SpecError, Tensor, type Dim, type DType } from '../../src/ir/index.js';
import { add, gather, loop, mul, reduceSum } from '../../src/ops/index.js';
import { buildJvpGraph } from '../../src/lower/jvp.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { lowerFixedPoint } from '../../src/lower/fixed-point.js';
import { BuildContext, paramWeights, type Module, type ParamInfo } from '../../src/twnn/module.js';
import {
  basicBlock, batchNorm2d, conv2d, defineModel, dense, flatten, globalAvgPool, groupNorm2d, leakyRelu, maxPool2d, relu, sequential, sigmoid, softmax, tanh,
} from '../../src/twnn/index.js';
import { region } from '../../src/twnn/region.js';
import { checkedRunner, dot, randomTensor, relativeError, sampleOf, scaledWeights, shifted } from './region-helpers.js';

const D = 4;
const denseBlock = () => sequential(dense(D, D), tanh());

/** stem -> region (three dense+tanh blocks, wormhole 3 -> 1, open gates) -> head. */
const twnnNet = (gateBias = 0): Module =>
  sequential({
    stem: sequential(dense(3, D), tanh()),
    region1: region({
      blocks: [denseBlock(), denseBlock(), denseBlock()],
      wormholes: [{ from: 3, to: 1, gateBias }],
      iterate: { tol: 1e-14, maxIter: 300 },
      backwardTol: 1e-14,
    }),
    head: dense(D, 2),
  });

const model = (name: string, net: Module, input: readonly Dim[]) => defineModel({ name, input: { shape: input }, net });

/** y_dot at x along xDot, and the central difference of y there, from the JVP graph itself. */
async function jvpAndDifference(
  net: Module, input: readonly Dim[], x: Tensor, xDot: Tensor, eps: number, weights?: ReadonlyMap<string, Tensor>,
): Promise<{ out: Record<string, Tensor>; numeric: number[]; params: ParamInfo[] }> {
  const { graph, params } = buildJvpGraph(model('jvp_case', net, input), { dtype: 'float64', weights });
  const run = await checkedRunner(graph);
  const out = await run.run({ x, x_dot: xDot });
  const plus = (await run.run({ x: shifted(x, xDot.toNumbers(), eps), x_dot: xDot })).y.toNumbers();
  const minus = (await run.run({ x: shifted(x, xDot.toNumbers(), -eps), x_dot: xDot })).y.toNumbers();
  await run.release();
  return { out, numeric: plus.map((p, i) => (p - minus[i]) / (2 * eps)), params };
}

/**
 * ⟨Jᵀu, ẋ⟩ from reverse mode over the network with the same parameters: built
 * in training mode where it has regions (their implicit backward), in
 * inference mode otherwise (BatchNorm on its running statistics, as in the JVP graph).
 */
async function reverseDirectional(
  net: Module, input: readonly Dim[], dtype: DType, params: readonly ParamInfo[], x: Tensor, u: Tensor, xDot: Tensor, training: boolean,
): Promise<number> {
  const g = new Graph('reverse');
  const ctx = new BuildContext(g, { dtype, seed: 0, mode: 'initializer', weights: paramWeights(params), training, lowerRegion: lowerFixedPoint });
  const xIn = g.input('x', dtype, input);
  const y = net.build(ctx, xIn);
  const [gx] = backward(g, reduceSum(g, mul(g, g.input('u', dtype, y.shape), y), [], false), [xIn]);
  g.output('grad_x', gx);
  const run = await checkedRunner(g);
  const out = await run.run({ x, u });
  await run.release();
  return dot(out.grad_x.toNumbers(), xDot.toNumbers());
}

describe('buildJvpGraph', () => {
  it('has inputs x, x_dot and outputs y, y_dot, iterations, residual, iterations_tangent', () => {
    const { graph } = buildJvpGraph(model('mlp', sequential(dense(3, D), tanh(), dense(D, 2)), ['B', 3]), { dtype: 'float64' });
    expect(graph.inputs.map((v) => v.describe())).toEqual(['x: float64[B,3]', 'x_dot: float64[B,3]']);
    expect(graph.outputs.map((v) => v.describe())).toEqual([
      'y: float64[B,2]', 'y_dot: float64[B,2]', 'iterations: int64[B]', 'residual: float64[B]', 'unsettled: int64[B]', 'iterations_tangent: int64[B]',
    ]);
  });

  it('a plain MLP: y_dot equals float64 central differences', async () => {
    const net = sequential(dense(3, 6), tanh(), dense(6, 6), sigmoid(), dense(6, 5), leakyRelu(0.1), dense(5, 3), softmax());
    const x = randomTensor([4, 3], 61);
    const xDot = randomTensor([4, 3], 62);
    const { out, numeric } = await jvpAndDifference(net, ['B', 3], x, xDot, 1e-6);
    expect(relativeError(out.y_dot.toNumbers(), numeric)).toBeLessThan(1e-6);
    expect(Math.max(...out.y_dot.toNumbers().map(Math.abs))).toBeGreaterThan(1e-3);
    expect(out.iterations_tangent.toNumbers()).toEqual([1, 1, 1, 1]);
  });

  it('a TWNN region: the tangent fixed point gives central differences and matches reverse mode', async () => {
    const x = randomTensor([3, 3], 63);
    const xDot = randomTensor([3, 3], 64);
    const { out, numeric, params } = await jvpAndDifference(twnnNet(), ['B', 3], x, xDot, 1e-6);
    expect(relativeError(out.y_dot.toNumbers(), numeric)).toBeLessThan(1e-6);
    // Open gates: the forward loop and the tangent loop both run well past two sweeps.
    expect(out.iterations.toNumbers().every((n) => n > 4)).toBe(true);
    expect(out.iterations_tangent.toNumbers().every((n) => n > 4)).toBe(true);
    expect(out.residual.toNumbers().every((r) => r <= 1e-14)).toBe(true);
    const u = randomTensor([3, 2], 65);
    const reverse = await reverseDirectional(twnnNet(), ['B', 3], 'float64', params, x, u, xDot, true);
    expect(Math.abs(dot(u.toNumbers(), out.y_dot.toNumbers()) - reverse) / Math.abs(reverse)).toBeLessThan(1e-10);
  });

  it('two regions in sequence: y_dot equals central differences, each region iterating its own tangent', async () => {
    const settings = { iterate: { tol: 1e-14, maxIter: 300 }, backwardTol: 1e-14 };
    const net = sequential({
      stem: sequential(dense(3, D), tanh()),
      region1: region({ blocks: [denseBlock(), denseBlock(), denseBlock()], wormholes: [{ from: 3, to: 1, gateBias: 0 }], ...settings }),
      mid: denseBlock(),
      region2: region({ blocks: [denseBlock(), denseBlock()], wormholes: [{ from: 2, to: 1, gateBias: 0 }, { from: 2, to: 2, gateBias: 0 }], ...settings }),
      head: dense(D, 2),
    });
    const x = randomTensor([3, 3], 71);
    const xDot = randomTensor([3, 3], 72);
    const { out, numeric } = await jvpAndDifference(net, ['B', 3], x, xDot, 1e-6);
    expect(relativeError(out.y_dot.toNumbers(), numeric)).toBeLessThan(1e-6);
    expect(out.iterations_tangent.toNumbers().every((n) => n > 8)).toBe(true);
  });

  it('is byte-identical for the same spec and seed', () => {
    const bytes = () => serializeModel(buildJvpGraph(model('twnn', twnnNet(), ['B', 3]), { dtype: 'float64', seed: 5 }).graph);
    expect(Buffer.from(bytes()).equals(Buffer.from(bytes()))).toBe(true);
  });

  it("settles each sample's tangent on its own: a batch gives every sample its y_dot and count alone", async () => {
    const probe = buildJvpGraph(model('probe', twnnNet(4), ['B', 3]), { dtype: 'float64' });
    const weights = scaledWeights(probe.params, 'proj', 10);
    const scales = [0.01, 1, 8, 0.2];
    const base = randomTensor([scales.length, 3], 66);
    const x = Tensor.fromNumbers('float64', base.shape, base.toNumbers().map((v, i) => v * scales[Math.floor(i / 3)]));
    const xDot = randomTensor([scales.length, 3], 67);
    const { graph } = buildJvpGraph(model('strong', twnnNet(4), ['B', 3]), { dtype: 'float64', weights });
    const run = await checkedRunner(graph);
    const batch = await run.run({ x, x_dot: xDot });
    expect(new Set(batch.iterations_tangent.toNumbers()).size).toBeGreaterThan(1);
    for (let b = 0; b < scales.length; b++) {
      const alone = await run.run({ x: sampleOf(x, b), x_dot: sampleOf(xDot, b) });
      expect(relativeError(sampleOf(batch.y_dot, b).toNumbers(), alone.y_dot.toNumbers(), 1)).toBeLessThan(1e-12);
      expect(batch.iterations_tangent.get(b), `sample ${b}`).toBe(alone.iterations_tangent.get(0));
      expect(batch.iterations.get(b), `sample ${b}`).toBe(alone.iterations.get(0));
    }
    await run.release();
  });

  it.each([
    ['a residual conv network (BatchNorm, MaxPool, global pooling)', false, () =>
      sequential({
        stem: sequential(conv2d(1, 4, 3, { padding: 1, bias: false }), batchNorm2d(4), relu()),
        B1: basicBlock(4, 8, { stride: 2 }),
        pool: maxPool2d(2),
        gap: globalAvgPool(),
        flatten: flatten(),
        head: dense(8, 3),
      })],
    ['a conv TWNN region (ConvTranspose wormhole projection)', true, () =>
      sequential({
        stem: conv2d(1, 2, 3, { padding: 1 }),
        region1: region({
          blocks: [sequential(conv2d(2, 2, 3, { padding: 1 }), tanh()), sequential(conv2d(2, 2, 3, { stride: 2, padding: 1 }), tanh())],
          wormholes: [{ from: 2, to: 1, gateBias: 0 }],
          iterate: { tol: 1e-6, maxIter: 100 },
          backwardTol: 1e-6,
        }),
        flatten: flatten(),
        head: dense(2 * 16, 3),
      })],
    // The fused kernel's VJP rule, transposed: every op it emits must have a VJP rule itself.
    ['a conv TWNN region with GroupNorm blocks (InstanceNormalization)', true, () =>
      sequential({
        stem: conv2d(1, 4, 3, { padding: 1 }),
        region1: region({
          blocks: [sequential(conv2d(4, 4, 3, { padding: 1 }), groupNorm2d(2, 4), tanh()), sequential(conv2d(4, 4, 3, { stride: 2, padding: 1 }), groupNorm2d(2, 4), tanh())],
          wormholes: [{ from: 2, to: 1, gateBias: -1 }],
          iterate: { tol: 1e-6, maxIter: 100 },
          backwardTol: 1e-6,
        }),
        flatten: flatten(),
        head: dense(4 * 16, 3),
      })],
  ] as const)('%s in float32: ⟨u, y_dot⟩ equals ⟨grad x, x_dot⟩ from reverse mode', async (_label, hasRegion, makeNet) => {
    const input: Dim[] = ['B', 1, 8, 8];
    const { graph, params } = buildJvpGraph(model('conv', makeNet(), input), { dtype: 'float32', seed: 3 });
    const x = randomTensor([2, 1, 8, 8], 68, 1, 'float32');
    const xDot = randomTensor([2, 1, 8, 8], 69, 1, 'float32');
    const u = randomTensor([2, 3], 70, 1, 'float32');
    const run = await checkedRunner(graph);
    const out = await run.run({ x, x_dot: xDot });
    await run.release();
    const forward = dot(u.toNumbers(), out.y_dot.toNumbers());
    const reverse = await reverseDirectional(makeNet(), input, 'float32', params, x, u, xDot, hasRegion);
    // Both are exact derivatives evaluated in float32 (and the region's loops stop at tol 1e-6): ~1e-5 relative.
    expect(Math.abs(forward - reverse) / Math.abs(reverse), `forward ${forward} vs reverse ${reverse}`).toBeLessThan(1e-4);
  });

  it('names the node when an op on the path has no VJP rule to transpose', () => {
    // A generic ONNX Loop (not a region) has no VJP rule.
    const runningSum: Module = {
      kind: 'runningSum',
      build: (ctx, x) => loop(ctx.graph, {
        name: 'running_sum',
        maxTrip: 3,
        carried: [x],
        body: (b, it) => ({ carried: [add(b, it.carried[0], gather(b, x, 0, 0))] }),
      }).carried[0],
    };
    const build = () => buildJvpGraph(model('loopy', sequential(dense(3, 3), runningSum), ['B', 3]), { dtype: 'float64' });
    expect(build).toThrow(SpecError);
    expect(build).toThrow(/^forward mode: Loop '1\/Loop_\d+' has no VJP rule to transpose, but y_dot depends on it$/);
  });
});
