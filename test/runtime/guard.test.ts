// The runtime's reading of fixed-point diagnostics (src/runtime/guard.ts):
// region limits from `twnn.loop:` metadata, per-region counts among a model's
// outputs, and the warning for samples that ran out of sweeps unsettled.
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/tensor.js';
import { regionIterations, regionLimits, unsettledWarnings } from '../../src/runtime/guard.js';

const loop = (node: string, config: Record<string, unknown>) => ({ key: `twnn.loop:${node}`, value: JSON.stringify(config) });
const ints = (values: number[]) => Tensor.fromNumbers('int64', [values.length], values);
const floats = (values: number[]) => Tensor.fromNumbers('float32', [values.length], values);

describe('regionLimits', () => {
  it("reads each forward Loop's region, tol and maxIter, skipping adjoint Loops, other keys and foreign values", () => {
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
      { region: 'a', tol: 1e-3, maxIter: 300 },
      { region: 'b', tol: 0, maxIter: 5 },
    ]);
    expect(regionLimits({})).toEqual([]);
  });
});

describe('regionIterations and unsettledWarnings', () => {
  const a = { region: 'a', tol: 1e-3, maxIter: 4 };
  const b = { region: 'b', tol: 1e-6, maxIter: 3 };

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
      "m.onnx: region 'b' ran all maxIter 3 sweeps without settling (residual > tol 0.000001) for samples 0, 1 (2 of 2); their outputs are the last sweep's, not fixed points",
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
