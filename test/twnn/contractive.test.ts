// Contractive regions (issue 24, item 1; src/twnn/contractive.ts): the sweep's
// Lipschitz constant in the state, measured from central-difference Jacobians of
// the real sweep graph, stays under the stated bound while a small dense TWNN
// trains at an aggressive learning rate; the same TWNN without the option goes
// past 1. Gradients by central differences in float64; refusals by name.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import sineContractive from '../../graphs/sine-contractive.js';
import { iteratorRecords } from '../../src/contract/iterator-record.js';
import { formatInspect, inspectModel } from '../../src/contract/inspect.js';
import { exportModel, type Manifest } from '../../src/index.js';
import { readModelFile } from '../../src/onnx/load.js';
import { expectOnnxValid } from '../helpers/onnx-checker.js';
import { Graph, Tensor, type Value } from '../../src/ir/index.js';
import { buildInferenceGraph } from '../../src/lower/inference.js';
import { lowerFixedPoint } from '../../src/lower/fixed-point.js';
import { basicBlock, conv2d, dense, groupNorm2d, relu, sequential, tanh } from '../../src/twnn/index.js';
import { BuildContext, type Module, type ParamInfo } from '../../src/twnn/module.js';
import { region, type RegionSpec } from '../../src/twnn/region.js';
import { defineModel } from '../../src/twnn/spec.js';
import type { RegionLowering } from '../../src/twnn/iterator.js';
import { checkedRunner, expectCentralDifferences, gradientGraph, paramFeeds, randomTensor, runGradientPair, expectGradientsAgree, scaledWeights, type NetCase, type Runner } from '../lower/region-helpers.js';

const D = 6;

function twnn(extra: Partial<RegionSpec> = {}): Module {
  return sequential(
    dense(3, D),
    region({
      blocks: [sequential(dense(D, D), tanh()), sequential(dense(D, D), tanh())],
      wormholes: [{ from: 2, to: 1, gateBias: 0 }],
      iterate: { tol: 1e-12, maxIter: 80, onMaxIter: 'warn' },
      backwardTol: 1e-12,
      ...extra,
    }),
    dense(D, 2),
  );
}

/** A lowering that emits one sweep at a fed state `s0` and outputs F(s0) as `f0`: the real sweep, no Loop. */
const oneSweep: RegionLowering = (sweeps) => {
  const g = sweeps.graph;
  const states = sweeps.first.sources.map((s, i) => g.input(`s${i}`, s.dtype, s.shape));
  const r = sweeps.sweep(states, g);
  r.sources.forEach((v, i) => g.output(`f${i}`, v));
  return r.output;
};

function sweepGraph(net: Module): { graph: Graph; params: ParamInfo[] } {
  const graph = new Graph('one_sweep');
  const ctx = new BuildContext(graph, { dtype: 'float64', seed: 0, mode: 'input', lowerRegion: oneSweep });
  const x: Value = graph.input('x', 'float64', ['B', 3]);
  net.build(ctx, x);
  return { graph, params: ctx.params };
}

/** Largest singular value of a d×d matrix (row-major), by power iteration on JᵀJ. */
function spectralNorm(j: number[], d: number): number {
  let v = Array.from({ length: d }, (_, i) => 1 + i / d);
  let lambda = 0;
  for (let it = 0; it < 500; it++) {
    const jv = Array.from({ length: d }, (_, r) => v.reduce((s, vk, k) => s + j[r * d + k] * vk, 0));
    const w = Array.from({ length: d }, (_, k) => jv.reduce((s, x, r) => s + j[r * d + k] * x, 0));
    lambda = Math.hypot(...w);
    v = w.map((x) => x / lambda);
  }
  return Math.sqrt(lambda);
}

/**
 * max over `rows` random (x, S) of ‖∂F/∂S‖₂, each Jacobian by central differences
 * in float64 on the one-sweep graph at the given weights.
 */
async function sweepLipschitz(run: Runner, weights: Record<string, Tensor>, rows: number, seed: number): Promise<number> {
  const x = randomTensor([rows, 3], seed);
  const s = randomTensor([rows, D], seed + 1, 2);
  const eps = 1e-6;
  const jac: number[][] = Array.from({ length: rows }, () => new Array<number>(D * D).fill(0));
  for (let k = 0; k < D; k++) {
    const at = async (sign: number) => {
      const moved = s.toNumbers().map((v, i) => (i % D === k ? v + sign * eps : v));
      return (await run.run({ ...weights, x, s0: Tensor.fromNumbers('float64', [rows, D], moved) })).f0.toNumbers();
    };
    const [plus, minus] = [await at(1), await at(-1)];
    for (let b = 0; b < rows; b++) for (let r = 0; r < D; r++) jac[b][r * D + k] = (plus[b * D + r] - minus[b * D + r]) / (2 * eps);
  }
  return Math.max(...jac.map((j) => spectralNorm(j, D)));
}

/**
 * Plain SGD on the MSE to fixed targets, `steps` steps at `lr`, through the real
 * implicit gradient; calls `probe` with the weights before the first step and
 * every `every` steps.
 */
async function train(c: NetCase, lr: number, steps: number, every: number, probe: (w: Record<string, Tensor>, step: number) => Promise<void>): Promise<number[]> {
  const built = gradientGraph(c);
  const run = await checkedRunner(built.graph);
  const x = randomTensor([16, 3], 5);
  const target = randomTensor([16, 2], 6, 3);
  let weights = paramFeeds(built.params);
  const losses: number[] = [];
  try {
    for (let step = 0; step <= steps; step++) {
      if (step % every === 0) await probe(weights, step);
      if (step === steps) break;
      const zero = Tensor.fromNumbers('float64', [16, 2], new Array<number>(32).fill(0));
      const y = (await run.run({ ...weights, x, u: zero })).y.toNumbers();
      const t = target.toNumbers();
      losses.push(y.reduce((a, v, i) => a + (v - t[i]) ** 2, 0) / y.length);
      const u = Tensor.fromNumbers('float64', [16, 2], y.map((v, i) => (2 * (v - t[i])) / y.length));
      const out = await run.run({ ...weights, x, u });
      weights = Object.fromEntries(
        built.params.map((p) => [p.name, Tensor.fromNumbers('float64', p.shape, weights[p.name].toNumbers().map((v, i) => v - lr * out[`grad.${p.name}`].get(i)))]),
      );
    }
  } finally {
    await run.release();
  }
  return losses;
}

async function lipschitzDuringTraining(extra: Partial<RegionSpec>): Promise<{ lips: number[]; losses: number[] }> {
  const sweep = await checkedRunner(sweepGraph(twnn(extra)).graph);
  const lips: number[] = [];
  try {
    const losses = await train({ net: twnn(extra), input: ['B', 3] }, 0.5, 40, 8, async (w, step) => {
      lips.push(await sweepLipschitz(sweep, w, 6, 40 + step));
    });
    return { lips, losses };
  } finally {
    await sweep.release();
  }
}

describe('a contractive region', () => {
  it('keeps the measured Lipschitz constant of its sweep under the bound throughout aggressive training; without the option it passes 1', async () => {
    const bounded = await lipschitzDuringTraining({ contractive: { bound: 0.8 } });
    const free = await lipschitzDuringTraining({});
    console.log('contractive (bound 0.8): Lip', bounded.lips.map((l) => l.toFixed(3)).join(' '), 'loss', bounded.losses[0].toFixed(3), '->', bounded.losses.at(-1)!.toFixed(3));
    console.log('unconstrained:          Lip', free.lips.map((l) => l.toFixed(3)).join(' '), 'loss', free.losses[0].toFixed(3), '->', free.losses.at(-1)!.toFixed(3));
    for (const l of bounded.lips) expect(l).toBeLessThan(0.8);
    // Training really moved the weights: the loss fell, and stayed finite.
    expect(bounded.losses.every(Number.isFinite)).toBe(true);
    expect(bounded.losses.at(-1)!).toBeLessThan(bounded.losses[0]);
    // The unconstrained one passes 1 before its weights blow up (NaN after).
    expect(Math.max(...free.lips.filter(Number.isFinite))).toBeGreaterThan(1);
  }, 600_000);

  it.each(['implicit', 'unrolled'] as const)('has the %s gradient of central differences in float64', async (backward) => {
    // Strong projections (×10), so the scale α = min(1, β/‖P‖) is below 1 and differentiated.
    const net = twnn({ contractive: { bound: 0.9 }, backward });
    const built = gradientGraph({ net, input: ['B', 3], weights: scaledWeights(gradientGraph({ net, input: ['B', 3] }).params, 'proj', 10) });
    const run = await checkedRunner(built.graph);
    const feeds = { x: randomTensor([4, 3], 1), u: randomTensor([4, 2], 2), ...paramFeeds(built.params) };
    const out = await run.run(feeds);
    expect(Math.max(...out['iterations.1'].toNumbers())).toBeLessThan(80);
    await expectCentralDifferences(run, feeds, out, built.params, { eps: 1e-5, rtol: 1e-6 });
    await run.release();
  }, 300_000);

  it("has phantom:k's gradient equal to the implicit one once k terms cover the series", async () => {
    const inputs = { x: randomTensor([4, 3], 1), u: randomTensor([4, 2], 2) };
    const pair = await runGradientPair(
      { net: twnn({ contractive: { bound: 0.9 }, backward: 'phantom:60' }), input: ['B', 3] },
      { net: twnn({ contractive: { bound: 0.9 } }), input: ['B', 3] },
      inputs,
    );
    await pair.runA.release();
    expectGradientsAgree(pair, 1e-9, 'phantom:60 vs implicit');
  }, 300_000);

  it('reaches its bound where the bound is tight: one linear block, a rank-one weight, an open gate', async () => {
    // F(S) = W(h + g ⊙ α·S) + b with g ≈ 1: Lip = α‖W‖₂ = min(1, ρ/‖W‖_S8)·‖W‖₂ = ρ, since ‖W‖_S8 = ‖W‖₂ at rank one.
    const net = sequential(
      dense(3, D),
      region({ blocks: [dense(D, D)], wormholes: [{ from: 1, to: 1, gateBias: 40, projection: 'identity' }], contractive: { bound: 0.7 } }),
    );
    const a = [1, -2, 0.5, 3, 0, 1];
    const b = [0.3, 0.1, -1, 2, 1, -0.5];
    const { graph, params } = sweepGraph(net);
    const run = await checkedRunner(graph);
    const weights = { ...paramFeeds(params), '1.b1.weight': Tensor.fromNumbers('float64', [D, D], a.flatMap((x) => b.map((y) => x * y))) };
    const lip = await sweepLipschitz(run, weights, 3, 7);
    await run.release();
    expect(Math.abs(lip - 0.7)).toBeLessThan(1e-6);
  });
});

describe('a contractive conv region', () => {
  // float32 (onnxruntime has no float64 Conv): the whole Jacobian from one batch whose rows are the
  // state moved by ±ε along each coordinate; ReLU networks are piecewise linear, so ε = 1e-2 is exact
  // but near kinks.
  it.each([
    ['an up-sampling ConvTranspose projection (B2 strided)', 2, [8, 4, 4]],
    ['a 1x1 conv projection', 1, [8, 8, 8]],
  ] as const)('keeps its sweep under the bound with %s', async (_, stride, state) => {
    const net = sequential(
      conv2d(1, 4, 3, { padding: 1 }),
      region({
        blocks: { B1: basicBlock(4, 4, { norm: 'none' }), B2: basicBlock(4, 8, { stride, norm: 'none' }) },
        wormholes: [{ from: 'B2', to: 'B1', gateBias: 10 }],
        contractive: { bound: 0.9 },
      }),
    );
    const graph = new Graph('one_sweep');
    const ctx = new BuildContext(graph, { dtype: 'float32', seed: 0, mode: 'input', lowerRegion: oneSweep });
    net.build(ctx, graph.input('x', 'float32', ['B', 1, 8, 8]));
    const run = await checkedRunner(graph);
    // Projections ×10, so the scale α is what holds the bound.
    const weights = Object.fromEntries(
      ctx.params.map((p) => [p.name, p.name.includes('proj') ? Tensor.fromNumbers('float32', p.shape, p.value.toNumbers().map((v) => 10 * v)) : p.value]),
    );
    const d = state[0] * state[1] * state[2];
    const eps = 1e-2;
    const x0 = randomTensor([1, 1, 8, 8], 3).toNumbers();
    const s0 = randomTensor([1, d], 4).toNumbers();
    const rows = 2 * d;
    const xs = Tensor.fromNumbers('float32', [rows, 1, 8, 8], Array.from({ length: rows }, () => x0).flat());
    const ss = Tensor.fromNumbers('float32', [rows, ...state], Array.from({ length: rows }, (_, r) => s0.map((v, i) => (i === r >> 1 ? v + (r % 2 ? -eps : eps) : v))).flat());
    const f = (await run.run({ ...weights, x: xs, s0: ss })).f0.toNumbers();
    await run.release();
    const jac = new Array<number>(d * d);
    for (let k = 0; k < d; k++) for (let r = 0; r < d; r++) jac[r * d + k] = (f[2 * k * d + r] - f[(2 * k + 1) * d + r]) / (2 * eps);
    const lip = spectralNorm(jac, d);
    console.log(`conv region, stride ${stride}: measured Lip ${lip.toFixed(4)} (bound 0.9)`);
    expect(lip).toBeLessThan(0.9);
    expect(lip).toBeGreaterThan(1e-3);
  }, 300_000);
});

describe('an exported contractive model', () => {
  it('records its bound in the manifest and the metadata, which inspect shows; exports are byte-identical and pass onnx\'s checker', async () => {
    const root = mkdtempSync(join(tmpdir(), 'twnn-contractive-'));
    try {
      const [a, b] = [join(root, 'a'), join(root, 'b')];
      await exportModel(sineContractive, a);
      await exportModel(sineContractive, b);
      for (const file of ['model.onnx', 'train.onnx', 'manifest.json']) expect(readFileSync(join(a, file)).equals(readFileSync(join(b, file))), file).toBe(true);
      for (const file of ['model.onnx', 'train.onnx']) expectOnnxValid(readFileSync(join(a, file)));
      const manifest = JSON.parse(readFileSync(join(a, 'manifest.json'), 'utf8')) as Manifest;
      expect(iteratorRecords(manifest.iterators)[0]).toMatchObject({ region: 'region1', contractive: 0.9 });
      const text = formatInspect(inspectModel(await readModelFile(join(a, 'model.onnx'))));
      expect(text).toContain('contractive (Lip ≤ 0.9)');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 300_000);
});

describe('contractive: what it refuses', () => {
  const build = (net: Module, input: (number | string)[] = ['B', 3]) =>
    buildInferenceGraph(defineModel({ name: 'c', input: { shape: input, dtype: 'float' }, net }), {});

  it('checks its bound', () => {
    expect(() => twnn({ contractive: { bound: 1 } })).toThrow('region: contractive.bound must be in (0, 1) (a contraction), got 1');
    expect(() => twnn({ contractive: { bound: 0 } })).toThrow('region: contractive.bound must be in (0, 1)');
    expect(() => twnn({ contractive: { bond: 0.5 } as never })).toThrow("region: contractive: unknown option 'bond' (did you mean 'bound'?)");
  });

  it('needs every wormhole to enter the same block', () => {
    const blocks = [sequential(dense(D, D), tanh()), sequential(dense(D, D), tanh()), sequential(dense(D, D), tanh())];
    expect(() => region({ blocks, wormholes: [{ from: 2, to: 1 }, { from: 3, to: 2 }], contractive: true })).toThrow(
      'region: contractive needs every wormhole to enter the same block, but 2 -> 1 and 3 -> 2 differ',
    );
  });

  it('names a layer on the looped path it cannot bound', () => {
    const net = sequential({
      stem: conv2d(1, 8, 3, { padding: 1 }),
      r: region({
        blocks: { B1: sequential({ conv: conv2d(8, 8, 3, { padding: 1 }), gn: groupNorm2d(4, 8), act: relu() }), B2: basicBlock(8, 8, { norm: 'none' }) },
        wormholes: [{ from: 'B2', to: 'B1' }],
        contractive: true,
      }),
    });
    expect(() => build(net, ['B', 1, 8, 8])).toThrow(
      "region 'r': contractive: block 'B1' on the looped path: layer 'r.B1.gn' (groupNorm2d) has no Lipschitz bound: normalisation divides by a per-sample statistic",
    );
  });
});
