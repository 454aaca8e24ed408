// The budget as model.onnx inputs (src/lower/budget.ts): at the defaults a model
// computes exactly what the constant-budget build does, and a fed tol or maxIter
// computes exactly what a build with that tol or maxIter does, in every sweep mode;
// feeds no region accepts are clamped the way the head of budget.ts says.
import { describe, expect, it } from 'vitest';
import sine from '../../graphs/sine.js';
import { buildInferenceGraph, Tensor } from '../../src/index.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import type { RegionOverrides } from '../../src/twnn/iterator.js';
import { randomTensor, runModel } from '../twnn/support.js';

const x = randomTensor('float32', [12, 16], 7);
const budget = (tol: number, maxIter: number) => ({ 'tol.region1': Tensor.scalar(tol, 'float32'), 'max_iter.region1': Tensor.scalar(maxIter, 'int64') });
const numbers = (out: Record<string, Tensor>) => Object.fromEntries(Object.entries(out).map(([k, t]) => [k, t.toNumbers()]));

async function withInputs(overrides: RegionOverrides, feeds: Record<string, Tensor>) {
  const { graph } = buildInferenceGraph(sine, { seed: 3, budgetInputs: true, regionOverrides: overrides });
  return numbers(await runModel(serializeModel(graph), { x, ...feeds }));
}

async function built(overrides: RegionOverrides) {
  const { graph } = buildInferenceGraph(sine, { seed: 3, regionOverrides: overrides });
  return numbers(await runModel(serializeModel(graph), { x }));
}

describe('budget inputs of model.onnx', () => {
  it('declares tol.<region> (build dtype) and max_iter.<region> (int64) scalars after x', () => {
    const { graph } = buildInferenceGraph(sine, { budgetInputs: true, dtype: 'float64' });
    expect(graph.inputs.map((v) => v.describe())).toEqual(['x: float64[B,16]', 'tol.region1: float64[]', 'max_iter.region1: int64[]']);
    expect(buildInferenceGraph(sine).graph.inputs.map((v) => v.name)).toEqual(['x']);
  });

  const modes: [string, RegionOverrides][] = [
    ['active sweeps', {}],
    ['dense sweeps', { sweeps: 'dense' }],
    ['lazy compaction', { compactBelow: 0.5 }],
    ['anderson', { solver: { kind: 'anderson', history: 3, mixing: 1, regularization: 1e-6 } }],
  ];
  it.each(modes)('%s: the defaults give the built model, a fed budget the model built with it', async (_, mode) => {
    const atDefaults = await withInputs(mode, budget(1e-3, 300));
    expect(atDefaults).toEqual(await built(mode));
    const iters = atDefaults.iterations;
    expect(Math.max(...iters)).toBeGreaterThan(3); // the small budget below cuts some samples short

    const small = await withInputs(mode, budget(1e-3, 3));
    expect(small).toEqual(await built({ ...mode, maxIter: 3 }));
    expect(small.iterations.every((n) => n <= 3)).toBe(true);
    // The samples cut short are the unsettled ones, and they return their best iterate, not a diverged one.
    expect(small.unsettled).toEqual(iters.map((n) => (n > 3 ? 1 : 0)));
    expect(small.y.every(Number.isFinite)).toBe(true);
    expect(small.y).not.toEqual(atDefaults.y);

    const loose = await withInputs(mode, budget(0.05, 300));
    expect(loose).toEqual(await built({ ...mode, tol: 0.05 }));
    expect(loose.iterations.every((n, b) => n <= iters[b])).toBe(true);
    expect(loose.iterations.reduce((a, b) => a + b)).toBeLessThan(iters.reduce((a, b) => a + b));
  });

  it('clamps what twnn refuses: maxIter below 2 runs as 2, a negative or NaN tol as 0', async () => {
    const two = await withInputs({}, budget(1e-3, 2));
    expect(await withInputs({}, budget(1e-3, 0))).toEqual(two);
    expect(await withInputs({}, budget(1e-3, -5))).toEqual(two);
    const zero = await withInputs({}, budget(0, 6));
    expect(zero.iterations.every((n) => n === 6)).toBe(true);
    expect(await withInputs({}, budget(-1, 6))).toEqual(zero);
    expect(await withInputs({}, budget(NaN, 6))).toEqual(zero);
  });
});
