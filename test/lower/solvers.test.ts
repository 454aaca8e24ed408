// Fixed-point engine v2 (issue 10): Anderson acceleration in the forward and
// adjoint Loops, the best iterate of a sample that never settles, the
// Jacobian penalty and its probes; limited-memory Broyden (issue 22), which
// proves the solver seam (src/lower/solvers/), checked the same way.
import { describe, expect, it } from 'vitest';
import { Graph, Tensor, type Value } from '../../src/ir/index.js';
import { mul, scalar, sqrt, sub } from '../../src/ops/index.js';
import type { Sweep } from '../../src/lower/fixed-point.js';
import { rademacher } from '../../src/lower/jacobian.js';
import { checkFixedPoint } from '../../src/runtime/guard.js';
import { BuildContext } from '../../src/twnn/module.js';
import { dense, sequential, tanh } from '../../src/twnn/index.js';
import { region, type RegionModule, type RegionSpec } from '../../src/twnn/region.js';
import { A, analyticGraph, fixedPointConfig, linearClosedForms, linearGraph } from './analytic-helpers.js';
import {
  checkedRunner, dot, expectCentralDifferences, expectGradientsAgree, gradientGraph, inferenceGraph, paramFeeds, randomTensor, relativeError, runGradientPair,
  sampleOf, scaledWeights, shifted, type NetCase,
} from './region-helpers.js';
import { compileGraph } from '../helpers/ort.js';

const anderson = (history = 5, mixing = 1) => ({ kind: 'anderson' as const, history, mixing, regularization: 1e-10 });
const broyden = (history = 8) => ({ kind: 'broyden' as const, history });
const aTensor = Tensor.fromNumbers('float64', [3, 3], A.flat());

describe('Anderson acceleration on the linear contraction z = Az + b', () => {
  const b = randomTensor([4, 3], 11);
  const u = randomTensor([4, 3], 12);
  const { zStar, bBar, aBar } = linearClosedForms(b, u);

  it.each([
    [1, 1],
    [3, 1],
    [5, 1],
    [5, 0.5],
  ])('history %i, mixing %f: settles at (I − A)⁻¹ b in fewer sweeps than plain iteration', async (history, mixing) => {
    const plain = await checkedRunner(linearGraph(false, { mode: 'implicit' }));
    const accelerated = await checkedRunner(linearGraph(false, { mode: 'implicit' }, A, { solver: anderson(history, mixing) }));
    const p = await plain.run({ x: b, A: aTensor });
    const a = await accelerated.run({ x: b, A: aTensor });
    await Promise.all([plain.release(), accelerated.release()]);
    expect(relativeError(a.y.toNumbers(), zStar.flat())).toBeLessThan(1e-13);
    expect(a.residual.toNumbers().every((r) => r <= 1e-14)).toBe(true);
    const sum = (t: Tensor) => t.toNumbers().reduce((s, n) => s + n, 0);
    expect(sum(a.iterations), `anderson ${a.iterations.toNumbers()} vs plain ${p.iterations.toNumbers()}`).toBeLessThan(sum(p.iterations));
    // In 3 dimensions, a history of 3 is GMRES with a full Krylov space: a handful of sweeps.
    if (history >= 3 && mixing === 1) expect(Math.max(...a.iterations.toNumbers())).toBeLessThanOrEqual(8);
  });

  it('its implicit gradient, with an Anderson adjoint, is the closed form through (I − A)⁻¹', async () => {
    const run = await checkedRunner(linearGraph(true, { mode: 'implicit' }, A, { solver: anderson(), backwardSolver: anderson(), backwardNorm: 'relative' }));
    const out = await run.run({ x: b, u, A: aTensor });
    await run.release();
    expect(relativeError(out['grad.x'].toNumbers(), bBar.flat())).toBeLessThan(1e-12);
    expect(relativeError(out['grad.A'].toNumbers(), aBar.flat())).toBeLessThan(1e-12);
    expect(Math.max(...out.iterations_backward.toNumbers())).toBeLessThanOrEqual(8);
  });

  it('finds the fixed point of a linear map that plain iteration cannot (spectral radius 1.5)', async () => {
    // Plain iteration diverges (test/lower/fixed-point.test.ts); Anderson is GMRES here and solves (I − A)z = b.
    const diverging = [[1.5, 0, 0], [0, 1.5, 0], [0, 0, 1.5]];
    const run = await checkedRunner(linearGraph(false, { mode: 'implicit' }, diverging, { solver: anderson(3) }));
    const out = await run.run({ x: b, A: Tensor.fromNumbers('float64', [3, 3], diverging.flat()) });
    await run.release();
    expect(relativeError(out.y.toNumbers(), b.toNumbers().map((v) => -2 * v))).toBeLessThan(1e-12);
  });
});

describe('limited-memory Broyden on the linear contraction z = Az + b', () => {
  const b = randomTensor([4, 3], 11);
  const u = randomTensor([4, 3], 12);
  const { zStar, bBar, aBar } = linearClosedForms(b, u);
  const n = A.length;

  it.each([1, 3, 2 * n])('history %i: settles at (I − A)⁻¹ b to 1e-12, in fewer sweeps than plain iteration', async (history) => {
    const plain = await checkedRunner(linearGraph(false, { mode: 'implicit' }));
    const quasiNewton = await checkedRunner(linearGraph(false, { mode: 'implicit' }, A, { solver: broyden(history) }));
    const p = await plain.run({ x: b, A: aTensor });
    const q = await quasiNewton.run({ x: b, A: aTensor });
    await Promise.all([plain.release(), quasiNewton.release()]);
    const error = Math.max(...q.y.toNumbers().map((v, i) => Math.abs(v - zStar.flat()[i])));
    expect(error).toBeLessThan(1e-12);
    expect(relativeError(q.y.toNumbers(), zStar.flat())).toBeLessThan(1e-12);
    expect(q.residual.toNumbers().every((r) => r <= 1e-14)).toBe(true);
    const sum = (t: Tensor) => t.toNumbers().reduce((s, v) => s + v, 0);
    expect(sum(q.iterations), `broyden ${q.iterations.toNumbers()} vs plain ${p.iterations.toNumbers()}`).toBeLessThan(sum(p.iterations));
    // With 2n rank-one updates, Broyden finds the root of an affine map in at most 2n steps (Gay 1979), after the first sweep.
    if (history >= 2 * n) expect(Math.max(...q.iterations.toNumbers())).toBeLessThanOrEqual(2 * n + 2);
  });

  it('its implicit gradient, with a Broyden adjoint, is the closed form, plain unrolled backprop and central differences', async () => {
    const run = await checkedRunner(linearGraph(true, { mode: 'implicit' }, A, { solver: broyden(), backwardSolver: broyden(), backwardNorm: 'relative' }));
    const unrolled = await checkedRunner(linearGraph(true, { mode: 'unrolled' }));
    const out = await run.run({ x: b, u, A: aTensor });
    const reference = await unrolled.run({ x: b, u, A: aTensor });
    await Promise.all([run.release(), unrolled.release()]);
    expect(relativeError(out['grad.x'].toNumbers(), bBar.flat())).toBeLessThan(1e-12);
    expect(relativeError(out['grad.A'].toNumbers(), aBar.flat())).toBeLessThan(1e-12);
    expect(relativeError(out['grad.x'].toNumbers(), reference['grad.x'].toNumbers())).toBeLessThan(1e-12);
    expect(relativeError(out['grad.A'].toNumbers(), reference['grad.A'].toNumbers())).toBeLessThan(1e-12);
    expect(Math.max(...out.iterations_backward.toNumbers())).toBeLessThanOrEqual(2 * n + 1);

    // Central differences of L = Σ u ⊙ z* along random directions of x and of A, through the Broyden forward Loop.
    const forward = await checkedRunner(linearGraph(false, { mode: 'implicit' }, A, { solver: broyden() }));
    const loss = async (x: Tensor, a: Tensor) => dot((await forward.run({ x, A: a })).y.toNumbers(), u.toNumbers());
    const eps = 1e-6;
    const dx = randomTensor([4, 3], 13);
    const dA = randomTensor([3, 3], 14);
    const alongX = (await loss(shifted(b, dx.toNumbers(), eps), aTensor)) - (await loss(shifted(b, dx.toNumbers(), -eps), aTensor));
    const alongA = (await loss(b, shifted(aTensor, dA.toNumbers(), eps))) - (await loss(b, shifted(aTensor, dA.toNumbers(), -eps)));
    await forward.release();
    expect(Math.abs(alongX / (2 * eps) - dot(out['grad.x'].toNumbers(), dx.toNumbers()))).toBeLessThan(1e-8);
    expect(Math.abs(alongA / (2 * eps) - dot(out['grad.A'].toNumbers(), dA.toNumbers()))).toBeLessThan(1e-8);
  });

  it('finds the fixed point of a linear map that plain iteration cannot (spectral radius 1.5)', async () => {
    const diverging = [[1.5, 0, 0], [0, 1.5, 0], [0, 0, 1.5]];
    const run = await checkedRunner(linearGraph(false, { mode: 'implicit' }, diverging, { solver: broyden(2) }));
    const out = await run.run({ x: b, A: Tensor.fromNumbers('float64', [3, 3], diverging.flat()) });
    await run.release();
    expect(relativeError(out.y.toNumbers(), b.toNumbers().map((v) => -2 * v))).toBeLessThan(1e-12);
  });
});

// --- TWNN regions with Anderson and Broyden -----------------------------------------------

const D = 4;
const block = () => sequential(dense(D, D), tanh());
/** Three dense+tanh blocks, wormhole 3 -> 1, strong gates (bias 4, projections ×10): slow to settle. */
function strong(extra: Partial<RegionSpec> = {}): NetCase {
  const c: NetCase = { net: region({ blocks: [block(), block(), block()], wormholes: [{ from: 3, to: 1, gateBias: 4 }], ...extra }), input: ['B', D] };
  return { ...c, weights: scaledWeights(inferenceGraph(c).params, 'proj', 3) };
}

describe.each([
  ['Anderson acceleration', { solver: 'anderson', history: 5 }],
  ['limited-memory Broyden', { solver: 'broyden' }],
] as const)('%s in a TWNN region', (_, solver) => {
  const scales = [0.01, 1, 8, 0.2, 3];
  const base = randomTensor([scales.length, D], 32);
  const x = Tensor.fromNumbers('float64', base.shape, base.toNumbers().map((v, i) => v * scales[Math.floor(i / D)]));
  const u = randomTensor([scales.length, D], 33);
  const tight = { iterate: { tol: 1e-12, maxIter: 300 }, backwardTol: 1e-12 } as const;

  it("settles at plain iteration's fixed point in fewer sweeps, each sample as it would alone, in working sets too", async () => {
    const plain = inferenceGraph(strong(tight));
    const accel = inferenceGraph(strong({ ...tight, iterate: { ...tight.iterate, ...solver } }));
    const lazy = inferenceGraph(strong({ ...tight, iterate: { ...tight.iterate, ...solver }, compactBelow: 0.5 }));
    const runPlain = await checkedRunner(plain.graph);
    const runAccel = await checkedRunner(accel.graph);
    const runLazy = await checkedRunner(lazy.graph);
    const p = await runPlain.run({ x, ...paramFeeds(plain.params) });
    const a = await runAccel.run({ x, ...paramFeeds(accel.params) });
    const l = await runLazy.run({ x, ...paramFeeds(lazy.params) });
    expect(relativeError(a.y.toNumbers(), p.y.toNumbers())).toBeLessThan(1e-10);
    const sweeps = (o: Record<string, Tensor>) => o['iterations.region'].toNumbers();
    expect(Math.min(...sweeps(p))).toBeGreaterThan(8);
    expect(sweeps(a).reduce((s, n) => s + n, 0), `${solver.solver} ${sweeps(a)} vs plain ${sweeps(p)}`).toBeLessThan(0.8 * sweeps(p).reduce((s, n) => s + n, 0));
    // The solver's memory rides through the working sets' gathers and write-backs row by row.
    expect(sweeps(l)).toEqual(sweeps(a));
    expect(relativeError(l.y.toNumbers(), a.y.toNumbers(), 1)).toBeLessThan(1e-12);
    for (let k = 0; k < scales.length; k++) {
      const alone = await runAccel.run({ x: sampleOf(x, k), ...paramFeeds(accel.params) });
      expect(relativeError(sampleOf(a.y, k).toNumbers(), alone.y.toNumbers(), 1)).toBeLessThan(1e-12);
      expect(a['iterations.region'].get(k), `sample ${k}`).toBe(alone['iterations.region'].get(0));
    }
    await Promise.all([runPlain.release(), runAccel.release(), runLazy.release()]);
  });

  it('its implicit gradient (the solver forward and adjoint) matches unrolled backprop of plain iteration and central differences', async () => {
    const pair = await runGradientPair(strong({ ...tight, iterate: { ...tight.iterate, ...solver } }), strong({ ...tight, backward: 'unrolled' }), { x, u });
    expectGradientsAgree(pair, 1e-9, `${solver.solver} implicit vs plain unrolled`);
    const steps = (o: Record<string, Tensor>) => o['iterations_backward.region'].toNumbers().reduce((s, n) => s + n, 0);
    expect(steps(pair.a)).toBeLessThan(steps(pair.b));
    await expectCentralDifferences(pair.runA, pair.feeds, pair.a, pair.params, { eps: 1e-5, rtol: 1e-6 });
    await pair.runA.release();
  });

  it("is refused with backward 'unrolled', which replays plain sweeps", () => {
    expect(() => gradientGraph(strong({ iterate: { solver: solver.solver }, backward: 'unrolled' }))).toThrow(
      `region 'region': backward 'unrolled' replays plain sweeps; it cannot differentiate the ${solver.solver} solver (use backward 'implicit')`,
    );
  });
});

describe('solver settings', () => {
  it('rejects bad solver settings, naming the field', () => {
    expect(() => strong({ iterate: { solver: 'newton' as never } })).toThrow(`region: iterate.solver must be 'plain' or 'anderson' or 'broyden', got "newton"`);
    expect(() => strong({ iterate: { solver: 'anderson', history: 9 } })).toThrow('region: iterate.history must be at most 8');
    expect(() => strong({ iterate: { solver: 'anderson', mixing: 0 } })).toThrow('region: iterate.mixing must be a finite number > 0 and <= 1, got 0');
    expect(() => strong({ iterate: { solver: 'broyden', history: 65 } })).toThrow('region: iterate.history must be at most 64 for broyden');
    expect(() => strong({ backwardSolver: 'broyden', iterate: { history: 0 } })).toThrow('region: iterate.history must be a positive integer, got 0');
    expect(() => strong({ iterate: { onMaxIter: 'ignore' as never } })).toThrow(`region: iterate.onMaxIter must be 'warn' or 'error', got "ignore"`);
  });

  it('defaults: Broyden keeps 8 updates; the backward solver is the forward one unless named', () => {
    const config = (iterate: RegionSpec['iterate'], extra: Partial<RegionSpec> = {}) => (strong({ iterate, ...extra }).net as RegionModule).config;
    expect(config({ solver: 'broyden' }).solver).toEqual({ kind: 'broyden', history: 8 });
    expect(config({ solver: 'broyden', history: 3 }).backwardSolver).toEqual({ kind: 'broyden', history: 3 });
    expect(config({ solver: 'anderson' }, { backwardSolver: 'broyden' }).backwardSolver).toEqual({ kind: 'broyden', history: 8 });
  });
});

// --- a sweep that goes non-finite ---------------------------------------------------------

/** z ← √z − 1 from z = x: 4 → 1 → 0 → −1 → NaN; no real fixed point. */
const sqrtSweep = (ctx: BuildContext, x: Value): Sweep => (sOld) => {
  const z = sOld ? sub(ctx.graph, sqrt(ctx.graph, sOld[0]), scalar(ctx.graph, 1, 'float64')) : x;
  return { sources: [z], output: z };
};

describe.each([
  ['plain', { kind: 'plain' } as const],
  ['anderson', anderson(3)],
  ['broyden', broyden(3)],
])('the non-finite guard with %s iteration', (_, solver) => {
  it('stops the sample at its last finite state, with a non-finite residual the runtime refuses', async () => {
    const run = await checkedRunner(analyticGraph({ n: 1, training: false, config: fixedPointConfig('sqrt', { mode: 'implicit' }, { tol: 1e-12, solver }), makeSweep: sqrtSweep }));
    const out = await run.run({ x: Tensor.fromNumbers('float64', [2, 1], [4, 9]) });
    await run.release();
    expect(out.residual.toNumbers().every((r) => !Number.isFinite(r))).toBe(true);
    expect(out.y.toNumbers().every(Number.isFinite)).toBe(true);
    expect(() => checkFixedPoint(out, 'sqrt.onnx', ['sqrt'])).toThrow("region 'sqrt' diverged (non-finite residual) for samples 0, 1");
  });
});

// --- best iterate ---------------------------------------------------------------------------

const R = 3.5;
/** The logistic map z ← R·z·(1 − z) from z = x: no stable fixed point for R = 3.5 (a 4-cycle), so it never settles. */
const logisticSweep = (ctx: BuildContext, x: Value): Sweep => (sOld) => {
  const g = ctx.graph;
  const z = sOld ? mul(g, mul(g, scalar(g, R, 'float64'), sOld[0]), sub(g, scalar(g, 1, 'float64'), sOld[0])) : x;
  return { sources: [z], output: z };
};

/** The same iteration in JS: every candidate, its residual, the best (first lowest) and the last. */
function logisticJs(x0: number, maxIter: number): { best: number; bestResidual: number; last: number; lastResidual: number } {
  let z = x0;
  let best = NaN;
  let bestResidual = Infinity;
  let residual = Infinity;
  for (let t = 1; t < maxIter; t++) {
    const next = R * z * (1 - z);
    residual = Math.abs(next - z);
    if (residual < bestResidual) [best, bestResidual] = [next, residual];
    z = next;
  }
  return { best, bestResidual, last: z, lastResidual: residual };
}

describe('a sample that never settles', () => {
  const starts = [0.1, 0.31, 0.77];
  const x = Tensor.fromNumbers('float64', [3, 1], starts);
  const build = (returnIterate: 'best' | 'last') =>
    analyticGraph({ n: 1, training: false, config: fixedPointConfig('logistic', { mode: 'implicit' }, { tol: 1e-12, maxIter: 40, returnIterate }), makeSweep: logisticSweep });

  it('returns its best iterate (lowest residual seen) and that residual by default, its last with returnIterate: last', async () => {
    const best = await checkedRunner(build('best'));
    const last = await checkedRunner(build('last'));
    const b = await best.run({ x });
    const l = await last.run({ x });
    await Promise.all([best.release(), last.release()]);
    const js = starts.map((s) => logisticJs(s, 40));
    expect(b.iterations.toNumbers()).toEqual([40, 40, 40]);
    // The same IEEE operations in the same order: bit for bit.
    expect(b.y.toNumbers()).toEqual(js.map((r) => r.best));
    expect(b.residual.toNumbers()).toEqual(js.map((r) => r.bestResidual));
    expect(l.y.toNumbers()).toEqual(js.map((r) => r.last));
    expect(l.residual.toNumbers()).toEqual(js.map((r) => r.lastResidual));
    // The best is better than the last, and still above tol: reported, not hidden.
    js.forEach((r) => expect(r.bestResidual).toBeLessThan(r.lastResidual));
    expect(b.residual.toNumbers().every((r) => r > 1e-12)).toBe(true);
  });

  it("the unrolled backward differentiates the best iterate that was returned: it matches central differences", async () => {
    const c: NetCase = strong({ iterate: { tol: 1e-14, maxIter: 9 }, backward: 'unrolled' });
    const built = gradientGraph({ ...c, weights: scaledWeights(inferenceGraph(c).params, 'proj', 10) });
    const xs = randomTensor([3, D], 61, 3);
    const feeds = { x: xs, u: randomTensor([3, D], 62), ...paramFeeds(built.params) };
    const run = await checkedRunner(built.graph);
    const out = await run.run(feeds);
    expect(out['iterations.region'].toNumbers()).toEqual([9, 9, 9]);
    await expectCentralDifferences(run, feeds, out, built.params, { eps: 1e-6, rtol: 1e-6 });
    await run.release();
  });
});

// --- Jacobian penalty ----------------------------------------------------------------------

describe('the Rademacher probe of the Jacobian penalty', () => {
  const n = 6;
  const probes = async (keys: number[]): Promise<number[][]> => {
    const g = new Graph('probe');
    const like = g.input('like', 'float64', ['B', n]);
    const key = g.input('key', 'int64', []);
    g.output('eps', rademacher(g, like, key, 1));
    const run = await compileGraph(g);
    const out: number[][] = [];
    for (const k of keys) out.push((await run.run({ like: Tensor.zeros('float64', [1, n]), key: Tensor.fromNumbers('int64', [], [k]) })).eps.toNumbers());
    await run.release();
    return out;
  };

  it('is ±1, the same for the same key, and estimates ‖M‖²_F (Hutchinson) to a few percent over 400 keys', async () => {
    const keys = Array.from({ length: 400 }, (_, i) => i + 1);
    const eps = await probes(keys);
    expect(eps.flat().every((v) => v === 1 || v === -1)).toBe(true);
    expect(await probes([7, 7, 8])).toEqual([eps[6], eps[6], eps[7]]);
    const mean = eps.flat().reduce((s, v) => s + v, 0) / (keys.length * n);
    expect(Math.abs(mean)).toBeLessThan(0.05);
    const m = randomTensor([n, n], 5).toNumbers();
    const exact = m.reduce((s, v) => s + v * v, 0);
    // ‖εᵀM‖² averaged over the probes.
    const estimate = eps.reduce((s, e) => s + [...Array(n).keys()].reduce((t, j) => t + [...Array(n).keys()].reduce((r, i) => r + e[i] * m[i * n + j], 0) ** 2, 0), 0) / keys.length;
    expect(Math.abs(estimate - exact) / exact).toBeLessThan(0.1);
  });
});

describe('a region with jacobianPenalty', () => {
  /** The TWNN region's training graph whose loss adds the penalty, drawn with the `key` input. */
  const penalised = (weight: number) =>
    gradientGraph(strong({ iterate: { tol: 1e-14, maxIter: 300 }, backwardTol: 1e-14, jacobianPenalty: weight }), {
      name: 'penalty',
      term: (g, ctx) => ctx.iterators[0].penalty!(g.input('key', 'int64', [])),
    });

  it('adds a positive penalty that scales with its weight, and differentiates it exactly (central differences)', async () => {
    const built = penalised(0.5);
    const run = await checkedRunner(built.graph);
    const feeds = { x: randomTensor([3, D], 71), u: randomTensor([3, D], 72), key: Tensor.fromNumbers('int64', [], [3]), ...paramFeeds(built.params) };
    const out = await run.run(feeds);
    expect(out.penalty.get(0)).toBeGreaterThan(0);
    const doubled = penalised(1);
    const runDoubled = await compileGraph(doubled.graph);
    const out2 = await runDoubled.run(feeds);
    await runDoubled.release();
    expect(out2.penalty.get(0) / out.penalty.get(0)).toBeCloseTo(2, 12);
    await expectCentralDifferences(run, feeds, out, built.params, { eps: 1e-5, rtol: 1e-6 });
    await run.release();
  });

  it('rejects a negative weight, naming the field', () => {
    expect(() => strong({ jacobianPenalty: -1 })).toThrow('region: jacobianPenalty must be a finite number >= 0, got -1');
  });

  it("rejects it on an unrolled region, which has no linearisation to take it at (it would train as if absent)", () => {
    expect(() => strong({ jacobianPenalty: 1, backward: 'unrolled' })).toThrow("region: jacobianPenalty 1 needs backward 'implicit' or 'phantom:k'");
    expect(() => strong({ jacobianPenalty: 1, backward: 'phantom:2' })).not.toThrow();
  });
});
