// The fixed-point lowering (docs/DESIGN.md §1): analytic fixed points through
// lowerFixedPoint with hand-written sweeps, TWNN regions settling per sample,
// maxIter and divergence reporting, regions inside larger networks, conv
// regions, and the validation errors.
import { describe, expect, it } from 'vitest';
import { Graph, SpecError, Tensor, TwnnError, type Value } from '../../src/ir/index.js';
import { add, div, mul, scalar } from '../../src/ops/index.js';
import type { BackwardMode, FixedPointConfig, Sweep } from '../../src/lower/fixed-point.js';
import { checkFixedPoint } from '../../src/runtime/guard.js';
import type { BuildContext } from '../../src/twnn/module.js';
import { batchNorm2d, conv2d, dense, flatten, sequential, tanh } from '../../src/twnn/index.js';
import { A, analyticGraph, fixedPointConfig, linearClosedForms, linearGraph, type Matrix } from './analytic-helpers.js';
import { region, type IterateSpec, type RegionModule, type RegionSpec } from '../../src/twnn/region.js';
import {
  checkedRunner, expectCentralDifferences, expectGradientsAgree, gradientGraph, inferenceGraph, paramFeeds, randomTensor, relativeError, runGradientPair,
  sampleOf, scaledWeights, type BuiltCase, type NetCase,
} from './region-helpers.js';

// --- (b) Newton's square root z ← (z + c/z) / 2 -------------------------------------------

/** First sweep: the Newton step from 1, (1 + c)/2; then z ← (z + c/z)·½ (exact halving in IEEE). */
const newtonSweep = (ctx: BuildContext, c: Value): Sweep => (sOld) => {
  const g = ctx.graph;
  const half = scalar(g, 0.5, 'float64');
  const z = sOld ? mul(g, add(g, sOld[0], div(g, c, sOld[0])), half) : mul(g, add(g, c, scalar(g, 1, 'float64')), half);
  return { sources: [z], output: z };
};

/** The same iteration in JS, counting sweeps like the Loop does (the first sweep counts). */
function newtonJs(c: number, tol: number, maxIter: number): { z: number; iterations: number; residual: number } {
  let z = (c + 1) * 0.5;
  let iterations = 1;
  let residual = Infinity;
  while (iterations < maxIter) {
    const next = (z + c / z) * 0.5;
    iterations++;
    residual = Math.abs(next - z);
    z = next;
    if (residual <= tol) break;
  }
  return { z, iterations, residual };
}

function newtonGraph(training: boolean, backwardMode: BackwardMode, overrides: Partial<FixedPointConfig> = {}): Graph {
  return analyticGraph({ n: 1, training, config: fixedPointConfig('newton', backwardMode, { tol: 1e-12, ...overrides }), makeSweep: newtonSweep });
}

describe('lowerFixedPoint on analytic fixed points', () => {
  const b = randomTensor([4, 3], 11);
  const u = randomTensor([4, 3], 12);
  const { zStar, bBar, aBar } = linearClosedForms(b, u);

  it('a linear contraction z = Az + b settles at (I − A)⁻¹ b', async () => {
    const run = await checkedRunner(linearGraph(false, { mode: 'implicit' }));
    const out = await run.run({ x: b, A: Tensor.fromNumbers('float64', [3, 3], A.flat()) });
    await run.release();
    expect(relativeError(out.y.toNumbers(), zStar.flat())).toBeLessThan(1e-13);
    expect(out.residual.toNumbers().every((r) => r <= 1e-14)).toBe(true);
    // ‖A‖∞ = 0.8: the error shrinks at least 0.8× per sweep, so tens of sweeps, not hundreds.
    expect(out.iterations.toNumbers().every((n) => n > 10 && n < 200)).toBe(true);
  });

  it.each(['implicit', 'unrolled'] as const)('its %s gradient w.r.t. A and b is the closed form through (I − A)⁻¹', async (mode) => {
    const run = await checkedRunner(linearGraph(true, { mode }));
    const out = await run.run({ x: b, u, A: Tensor.fromNumbers('float64', [3, 3], A.flat()) });
    await run.release();
    expect(relativeError(out.y.toNumbers(), zStar.flat())).toBeLessThan(1e-13);
    expect(relativeError(out['grad.x'].toNumbers(), bBar.flat())).toBeLessThan(1e-12);
    expect(relativeError(out['grad.A'].toNumbers(), aBar.flat())).toBeLessThan(1e-12);
    const backwardIterations = out.iterations_backward.toNumbers();
    if (mode === 'unrolled') expect(backwardIterations).toEqual(out.iterations.toNumbers().map((n) => n - 1));
    else expect(backwardIterations.every((n) => n > 10)).toBe(true);
  });

  it.each(['rms', 'relative'] as const)('the %s residual norm settles at the same fixed point', async (norm) => {
    const run = await checkedRunner(linearGraph(false, { mode: 'implicit' }, A, { norm }));
    const out = await run.run({ x: b, A: Tensor.fromNumbers('float64', [3, 3], A.flat()) });
    await run.release();
    expect(relativeError(out.y.toNumbers(), zStar.flat())).toBeLessThan(1e-13);
    expect(out.residual.toNumbers().every((r) => r <= 1e-14)).toBe(true);
  });

  const c = [0.01, 2, 100, 1e6];
  const cTensor = Tensor.fromNumbers('float64', [4, 1], c);

  it("Newton's square root settles at √c per sample, with the JS loop's iteration counts", async () => {
    const run = await checkedRunner(newtonGraph(false, { mode: 'implicit' }));
    const out = await run.run({ x: cTensor });
    await run.release();
    const js = c.map((ci) => newtonJs(ci, 1e-12, 500));
    // The same IEEE operations in the same order: bit for bit.
    expect(out.y.toNumbers()).toEqual(js.map((r) => r.z));
    expect(out.iterations.toNumbers()).toEqual(js.map((r) => r.iterations));
    expect(out.residual.toNumbers()).toEqual(js.map((r) => r.residual));
    expect(relativeError(out.y.toNumbers(), c.map(Math.sqrt))).toBeLessThan(1e-15);
    // Samples far from 1 need more Newton steps: the counts differ across the batch.
    expect(new Set(out.iterations.toNumbers()).size).toBeGreaterThan(2);
  });

  it.each(['implicit', 'unrolled'] as const)("Newton's %s backward gives d√c/dc = 1/(2√c)", async (mode) => {
    const run = await checkedRunner(newtonGraph(true, { mode }));
    const out = await run.run({ x: cTensor, u: Tensor.fromNumbers('float64', [4, 1], [1, 1, 1, 1]) });
    await run.release();
    expect(relativeError(out['grad.x'].toNumbers(), c.map((ci) => 1 / (2 * Math.sqrt(ci))), 0)).toBeLessThan(1e-10);
  });

  it('reports iterations == maxIter and residual > tol for a sample that cannot settle in time', async () => {
    const run = await checkedRunner(newtonGraph(false, { mode: 'implicit' }, { maxIter: 10 }));
    const out = await run.run({ x: cTensor });
    await run.release();
    const js = c.map((ci) => newtonJs(ci, 1e-12, 10));
    expect(out.iterations.toNumbers()).toEqual(js.map((r) => r.iterations));
    // √1e6 from (1e6+1)/2 needs ~20 halvings: stopped at maxIter, unsettled.
    expect(out.iterations.get(3)).toBe(10);
    expect(out.residual.get(3)).toBeGreaterThan(1e-12);
    expect(out.iterations.get(1)).toBeLessThan(10);
    expect(out.residual.get(1)).toBeLessThanOrEqual(1e-12);
  });
});

// --- TWNN regions ------------------------------------------------------------------------

const D = 4;
const denseBlock = (inF = D, outF = D) => sequential(dense(inF, outF), tanh());

/** Three dense+tanh blocks with a wormhole 3 -> 1. */
function twnn(gateBias: number, iterate: IterateSpec, extra: Partial<RegionSpec> = {}): RegionModule {
  return region({ blocks: [denseBlock(), denseBlock(), denseBlock()], wormholes: [{ from: 3, to: 1, gateBias }], iterate, ...extra });
}

/** Inference outputs of `c` on `x`, through the checker and onnxruntime. */
async function infer(c: NetCase, x: Tensor): Promise<{ out: Record<string, Tensor>; built: BuiltCase }> {
  const built = inferenceGraph(c);
  const run = await checkedRunner(built.graph);
  const out = await run.run({ x, ...paramFeeds(built.params) });
  await run.release();
  return { out, built };
}

/** The same net with its wormhole projections scaled by `factor` (strong wormholes). */
function strengthened(c: NetCase, factor: number): NetCase {
  return { ...c, weights: scaledWeights(inferenceGraph(c).params, 'proj', factor) };
}

describe('TWNN regions settle per sample', () => {
  const x = randomTensor([16, D], 31, 2);

  it('closed gates (bias −4, tol 1e-3) settle in at most 3 sweeps; strong wormholes take more', async () => {
    const closed = await infer({ net: twnn(-4, { tol: 1e-3 }), input: ['B', D] }, x);
    const closedIterations = closed.out['iterations.region'].toNumbers();
    expect(closedIterations.every((n) => n >= 2 && n <= 3)).toBe(true);
    expect(closed.out['residual.region'].toNumbers().every((r) => r <= 1e-3)).toBe(true);

    const strong = await infer(strengthened({ net: twnn(4, { tol: 1e-3 }), input: ['B', D] }, 10), x);
    const strongIterations = strong.out['iterations.region'].toNumbers();
    expect(strongIterations.every((n, b) => n >= closedIterations[b])).toBe(true);
    const total = (counts: number[]) => counts.reduce((a, b) => a + b, 0);
    expect(Math.max(...strongIterations)).toBeGreaterThan(3);
    expect(total(strongIterations), `strong ${strongIterations} vs closed ${closedIterations}`).toBeGreaterThan(1.5 * total(closedIterations));
    expect(strong.out['residual.region'].toNumbers().every((r) => r <= 1e-3)).toBe(true);
  });

  it('minIter forces sweeps past the point where closed gates settle', async () => {
    const { out } = await infer({ net: twnn(-4, { tol: 1e-3, minIter: 6 }), input: ['B', D] }, x);
    expect(out['iterations.region'].toNumbers()).toEqual(new Array(16).fill(6));
  });

  describe('a sample gets the same fixed point and counts in a batch as alone', () => {
    // Inputs scaled very differently need different numbers of sweeps.
    const scales = [0.01, 1, 8, 0.2, 3];
    const base = randomTensor([scales.length, D], 32);
    const xs = Tensor.fromNumbers('float64', base.shape, base.toNumbers().map((v, i) => v * scales[Math.floor(i / D)]));
    const us = randomTensor([scales.length, D], 33);
    const strong = (backward: 'implicit' | 'unrolled') =>
      strengthened({ net: twnn(4, { tol: 1e-8 }, { backward, backwardTol: 1e-8 }), input: ['B', D] }, 10);

    it('in the inference graph', async () => {
      const c = strong('implicit');
      const built = inferenceGraph(c);
      const run = await checkedRunner(built.graph);
      const batch = await run.run({ x: xs, ...paramFeeds(built.params) });
      expect(new Set(batch['iterations.region'].toNumbers()).size).toBeGreaterThan(2);
      for (let b = 0; b < scales.length; b++) {
        const alone = await run.run({ x: sampleOf(xs, b), ...paramFeeds(built.params) });
        expect(relativeError(sampleOf(batch.y, b).toNumbers(), alone.y.toNumbers(), 1)).toBeLessThan(1e-12);
        expect(batch['iterations.region'].get(b), `sample ${b}`).toBe(alone['iterations.region'].get(0));
      }
      await run.release();
    });

    it.each(['implicit', 'unrolled'] as const)('in the %s training graph: y, x-gradient and both counts', async (mode) => {
      const built = gradientGraph(strong(mode));
      const run = await checkedRunner(built.graph);
      const params = paramFeeds(built.params);
      const batch = await run.run({ x: xs, u: us, ...params });
      expect(new Set(batch['iterations.region'].toNumbers()).size).toBeGreaterThan(2);
      for (let b = 0; b < scales.length; b++) {
        const alone = await run.run({ x: sampleOf(xs, b), u: sampleOf(us, b), ...params });
        expect(relativeError(sampleOf(batch.y, b).toNumbers(), alone.y.toNumbers(), 1)).toBeLessThan(1e-12);
        expect(relativeError(sampleOf(batch['grad.x'], b).toNumbers(), alone['grad.x'].toNumbers(), 1)).toBeLessThan(1e-12);
        expect(batch['iterations.region'].get(b), `sample ${b}`).toBe(alone['iterations.region'].get(0));
        expect(batch['iterations_backward.region'].get(b), `sample ${b}`).toBe(alone['iterations_backward.region'].get(0));
      }
      await run.release();
    });
  });

  it('reports iterations == maxIter and residual > tol where huge wormholes keep a sample from settling', async () => {
    const { out } = await infer(strengthened({ net: twnn(4, { tol: 1e-3, maxIter: 40 }), input: ['B', D] }, 100), x);
    const iterations = out['iterations.region'].toNumbers();
    const residual = out['residual.region'].toNumbers();
    const stuck = iterations.flatMap((n, b) => (n === 40 ? [b] : []));
    expect(stuck.length).toBeGreaterThan(0);
    for (const b of stuck) expect(residual[b]).toBeGreaterThan(1e-3);
    for (const [b, n] of iterations.entries()) if (n < 40) expect(residual[b]).toBeLessThanOrEqual(1e-3);
    // Not settling is reported, not hidden: every prediction is still a finite number.
    expect(out.y.toNumbers().every(Number.isFinite)).toBe(true);
  });
});

describe('a divergent sweep', () => {
  // z ← 1.5 z + b: the spectral radius 1.5 > 1, so z grows until float64 overflows.
  const diverging: Matrix = [
    [1.5, 0, 0],
    [0, 1.5, 0],
    [0, 0, 1.5],
  ];
  const b = Tensor.fromNumbers('float64', [3, 3], [1, -2, 0.5, 0, 0, 0, 0.1, 0, 0]);

  it('stops the diverged samples with a non-finite residual, and the guard names the region and samples', async () => {
    const run = await checkedRunner(linearGraph(false, { mode: 'implicit' }, diverging, { maxIter: 2000 }));
    const out = await run.run({ x: b, A: Tensor.fromNumbers('float64', [3, 3], diverging.flat()) });
    await run.release();
    const residual = out.residual.toNumbers();
    expect(Number.isFinite(residual[0])).toBe(false);
    expect(Number.isFinite(residual[2])).toBe(false);
    // The zero input stays at its fixed point 0.
    expect(residual[1]).toBe(0);
    expect(out.iterations.get(1)).toBe(2);
    // 1.5^t overflows after about 1750 sweeps, well before maxIter.
    expect(out.iterations.get(0)).toBeLessThan(2000);
    // The state stops at its last finite value: y holds no NaN.
    expect(out.y.toNumbers().every(Number.isFinite)).toBe(true);
    const guard = () => checkFixedPoint(out, 'linear.onnx', ['linear']);
    expect(guard).toThrow(TwnnError);
    expect(guard).toThrow("linear.onnx: the fixed-point iteration of region 'linear' diverged (non-finite residual) for samples 0, 2; its outputs are not a prediction");
  });

  it('names each region from its own residual output when a model has several', () => {
    const residual = (values: number[]) => Tensor.fromNumbers('float64', [values.length], values);
    const outputs = {
      y: residual([0, 0, 0]),
      residual: residual([NaN, 1e-4, Infinity]),
      'residual.region1': residual([1e-4, 1e-4, 1e-5]),
      'residual.region2': residual([NaN, 1e-4, Infinity]),
    };
    expect(() => checkFixedPoint(outputs, 'two.onnx')).toThrow(
      "two.onnx: the fixed-point iteration of region 'region2' diverged (non-finite residual) for samples 0, 2; its outputs are not a prediction",
    );
    expect(() => checkFixedPoint({ ...outputs, 'residual.region2': residual([1e-4, 1e-4, 1e-4]) }, 'two.onnx')).not.toThrow();
  });
});

// --- regions inside larger networks ------------------------------------------------------

describe('regions as modules of a larger network', () => {
  /** stem -> region1 (3 blocks, 3 -> 1) -> mid -> region2 (named blocks, second -> first) -> head. */
  const twoRegions = (backward: 'implicit' | 'unrolled'): NetCase => {
    const settings = { iterate: { tol: 1e-14, maxIter: 300 }, backward, backwardTol: 1e-14 } as const;
    return {
      net: sequential({
        stem: denseBlock(3, D),
        region1: twnn(0, settings.iterate, settings),
        mid: denseBlock(),
        region2: region({ blocks: { first: denseBlock(), second: denseBlock() }, wormholes: [{ from: 'second', to: 'first', gateBias: 0 }], ...settings }),
        head: dense(D, 2),
      }),
      input: ['B', 3],
    };
  };
  const x = randomTensor([3, 3], 41);
  const u = randomTensor([3, 2], 42);

  it('two regions in sequence report their own iterations, and the training y equals the inference y', async () => {
    const { out, built } = await infer(twoRegions('implicit'), x);
    expect(built.regions).toEqual(['region1', 'region2']);
    expect(built.params.map((p) => p.name)).toContain('region1.wormhole_b3_b1.proj.weight');
    expect(built.params.map((p) => p.name)).toContain('region2.wormhole_second_first.gate.bias');
    expect(built.params.map((p) => p.name)).toContain('region2.first.0.weight');
    expect(out.y.shape).toEqual([3, 2]);
    for (const r of built.regions) {
      expect(out[`iterations.${r}`].toNumbers().every((n) => n > 4 && n < 300), r).toBe(true);
      expect(out[`residual.${r}`].toNumbers().every((v) => v <= 1e-14), r).toBe(true);
    }
    const grad = gradientGraph(twoRegions('implicit'));
    const run = await checkedRunner(grad.graph);
    const trained = await run.run({ x, u, ...paramFeeds(grad.params) });
    await run.release();
    expect(relativeError(trained.y.toNumbers(), out.y.toNumbers())).toBeLessThan(1e-13);
    for (const r of built.regions) expect(trained[`iterations.${r}`].toNumbers()).toEqual(out[`iterations.${r}`].toNumbers());
  });

  it('implicit and unrolled gradients through both regions agree with each other and with central differences', async () => {
    const pair = await runGradientPair(twoRegions('implicit'), twoRegions('unrolled'), { x, u });
    expectGradientsAgree(pair, 1e-9, 'implicit vs unrolled');
    await expectCentralDifferences(pair.runA, pair.feeds, pair.a, pair.params, { eps: 1e-5, rtol: 1e-6 });
    await pair.runA.release();
  });
});

describe('conv regions', () => {
  const C = 2;
  const convBlock = (stride = 1) => sequential(conv2d(C, C, 3, { stride, padding: 1 }), tanh());
  /**
   * [B,1,8,8] -> stem -> region (8x8, then strided to 4x4, then 4x4) -> head. Wormhole 3 -> 1
   * feeds 4x4 back into 8x8 (a ConvTranspose projection), 3 -> 3 stays at 4x4 (a 1x1 conv).
   */
  const convNet = (backward: 'implicit' | 'unrolled'): NetCase => ({
    net: sequential({
      stem: conv2d(1, C, 3, { padding: 1 }),
      region1: region({
        blocks: [convBlock(), convBlock(2), convBlock()],
        wormholes: [{ from: 3, to: 1, gateBias: 0 }, { from: 3, to: 3, gateBias: 0 }],
        iterate: { tol: 1e-6, maxIter: 100 },
        backward,
        backwardTol: 1e-6,
      }),
      flatten: flatten(),
      head: dense(C * 16, 3),
    }),
    input: ['B', 1, 8, 8],
    dtype: 'float32',
  });
  const x = randomTensor([2, 1, 8, 8], 51, 1, 'float32');
  const u = randomTensor([2, 3], 52, 1, 'float32');

  it('projects a strided block back onto a finer one with a ConvTranspose, and a same-size one with a 1x1 conv', async () => {
    const { out, built } = await infer(convNet('implicit'), x);
    const shapes = Object.fromEntries(built.params.map((p) => [p.name, p.shape]));
    expect(shapes['region1.wormhole_b3_b1.proj.weight']).toEqual([C, C, 2, 2]);
    expect(shapes['region1.wormhole_b3_b3.proj.weight']).toEqual([C, C, 1, 1]);
    expect(shapes['region1.wormhole_b3_b1.gate.weight']).toEqual([C, 2 * C, 1, 1]);
    const opTypes = (g: Graph): string[] => g.nodes.flatMap((n) => [n.opType, ...n.subgraphs().flatMap(opTypes)]);
    expect(opTypes(built.graph)).toContain('ConvTranspose');
    expect(out.y.shape).toEqual([2, 3]);
    expect(out['iterations.region1'].toNumbers().every((n) => n > 2 && n < 100)).toBe(true);
    expect(out['residual.region1'].toNumbers().every((r) => r <= 1e-6)).toBe(true);
  });

  it('float32 implicit and unrolled gradients agree, and match central differences', async () => {
    const implicit = gradientGraph(convNet('implicit'));
    const unrolled = gradientGraph(convNet('unrolled'));
    const feeds = { x, u, ...paramFeeds(implicit.params) };
    const runImplicit = await checkedRunner(implicit.graph);
    const runUnrolled = await checkedRunner(unrolled.graph);
    const a = await runImplicit.run(feeds);
    const b = await runUnrolled.run(feeds);
    await runUnrolled.release();
    // Both stop at tol 1e-6 (forward and adjoint) in float32: they agree to a few 1e-6 of the gradient's size.
    for (const name of [...implicit.params.map((p) => `grad.${p.name}`), 'grad.x']) {
      expect(relativeError(a[name].toNumbers(), b[name].toNumbers()), name).toBeLessThan(1e-4);
    }
    // ε = 1e-2: the truncation error ε²·f'''/6 of these O(1) tanh maps is up to ~1e-3 relative (6e-4 seen);
    // float32 rounding of the O(1) loss adds ~1e-7/ε = 1e-5, the fixed point's tol 1e-6 another ~1e-6/ε = 1e-4.
    await expectCentralDifferences(runImplicit, feeds, a, implicit.params, { eps: 1e-2, rtol: 5e-3 });
    await runImplicit.release();
  });
});

describe('region validation', () => {
  const blocks = () => [denseBlock(), denseBlock(), denseBlock()];

  it('rejects a wormhole pointing forward, naming it', () => {
    const make = () => region({ blocks: blocks(), wormholes: [{ from: 3, to: 1 }, { from: 1, to: 3 }] });
    expect(make).toThrow(SpecError);
    expect(make).toThrow('region: wormhole #2: 1 -> 3 points forward; a wormhole feeds a later block back into an earlier one (from >= to)');
  });

  it('rejects a wormhole to a missing block, listing the blocks', () => {
    expect(() => region({ blocks: blocks(), wormholes: [{ from: 4, to: 1 }] })).toThrow(
      "region: wormhole #1: 'from' 4 names no block (blocks: 1=b1, 2=b2, 3=b3)",
    );
    expect(() => region({ blocks: { first: denseBlock(), second: denseBlock() }, wormholes: [{ from: 'second', to: 'zeroth' }] })).toThrow(
      `region: wormhole #1: 'to' "zeroth" names no block (blocks: 1=first, 2=second)`,
    );
  });

  it('rejects a source that cannot be projected onto its target, naming the region and the wormhole', () => {
    const C = 2;
    const rankMismatch: NetCase = {
      net: sequential({
        region1: region({ blocks: [sequential(conv2d(C, C, 3, { padding: 1 }), tanh()), sequential(flatten(), dense(C * 16, 4))], wormholes: [{ from: 2, to: 1 }] }),
      }),
      input: ['B', C, 4, 4],
      dtype: 'float32',
    };
    expect(() => inferenceGraph(rankMismatch)).toThrow(SpecError);
    expect(() => inferenceGraph(rankMismatch)).toThrow("region 'region1', wormhole 2 -> 1: block 2's output [B,4] cannot be projected onto block 1's input [B,2,4,4]: ranks differ");

    // A stride-3 conv maps 8x8 to 3x3; 8x8 is no integer multiple of it.
    const notUpsampling: NetCase = {
      net: sequential({
        region1: region({ blocks: [sequential(conv2d(C, C, 3, { padding: 1 }), tanh()), sequential(conv2d(C, C, 3, { stride: 3, padding: 1 }), tanh())], wormholes: [{ from: 2, to: 1 }] }),
      }),
      input: ['B', C, 8, 8],
      dtype: 'float32',
    };
    expect(() => inferenceGraph(notUpsampling)).toThrow(
      "region 'region1', wormhole 2 -> 1: block 2's output [B,2,3,3] cannot be projected onto block 1's input [B,2,8,8]: spatial size 8x8 is not an integer upsampling of 3x3",
    );

    const identityMismatch: NetCase = {
      net: sequential({ region1: region({ blocks: [denseBlock(), denseBlock(D, 6)], wormholes: [{ from: 2, to: 1, projection: 'identity' }] }) }),
      input: ['B', D],
    };
    expect(() => inferenceGraph(identityMismatch)).toThrow(
      "region 'region1', wormhole 2 -> 1: block 2's output [B,6] cannot be projected onto block 1's input [B,4]: projection 'identity' needs equal shapes",
    );
  });

  it('rejects BatchNorm on batch statistics inside a region in training graphs, naming the region and the buffers', () => {
    const normed = () => sequential(conv2d(2, 2, 3, { padding: 1 }), batchNorm2d(2), tanh());
    const c: NetCase = { net: sequential({ region1: region({ blocks: [normed(), normed()], wormholes: [{ from: 2, to: 1 }] }) }), input: ['B', 2, 4, 4], dtype: 'float32' };
    // Inference uses the running statistics: per sample, so it builds.
    expect(() => inferenceGraph(c)).not.toThrow();
    expect(() => gradientGraph(c)).toThrow(SpecError);
    expect(() => gradientGraph(c)).toThrow(
      "region 'region1': its blocks normalise with batch statistics in training mode (buffers region1.b1.1.running_mean, " +
        'region1.b1.1.running_var, region1.b2.1.running_mean, region1.b2.1.running_var), which would couple the samples\' fixed points; ' +
        'normalise per sample inside regions (LayerNorm, GroupNorm) and keep BatchNorm in the stem and head',
    );
  });

  it('rejects a region without wormholes and a region nested in another, naming them', () => {
    const plain: NetCase = { net: sequential({ region1: region({ blocks: blocks(), wormholes: [] }) }), input: ['B', D] };
    expect(() => inferenceGraph(plain)).toThrow("region 'region1': has no wormholes; use sequential(...) for a plain stack");
    const inner = region({ blocks: [denseBlock(), denseBlock()], wormholes: [{ from: 2, to: 1 }] });
    const nested: NetCase = { net: sequential({ outer: region({ blocks: [inner, denseBlock()], wormholes: [{ from: 2, to: 1 }] }) }), input: ['B', D] };
    expect(() => inferenceGraph(nested)).toThrow("region 'outer.b1': regions cannot be nested inside another region's blocks");
  });
});
