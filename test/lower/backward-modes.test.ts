// The three ways a region is differentiated (docs/DESIGN.md §2), on a TWNN region of
// three dense+tanh blocks with a wormhole 3 -> 1 and open gates: the implicit
// adjoint and exact unrolled backprop agree with each other and with float64
// central differences for every parameter and the input; phantom:k tends to
// the implicit gradient as k grows.
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/index.js';
import { region, type RegionSpec } from '../../src/twnn/region.js';
import { dense, sequential, tanh } from '../../src/twnn/index.js';
import {
  checkedRunner, expectCentralDifferences, expectGradientsAgree, gradientGraph, paramFeeds, randomTensor, relativeError, runGradientPair, scaledWeights,
  type NetCase,
} from './region-helpers.js';

const D = 4;
const block = () => sequential(dense(D, D), tanh());

/** Wormhole layouts: one source block, or two (each a carried state of its own). */
const LAYOUTS = {
  '3 -> 1': [{ from: 3, to: 1 }],
  '3 -> 1, 2 -> 2, 2 -> 1': [{ from: 3, to: 1 }, { from: 2, to: 2 }, { from: 2, to: 1 }],
} as const;

/** Three dense+tanh blocks, wormhole 3 -> 1 (or another layout), iterated to float64 precision. */
function twnn(overrides: Partial<RegionSpec> & { gateBias?: number; layout?: keyof typeof LAYOUTS } = {}): NetCase {
  const { gateBias = 0, layout = '3 -> 1', ...rest } = overrides;
  return {
    net: region({
      blocks: [block(), block(), block()],
      wormholes: LAYOUTS[layout].map((w) => ({ ...w, gateBias })),
      iterate: { tol: 1e-14, maxIter: 300 },
      backwardTol: 1e-14,
      ...rest,
    }),
    input: ['B', D],
  };
}

/** Every gradient output of a run, concatenated in output order (params, then x). */
function allGradients(out: Record<string, Tensor>, names: readonly string[]): number[] {
  return names.flatMap((n) => out[n].toNumbers());
}

describe('backward modes of a TWNN region with open gates', () => {
  const x = randomTensor([3, D], 21);
  const u = randomTensor([3, D], 22);

  it.each(Object.keys(LAYOUTS) as (keyof typeof LAYOUTS)[])('wormholes %s: implicit, unrolled and float64 central differences agree for every parameter and x', async (layout) => {
    const pair = await runGradientPair(twnn({ backward: 'implicit', layout }), twnn({ backward: 'unrolled', layout }), { x, u });
    const { a, b, feeds, runA: runImplicit } = pair;

    // The gates are open: the wormhole matters, and sweeps run past the plain two.
    expect(a['iterations.region'].toNumbers().every((n) => n > 4)).toBe(true);
    expect(a.loss.get(0)).toBeCloseTo(b.loss.get(0), 14);
    expectGradientsAgree(pair, 1e-9, 'implicit vs unrolled');

    // Central differences of the loss along a random direction of each parameter and of x.
    await expectCentralDifferences(runImplicit, feeds, a, pair.params, { eps: 1e-5, rtol: 1e-6 });
    await runImplicit.release();
  });

  it('phantom:k approaches the implicit gradient as k grows', async () => {
    // Strong wormholes contract more slowly (forward: 12+ sweeps to 1e-14), so the
    // truncated Neumann series' error stays above rounding up to k = 8 or so.
    const strong = { gateBias: 2 };
    const implicit = gradientGraph(twnn({ ...strong, backward: 'implicit' }));
    const scaled = scaledWeights(implicit.params, 'proj', 5);
    const withWeights = (c: NetCase): NetCase => ({ ...c, weights: scaled });
    const reference = gradientGraph(withWeights(twnn({ ...strong, backward: 'implicit' })));
    const feeds = { x, u, ...paramFeeds(reference.params) };
    const names = [...reference.params.map((p) => `grad.${p.name}`), 'grad.x'];
    const runReference = await checkedRunner(reference.graph);
    const exact = await runReference.run(feeds);
    await runReference.release();
    expect(Math.max(...exact['iterations.region'].toNumbers())).toBeGreaterThan(12);

    const errors: number[] = [];
    for (const k of [1, 2, 4, 8, 16]) {
      const phantom = gradientGraph(withWeights(twnn({ ...strong, backward: `phantom:${k}` })));
      const run = await checkedRunner(phantom.graph);
      const out = await run.run(feeds);
      await run.release();
      expect(out['iterations_backward.region'].toNumbers()).toEqual([k - 1, k - 1, k - 1]);
      errors.push(relativeError(allGradients(out, names), allGradients(exact, names)));
    }
    for (let i = 1; i < errors.length; i++) expect(errors[i], `errors by k: ${errors.join(', ')}`).toBeLessThan(errors[i - 1]);
    expect(errors[0]).toBeGreaterThan(1e-3);
    expect(errors[errors.length - 1]).toBeLessThan(1e-6);
  });
});

describe("the adjoint's stopping rule (backwardNorm)", () => {
  // The adjoint w <- g + (dF/dS)^T w is linear in the loss gradient g. A loss
  // 1e-4 times smaller (a batch mean over 64 samples is ~1/64 of a sum) must give
  // 1e-4 times the gradient at the same precision; an absolute tolerance instead
  // stops the iteration sooner, because every step is 1e-4 times smaller too.
  const x = randomTensor([3, D], 31);
  const u = randomTensor([3, D], 32);
  const small = new Tensor('float64', u.shape, Float64Array.from(u.toNumbers(), (v) => v * 1e-4));
  const strong = { gateBias: 2, iterate: { tol: 1e-14, maxIter: 300 }, backwardTol: 1e-6 };

  async function gradients(norm: 'max' | 'relative', seed: Tensor): Promise<{ iterations: number[]; grads: number[]; names: string[] }> {
    const built = gradientGraph(twnn({ ...strong, backwardNorm: norm }));
    const names = [...built.params.map((p) => `grad.${p.name}`), 'grad.x'];
    const run = await checkedRunner(built.graph);
    const out = await run.run({ x, u: seed, ...paramFeeds(built.params) });
    await run.release();
    return { iterations: out['iterations_backward.region'].toNumbers(), grads: allGradients(out, names), names };
  }

  it("'relative' takes the same adjoint steps at any loss scale, and its gradient scales exactly; 'max' stops early on the small loss", async () => {
    const exact = gradientGraph(twnn({ gateBias: 2, iterate: { tol: 1e-14, maxIter: 300 }, backwardTol: 1e-14 }));
    const runExact = await checkedRunner(exact.graph);
    const reference = allGradients(await runExact.run({ x, u, ...paramFeeds(exact.params) }), [...exact.params.map((p) => `grad.${p.name}`), 'grad.x']);
    await runExact.release();

    const relUnit = await gradients('relative', u);
    const relSmall = await gradients('relative', small);
    expect(relSmall.iterations).toEqual(relUnit.iterations);
    expect(relativeError(relSmall.grads.map((v) => v * 1e4), relUnit.grads)).toBeLessThan(1e-12);
    expect(relativeError(relUnit.grads, reference)).toBeLessThan(1e-5);

    const maxUnit = await gradients('max', u);
    const maxSmall = await gradients('max', small);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(maxSmall.iterations)).toBeLessThan(sum(maxUnit.iterations));
    const smallError = relativeError(maxSmall.grads.map((v) => v * 1e4), reference);
    expect(smallError).toBeGreaterThan(10 * relativeError(relUnit.grads, reference));
  });

  it('rejects an unknown backwardNorm, naming the field', () => {
    expect(() => twnn({ backwardNorm: 'l1' as never })).toThrow("region: backwardNorm must be 'max', 'rms' or 'relative', got \"l1\"");
  });
});
