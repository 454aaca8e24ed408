// Shared by the fixed-point tests: build a module into an inference or a
// gradient graph (parameters as graph inputs, so finite differences can move
// them), run it through onnxruntime, and compare gradients with central
// differences.
import { expect } from 'vitest';
import { backward } from '../../src/autodiff/transform.js';
import { Graph, Tensor, type Dim, type DType, type Value } from '../../src/ir/index.js';
import { add, mul, reduceSum } from '../../src/ops/index.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { lowerFixedPoint } from '../../src/lower/fixed-point.js';
import { BuildContext, type Module, type ParamInfo } from '../../src/twnn/module.js';
import { expectOnnxValid } from '../helpers/onnx-checker.js';
import { compileGraph } from '../helpers/ort.js';
import { randn, seededRandom } from '../helpers/rng.js';

/** A network to build: the module, its input shape (batch first) and build settings. */
export interface NetCase {
  net: Module;
  /** Input `x` shape, e.g. `['B', 4]`. */
  input: readonly Dim[];
  /** Default float64. */
  dtype?: DType;
  /** Default 0. */
  seed?: number;
  /** Parameter values replacing the drawn ones, by name. */
  weights?: ReadonlyMap<string, Tensor>;
}

/** A graph built from a NetCase, with what the tests feed and read. */
export interface BuiltCase {
  graph: Graph;
  ctx: BuildContext;
  params: ParamInfo[];
  /** Region names, in build order (the suffix of the per-region outputs). */
  regions: string[];
}

/**
 * The forward network of `c` in inference mode: input `x` and the parameters
 * (graph inputs), outputs `y` and per region `iterations.<region>`,
 * `residual.<region>`.
 *
 * @example const { graph, params } = inferenceGraph({ net, input: ['B', 4] });
 */
export function inferenceGraph(c: NetCase): BuiltCase {
  const { graph, ctx, y } = buildNet(c, false);
  graph.output('y', y);
  for (const r of ctx.iterators) {
    graph.output(`iterations.${r.region}`, r.iterations);
    graph.output(`residual.${r.region}`, r.residual);
  }
  return { graph, ctx, params: ctx.params, regions: ctx.iterators.map((r) => r.region) };
}

/**
 * The training-mode network of `c` with the loss L = Σ u ⊙ y (`u` a graph
 * input shaped like y), plus `extra`'s term when given: outputs `y`, `loss`, `grad.<param>` for every
 * parameter, `grad.x`, and per region `iterations.<region>`,
 * `residual.<region>`, `iterations_backward.<region>`.
 *
 * @example const { graph } = gradientGraph({ net, input: ['B', 4] });
 */
export function gradientGraph(c: NetCase, extra?: LossTerm): BuiltCase {
  const { graph, ctx, x, y } = buildNet(c, true);
  const u = graph.input('u', y.dtype, y.shape);
  const term = extra && graph.output(extra.name, extra.term(graph, ctx));
  const dot = reduceSum(graph, mul(graph, u, y), [], false);
  const loss = term ? add(graph, dot, term) : dot;
  const params = ctx.params.map((p) => graph.inputs.find((v) => v.name === p.name)!);
  const grads = backward(graph, loss, [...params, x]);
  graph.output('y', y);
  graph.output('loss', loss);
  ctx.params.forEach((p, i) => graph.output(`grad.${p.name}`, grads[i]));
  graph.output('grad.x', grads[grads.length - 1]);
  for (const r of ctx.iterators) {
    graph.output(`iterations.${r.region}`, r.iterations);
    graph.output(`residual.${r.region}`, r.residual);
    if (r.backwardIterations) graph.output(`iterations_backward.${r.region}`, r.backwardIterations);
  }
  return { graph, ctx, params: ctx.params, regions: ctx.iterators.map((r) => r.region) };
}

/** A term added to gradientGraph's loss (and output under `name`), e.g. a region's Jacobian penalty. */
export interface LossTerm {
  name: string;
  term: (graph: Graph, ctx: BuildContext) => Value;
}

function buildNet(c: NetCase, training: boolean): { graph: Graph; ctx: BuildContext; x: Value; y: Value } {
  const dtype = c.dtype ?? 'float64';
  const graph = new Graph(training ? 'region_grad' : 'region_inference');
  const ctx = new BuildContext(graph, { dtype, seed: c.seed ?? 0, mode: 'input', weights: c.weights, training, lowerRegion: lowerFixedPoint });
  const x = graph.input('x', dtype, c.input);
  return { graph, ctx, x, y: c.net.build(ctx, x) };
}

/**
 * Every parameter's value as a feed.
 *
 * @example const feeds = { x, ...paramFeeds(built.params) };
 */
export function paramFeeds(params: readonly ParamInfo[]): Record<string, Tensor> {
  return Object.fromEntries(params.map((p) => [p.name, p.value]));
}

/** A compiled graph that can be run many times. */
export type Runner = Awaited<ReturnType<typeof compileGraph>>;

/**
 * Serialize `graph`, check it with onnx's checker (full_check), and compile it.
 *
 * @example const run = await checkedRunner(built.graph);
 */
export async function checkedRunner(graph: Graph): Promise<Runner> {
  const bytes = serializeModel(graph);
  expectOnnxValid(bytes);
  return compileGraph(graph);
}

/**
 * Standard normal numbers as a tensor, reproducible from `seed`.
 *
 * @example const x = randomTensor([4, 3], 1);
 */
export function randomTensor(shape: readonly number[], seed: number, scale = 1, dtype: DType = 'float64'): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.fromNumbers(dtype, shape, randn(seededRandom(seed), n).map((v) => v * scale));
}

/** `t + s·d` elementwise, same dtype and shape. */
export function shifted(t: Tensor, d: readonly number[], s: number): Tensor {
  return Tensor.fromNumbers(t.dtype, t.shape, t.toNumbers().map((v, i) => v + s * d[i]));
}

/**
 * Central difference of a scalar output along direction `d` of feed `name`:
 * (f(feed + εd) − f(feed − εd)) / 2ε.
 *
 * @example const numeric = await centralDifference(run, feeds, 'x', dir, 'loss', 1e-5);
 */
export async function centralDifference(
  run: Runner,
  feeds: Record<string, Tensor>,
  name: string,
  d: readonly number[],
  output: string,
  eps: number,
): Promise<number> {
  const at = async (s: number) => (await run.run({ ...feeds, [name]: shifted(feeds[name], d, s * eps) }))[output].get(0);
  return ((await at(1)) - (await at(-1))) / (2 * eps);
}

/** ⟨a, b⟩. */
export function dot(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Largest elementwise |a − b|, relative to the largest |b| (at least `floor`).
 *
 * @example expect(relativeError(implicit, unrolled)).toBeLessThan(1e-8);
 */
export function relativeError(a: readonly number[], b: readonly number[], floor = 1e-12): number {
  if (a.length !== b.length) throw new Error(`relativeError: lengths ${a.length} and ${b.length} differ`);
  // A loop, not Math.max(...spread): parameter tensors overflow the call stack.
  let scale = floor;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  return diff / scale;
}

/** Row `b` of a batch-first tensor as a one-sample tensor. */
export function sampleOf(t: Tensor, b: number): Tensor {
  const per = t.size / t.shape[0];
  return Tensor.fromNumbers(t.dtype, [1, ...t.shape.slice(1)], t.toNumbers().slice(b * per, (b + 1) * per));
}

/**
 * The parameters' values as a `weights` map, those whose name contains
 * `match` multiplied by `factor` (strong wormholes: larger projections).
 *
 * @example const weights = scaledWeights(built.params, 'proj', 10);
 */
export function scaledWeights(params: readonly ParamInfo[], match: string, factor: number): Map<string, Tensor> {
  return new Map(
    params.map((p) => [p.name, p.name.includes(match) ? Tensor.fromNumbers(p.dtype, p.shape, p.value.toNumbers().map((v) => v * factor)) : p.value]),
  );
}

/**
 * Check `grad.<param>` (every parameter) and `grad.x` of a gradient-graph run
 * against central differences of `loss` along a random direction of each:
 * |analytic − numeric| must stay below `rtol` times max(|numeric|, 1e-3 ·
 * ‖gradient‖·‖direction‖) (so a near-orthogonal direction does not demand
 * more than the gradient's own size allows), plus the difference's rounding
 * floor 10·ulp(loss)/ε.
 *
 * @example await expectCentralDifferences(run, feeds, out, built.params, { eps: 1e-5, rtol: 1e-6 });
 */
export async function expectCentralDifferences(
  run: Runner,
  feeds: Record<string, Tensor>,
  out: Record<string, Tensor>,
  params: readonly ParamInfo[],
  options: { eps: number; rtol: number; seed?: number },
): Promise<void> {
  const machineEps = out.loss.dtype === 'float32' ? 2 ** -23 : 2 ** -52;
  const roundingFloor = (10 * machineEps * Math.max(1, Math.abs(out.loss.get(0)))) / options.eps;
  const targets = [...params.map((p) => p.name), 'x'];
  for (const [k, name] of targets.entries()) {
    const direction = randomTensor(feeds[name].shape, (options.seed ?? 100) + k).toNumbers();
    const numeric = await centralDifference(run, feeds, name, direction, 'loss', options.eps);
    const gradient = out[`grad.${name}`].toNumbers();
    const analytic = dot(gradient, direction);
    const scale = Math.max(Math.abs(numeric), 1e-3 * Math.hypot(...gradient) * Math.hypot(...direction));
    expect(Math.abs(analytic - numeric), `grad.${name}: analytic ${analytic} vs numeric ${numeric}`).toBeLessThan(options.rtol * scale + roundingFloor);
  }
}

/** Two gradient graphs of one network run on the same feeds: their outputs, the first's runner (still open) and the gradient names. */
export interface GradientPair {
  a: Record<string, Tensor>;
  b: Record<string, Tensor>;
  /** The first graph's runner, for central differences; release it when done. */
  runA: Runner;
  feeds: Record<string, Tensor>;
  params: ParamInfo[];
  /** `grad.<param>` for every parameter, then `grad.x`. */
  names: string[];
}

/**
 * Build both cases' gradient graphs (checked by onnx's checker), run them on
 * `inputs` plus the first's parameter values, and release the second.
 *
 * @example const { a, b, runA, names } = await runGradientPair(twnn({ backward: 'implicit' }), twnn({ backward: 'unrolled' }), { x, u });
 */
export async function runGradientPair(first: NetCase, second: NetCase, inputs: Record<string, Tensor>): Promise<GradientPair> {
  const builtA = gradientGraph(first);
  const builtB = gradientGraph(second);
  const feeds = { ...inputs, ...paramFeeds(builtA.params) };
  const runA = await checkedRunner(builtA.graph);
  const runB = await checkedRunner(builtB.graph);
  const a = await runA.run(feeds);
  const b = await runB.run(feeds);
  await runB.release();
  return { a, b, runA, feeds, params: builtA.params, names: [...builtA.params.map((p) => `grad.${p.name}`), 'grad.x'] };
}

/**
 * Every gradient of `pair` agrees between its two graphs to `tol` (relativeError).
 *
 * @example expectGradientsAgree(pair, 1e-9, 'implicit vs unrolled');
 */
export function expectGradientsAgree(pair: GradientPair, tol: number, what: string): void {
  for (const name of pair.names) expect(relativeError(pair.a[name].toNumbers(), pair.b[name].toNumbers()), `${name}: ${what}`).toBeLessThan(tol);
}
