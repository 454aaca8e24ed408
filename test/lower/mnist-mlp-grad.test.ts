// The TWNN MNIST MLP's grad.onnx (graphs/mnist-mlp.ts: stem, region of three
// dense+tanh blocks with the wormhole 3 -> 1, implicit backward, head) is exact
// in float64: random-direction central differences of its own loss on 8 real
// MNIST test images, for every parameter jointly and for the input, to 1e-6.
//
// The implicit backward is the exact gradient of the loss at the fixed point
// S* = F(S*), but the forward Loop stops once max|ΔS| <= tol, so grad.onnx's
// loss is L(S_K), K sweeps, within ~tol of S*; and K can jump as θ moves. So
// the check runs twice:
// - on the graph file as written (tol 1e-3): with its initial, closed gates
//   every sample stops after K = 2 sweeps with a residual of ~5e-4 (far from
//   tol on both sides of the difference) and F contracts by ~1e-2, so the
//   derivatives of L(S_2) and L(S*) agree to ~1e-8 (measured);
// - on a copy with tol = backwardTol = 1e-14, where the forward fixed point
//   and the adjoint are converged to float64 rounding and the difference
//   quotient is of L(S*) itself, whatever the gates: the check that stays
//   meaningful after training opens them.
// The tolerance separates the exact adjoint from a truncated one: phantom:1
// (w = ḡ, no adjoint steps) misses by ~5e-6 here.
import { describe, expect, it } from 'vitest';
import mnistMlp from '../../graphs/mnist-mlp.js';
import { loadMnist } from '../../src/data/mnist.js';
import { defineModel, dense, region, relu, sequential, tanh, Tensor, type ModelSpec, type RegionModule, type SequentialModule } from '../../src/index.js';
import { buildInferenceGraph } from '../../src/lower/inference.js';
import { buildGradGraph } from '../../src/lower/training.js';
import { compileGraph, runGraph } from '../helpers/ort.js';
import { randn, seededRandom } from '../helpers/rng.js';

const TOL = 1e-14;
const BATCH = 8;
// A central difference's truncation error grows like (ε‖v‖)²: ‖v‖ ≈ 770 over the ~600k parameters
// against ≈ 79 over x's 6272 entries, so the parameter step is 10x smaller (measured relative
// error: 1e-7 at ε = 1e-5, 1e-9 at 1e-6).
const EPS_PARAMS = 1e-6;
const EPS_X = 1e-5;

/** graphs/mnist-mlp.ts with the region's forward and adjoint tolerances set to `tol` (everything else as written there). */
function withTolerance(tol: number): ModelSpec {
  const block = () => sequential(dense(256, 256), tanh());
  return defineModel({
    name: 'mnist-mlp',
    input: { shape: [...mnistMlp.input.shape] },
    net: sequential({
      stem: sequential(dense(784, 256), relu()),
      region1: region({
        blocks: [block(), block(), block()],
        wormholes: [{ from: 3, to: 1, gateBias: -4 }],
        iterate: { tol, maxIter: 300 },
        backward: 'implicit',
        backwardTol: tol,
      }),
      head: dense(256, 10),
    }),
    ...(mnistMlp.task ? { task: mnistMlp.task } : {}),
  });
}

function regionOf(spec: ModelSpec): RegionModule {
  return (spec.net as SequentialModule).children.find(([name]) => name === 'region1')![1] as RegionModule;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

describe('graphs/mnist-mlp.ts grad.onnx in float64', () => {
  const spec = withTolerance(TOL);

  it('the tight-tolerance copy is graphs/mnist-mlp.ts but for tol and backwardTol', () => {
    const { tol, backwardTol, ...config } = regionOf(spec).config;
    const { tol: tol0, backwardTol: backwardTol0, ...config0 } = regionOf(mnistMlp).config;
    expect([tol, backwardTol, tol0, backwardTol0]).toEqual([TOL, TOL, 1e-3, 1e-3]);
    expect(config).toEqual(config0);
    expect(regionOf(spec).wormholes).toEqual(regionOf(mnistMlp).wormholes);
    const params = (s: ModelSpec) => buildGradGraph(s, { dtype: 'float64' }).params.map((p) => [p.name, p.shape, Array.from(p.value.data as Float64Array)]);
    expect(params(spec)).toEqual(params(mnistMlp));
  });

  it('graphs/mnist-mlp.ts as written (tol 1e-3) matches central differences for all parameters jointly and for x, to 1e-6', async () => {
    // The premise above: every sample settles after 2 sweeps, its residual well inside tol.
    const { graph } = buildInferenceGraph(mnistMlp, { dtype: 'float64' });
    const test = await loadMnist({ split: 'test', layout: 'flat', dtype: 'float64', limit: BATCH });
    const out = await runGraph(graph, { x: test.x });
    expect(out.iterations.toNumbers()).toEqual(Array(BATCH).fill(2));
    for (const r of out.residual.toNumbers()) expect(r).toBeLessThan(0.8e-3);
    await expectExactGradient(mnistMlp);
  });

  it('the tol 1e-14 copy matches central differences for all parameters jointly and for x, to 1e-6', async () => {
    await expectExactGradient(spec);
  });
});

/** ⟨grad, v⟩ from grad.onnx against (L(θ+εv) − L(θ−εv)) / 2ε, for v over every parameter at once, then over x. */
async function expectExactGradient(spec: ModelSpec): Promise<void> {
  const { graph, params, trainable } = buildGradGraph(spec, { dtype: 'float64' });
  expect(trainable).toEqual(params.map((p) => p.name));
  const test = await loadMnist({ split: 'test', layout: 'flat', dtype: 'float64', limit: BATCH });
  const run = await compileGraph(graph);
  const random = seededRandom(2024);
  const vParams = params.map((p) => randn(random, p.value.size));
  const vx = randn(random, test.x.size);
  // Feeds with the parameters moved by t·vParams and x by s·vx.
  const feeds = (t: number, s: number): Record<string, Tensor> => {
    const moved = (base: Tensor, v: number[], by: number) => (by === 0 ? base : Tensor.fromNumbers('float64', base.shape, base.toNumbers().map((b, i) => b + by * v[i])));
    return {
      x: moved(test.x, vx, s),
      target: test.target,
      ...Object.fromEntries(params.map((p, i) => [p.name, moved(p.value, vParams[i], t)])),
    };
  };
  const loss = async (t: number, s: number) => (await run.run(feeds(t, s))).loss.get(0);
  try {
    const at = await run.run(feeds(0, 0));
    const analyticParams = params.reduce((acc, p, i) => acc + dot(at[`grad.${p.name}`].data as Float64Array, vParams[i]), 0);
    const analyticX = dot(at['grad.x'].data as Float64Array, vx);
    const numericParams = ((await loss(EPS_PARAMS, 0)) - (await loss(-EPS_PARAMS, 0))) / (2 * EPS_PARAMS);
    const numericX = ((await loss(0, EPS_X)) - (await loss(0, -EPS_X))) / (2 * EPS_X);
    // Directional derivatives well away from 0, so the relative check means something.
    expect(Math.abs(numericParams)).toBeGreaterThan(1e-2);
    expect(Math.abs(numericX)).toBeGreaterThan(1e-3);
    expect(Math.abs(analyticParams - numericParams) / Math.abs(numericParams), `params: ${analyticParams} vs ${numericParams}`).toBeLessThan(1e-6);
    expect(Math.abs(analyticX - numericX) / Math.abs(numericX), `x: ${analyticX} vs ${numericX}`).toBeLessThan(1e-6);
  } finally {
    await run.release();
  }
}
