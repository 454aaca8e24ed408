// The runtime's reading of fixed-point diagnostics (src/runtime/guard.ts):
// region limits and policies from `twnn.loop:` metadata, per-region counts
// among a model's outputs, and what is done about samples that ran out of
// sweeps unsettled (found, added up, warned about, or an error).
import { describe, expect, it } from 'vitest';
import { TwnnError } from '../../src/common/errors.js';
import { Tensor } from '../../src/ir/tensor.js';
import {
  addUnsettled,
  checkSettled,
  iteratorLimits,
  nonFiniteWarnings,
  regionIterations,
  regionLimits,
  unsettledSamples,
  unsettledSummary,
  unsettledWarnings,
  type RegionLimits,
  type UnsettledSamples,
} from '../../src/runtime/guard.js';

const loop = (node: string, config: Record<string, unknown>) => ({ key: `twnn.loop:${node}`, value: JSON.stringify(config) });
const ints = (values: number[]) => Tensor.fromNumbers('int64', [values.length], values);
const floats = (values: number[]) => Tensor.fromNumbers('float32', [values.length], values);

describe('regionLimits', () => {
  it("reads each forward Loop's region, tol and maxIter, skipping adjoint Loops, other keys and foreign values; old models: onMaxIter 'warn', returnIterate 'last'", () => {
    const model = {
      metadataProps: [
        { key: 'twnn.model', value: 'm' },
        loop('a/Loop_3', { role: 'forward', region: 'a', tol: 1e-3, maxIter: 300, minIter: 1 }),
        loop('Loop_9', { role: 'adjoint', region: 'a', tol: 1e-3, maxIter: 300 }),
        { key: 'twnn.loop:Loop_10', value: 'not json' },
        loop('Loop_11', { role: 'forward', region: 'c' }),
        loop('b/Loop_7', { role: 'forward', region: 'b', tol: 0, maxIter: 5 }),
      ],
    };
    expect(regionLimits(model)).toEqual([
      { region: 'a', tol: 1e-3, maxIter: 300, onMaxIter: 'warn', returnIterate: 'last' },
      { region: 'b', tol: 0, maxIter: 5, onMaxIter: 'warn', returnIterate: 'last' },
    ]);
    expect(regionLimits({})).toEqual([]);
  });

  it("reads the policies of 'iterate' Loops; the manifest's iterators list gives the same", () => {
    const configs = [
      { role: 'iterate', region: 'r1', tol: 1e-3, maxIter: 300, returnIterate: 'best', onMaxIter: 'error', node: 'r1/iterate' },
      { role: 'adjoint', region: 'r1', tol: 1e-3, maxIter: 300, node: 'r1/adjoint' },
      { role: 'iterate', region: 'r2', tol: 1e-4, maxIter: 50, returnIterate: 'last', onMaxIter: 'warn', node: 'r2/iterate' },
    ];
    const expected = [
      { region: 'r1', tol: 1e-3, maxIter: 300, onMaxIter: 'error', returnIterate: 'best' },
      { region: 'r2', tol: 1e-4, maxIter: 50, onMaxIter: 'warn', returnIterate: 'last' },
    ];
    expect(regionLimits({ metadataProps: configs.map((c) => loop(c.node, c)) })).toEqual(expected);
    expect(iteratorLimits(configs)).toEqual(expected);
    expect(iteratorLimits([null, 'r1', 3])).toEqual([]);
  });
});

describe('regionIterations and unsettledWarnings', () => {
  const a: RegionLimits = { region: 'a', tol: 1e-3, maxIter: 4, onMaxIter: 'warn', returnIterate: 'last' };
  const b: RegionLimits = { region: 'b', tol: 1e-6, maxIter: 3, onMaxIter: 'warn', returnIterate: 'best' };

  it('one region: the plain iterations and residual outputs are its own', () => {
    const outputs = { y: floats([0, 0, 0]), iterations: ints([2, 4, 4]), residual: floats([1e-4, 5e-3, 1e-3]) };
    const [r] = regionIterations(outputs, [a]);
    expect(r.region).toBe('a');
    expect(r.iterations.toNumbers()).toEqual([2, 4, 4]);
    // Sample 2 ran maxIter sweeps but its residual is exactly tol: settled.
    expect(unsettledWarnings(outputs, [a], 'm.onnx')).toEqual([
      "m.onnx: region 'a' ran all maxIter 4 sweeps without settling (residual > tol 0.001) for sample 1 (1 of 3); its output is the last sweep's, not a fixed point",
    ]);
  });

  it('several regions: each reads its own iterations.<region> and residual.<region>, never the sums', () => {
    const outputs = {
      iterations: ints([7, 7]),
      residual: floats([1, 1]),
      'iterations.a': ints([4, 4]),
      'residual.a': floats([1e-4, 1e-4]),
      'iterations.b': ints([3, 3]),
      'residual.b': floats([1e-3, 1e-2]),
    };
    expect(regionIterations(outputs, [a, b]).map((r) => [r.region, r.iterations.toNumbers()])).toEqual([['a', [4, 4]], ['b', [3, 3]]]);
    expect(unsettledWarnings(outputs, [a, b], 'm.onnx')).toEqual([
      "m.onnx: region 'b' ran all maxIter 3 sweeps without settling (residual > tol 0.000001) for samples 0, 1 (2 of 2); their outputs are their best iterates (lowest residual), not fixed points",
    ]);
    // Only the sums: no per-region counts to show.
    expect(regionIterations({ iterations: ints([7]), residual: floats([1]) }, [a, b])).toEqual([]);
  });

  it('lists at most ten samples, then the count', () => {
    const n = 12;
    const outputs = { iterations: ints(Array(n).fill(4)), residual: floats(Array(n).fill(1)) };
    expect(unsettledWarnings(outputs, [a], 'm.onnx')[0]).toContain('for samples 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ... (12 in all) (12 of 12)');
  });

  it('a model without residual outputs (train.onnx) gets no warning', () => {
    expect(unsettledWarnings({ iterations: ints([4]) }, [a], 'train.onnx')).toEqual([]);
  });
});

describe('unsettledSamples, addUnsettled, unsettledSummary and checkSettled', () => {
  const one: RegionLimits = { region: 'r', tol: 1e-3, maxIter: 5, onMaxIter: 'error', returnIterate: 'best' };

  it('model.onnx: iterations at maxIter with a finite residual above tol; a NaN or infinite residual is not counted (checkFixedPoint reports it)', () => {
    const outputs = { iterations: ints([5, 3, 5, 5, 5]), residual: floats([0.5, 0.5, Math.fround(1e-3), NaN, Infinity]) };
    expect(unsettledSamples(outputs, [one])).toEqual([{ ...one, count: 1, samples: [0], of: 5 }]);
  });

  it("a training graph's own flags: `unsettled` with one region, `unsettled.<region>` with several", () => {
    expect(unsettledSamples({ iterations: ints([5, 5, 5]), unsettled: ints([0, 1, 1]) }, [one])).toEqual([{ ...one, count: 2, samples: [1, 2], of: 3 }]);
    const two: RegionLimits = { ...one, region: 's', onMaxIter: 'warn' };
    const outputs = { unsettled: ints([1, 2, 0]), 'unsettled.r': ints([1, 1, 0]), 'unsettled.s': ints([0, 1, 0]) };
    expect(unsettledSamples(outputs, [one, two]).map((u) => [u.region, u.samples])).toEqual([['r', [0, 1]], ['s', [1]]]);
    // Only the sum: which region is unknown.
    expect(unsettledSamples({ unsettled: ints([1]) }, [one, two])).toEqual([]);
  });

  it('adds batches up into data-set indices, listing at most 100 but counting all', () => {
    const totals: UnsettledSamples[] = [];
    addUnsettled(totals, [{ ...one, count: 2, samples: [1, 3], of: 4 }], (b) => 0 + b);
    addUnsettled(totals, [{ ...one, count: 0, samples: [], of: 4 }], (b) => 4 + b);
    addUnsettled(totals, [{ ...one, count: 1, samples: [2], of: 3 }], (b) => 8 + b);
    expect(totals).toEqual([{ ...one, count: 3, samples: [1, 3, 10], of: 11 }]);
    addUnsettled(totals, [{ ...one, count: 200, samples: Array.from({ length: 200 }, (_, i) => i), of: 200 }], (b) => 11 + b);
    expect(totals[0].count).toBe(203);
    expect(totals[0].of).toBe(211);
    expect(totals[0].samples).toHaveLength(100);
    expect(totals[0].samples.slice(0, 4)).toEqual([1, 3, 10, 11]);
    expect(unsettledSummary(totals[0])).toBe(
      'r: 203 of 211 samples ran all maxIter 5 sweeps without settling (residual > tol 0.001): samples 1, 3, 10, 11, 12, 13, 14, 15, 16, 17, ... (203 in all); ' +
        'their outputs are their best iterates (lowest residual), not fixed points',
    );
    expect(unsettledSummary({ ...one, returnIterate: 'last', count: 1, samples: [1014], of: 10000 })).toBe(
      "r: 1 of 10000 samples ran all maxIter 5 sweeps without settling (residual > tol 0.001): sample 1014; its output is the last sweep's, not a fixed point",
    );
  });

  it("onMaxIter 'error': checkSettled throws naming the file, region, samples, maxIter, tol and the remedies; 'warn' regions only warn", () => {
    const warn: RegionLimits = { ...one, region: 'w', onMaxIter: 'warn', maxIter: 3 };
    const outputs = { 'iterations.r': ints([5, 5, 1]), 'residual.r': floats([0.5, 1e-4, 0]), 'iterations.w': ints([3, 3, 3]), 'residual.w': floats([0, 0.1, 0]) };
    const found = unsettledSamples(outputs, [one, warn]);
    expect(found.map((u) => u.count)).toEqual([1, 1]);
    expect(() => checkSettled(found, 'm.onnx')).toThrow(TwnnError);
    expect(() => checkSettled(found, 'm.onnx')).toThrow(
      "m.onnx: region 'r' ran all maxIter 5 sweeps without settling (residual > tol 0.001) for sample 0 (1 of 3); iterate.onMaxIter is 'error' for region 'r': " +
        "raise iterate.maxIter, loosen iterate.tol, or set iterate.onMaxIter: 'warn' to accept such outputs",
    );
    // The 'error' region is checkSettled's: the warnings name only the 'warn' one.
    expect(unsettledWarnings(outputs, [one, warn], 'm.onnx')).toEqual([
      "m.onnx: region 'w' ran all maxIter 3 sweeps without settling (residual > tol 0.001) for sample 1 (1 of 3); its output is its best iterate (lowest residual), not a fixed point",
    ]);
    // Settled, or unsettled only where onMaxIter is 'warn': no error.
    expect(() => checkSettled(found.filter((u) => u.region === 'w'), 'm.onnx')).not.toThrow();
    expect(() => checkSettled(unsettledSamples({ 'iterations.r': ints([2]), 'residual.r': floats([1e-4]), 'iterations.w': ints([3]), 'residual.w': floats([0]) }, [one, warn]), 'm.onnx')).not.toThrow();
  });
});

// Issue 23, item 13: a foreign model's NaN or infinity is printed, and said.
describe('nonFiniteWarnings', () => {
  it('names each float output holding NaN or infinity, with how many and the first index', () => {
    const outputs = { y: floats([1, NaN, Infinity, 2]), z: floats([0, -Infinity]), ok: floats([1, 2]), n: ints([1]) };
    expect(nonFiniteWarnings(outputs, 'm.onnx')).toEqual([
      "m.onnx: output 'y' holds NaN or infinity in 2 of 4 elements (first at flat index 1)",
      "m.onnx: output 'z' holds NaN or infinity in 1 of 2 elements (first at flat index 1)",
    ]);
    expect(nonFiniteWarnings({ ok: floats([1]) }, 'm.onnx')).toEqual([]);
  });
});

