// evaluate() (src/runtime/metrics.ts) over a data set in batches: samples that
// ran all maxIter sweeps unsettled are counted per region and named by their
// data-set index (batch offset + row), whatever the region's onMaxIter.
import { describe, expect, it } from 'vitest';
import { defineModel, dense, region, sequential, tanh } from '../../src/index.js';
import { Tensor } from '../../src/ir/tensor.js';
import { buildInferenceGraph } from '../../src/lower/inference.js';
import { loopMetadata } from '../../src/lower/fixed-point.js';
import { parseModel } from '../../src/onnx/load.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { checkSettled, regionLimits } from '../../src/runtime/guard.js';
import { evaluate } from '../../src/runtime/metrics.js';
import { openSession } from '../../src/runtime/session.js';

// No biases: a zero row stays at the fixed point 0 (residual exactly 0). With an
// open gate and maxIter 4, larger rows still move on the last sweep.
const block = () => sequential(dense(4, 4, { bias: false }), tanh());
const spec = defineModel({
  name: 'unsettled',
  input: { shape: ['B', 3] },
  net: sequential({
    stem: dense(3, 4, { bias: false }),
    region1: region({ blocks: [block(), block()], wormholes: [{ from: 2, to: 1, gateBias: 4 }], iterate: { tol: 1e-3, maxIter: 4, onMaxIter: 'error' } }),
    head: dense(4, 2, { bias: false }),
  }),
});

describe('evaluate', () => {
  it('counts and names unsettled samples by data-set index across batches, leaving the decision to checkSettled', async () => {
    const { graph } = buildInferenceGraph(spec, { seed: 0 });
    const bytes = serializeModel(graph, { metadata: loopMetadata(graph) });
    const regions = regionLimits(parseModel(bytes, 'unsettled.onnx'));
    expect(regions).toEqual([{ region: 'region1', tol: 1e-3, maxIter: 4, onMaxIter: 'error', returnIterate: 'best' }]);
    const rows = [[0, 0, 0], [0.1, 0, 0], [1, -1, 0.5], [0.01, 0.02, 0], [3, -2, 1], [0, 0, 0], [-2, 1, 2], [0.05, 0, 0.05]];
    const x = Tensor.fromNumbers('float32', [rows.length, 3], rows.flat());
    const data = { name: 'rows', x, target: Tensor.zeros('float32', [rows.length, 2]) };
    const session = await openSession(bytes, { where: 'unsettled.onnx' });
    try {
      // The reference: one run over all rows, read off iterations and residual.
      const all = await session.run({ x });
      const iterations = all.iterations.toNumbers();
      const residual = all.residual.toNumbers();
      const expected = iterations.flatMap((n, b) => (n >= 4 && residual[b] > Math.fround(1e-3) ? [b] : []));
      // A real mix: some rows ran out of sweeps, others settled (some of those only on the last sweep).
      expect(expected.length).toBeGreaterThan(0);
      expect(expected.length).toBeLessThan(rows.length - 2);
      expect(iterations.filter((n, b) => n === 4 && !expected.includes(b)).length).toBeGreaterThan(0);

      // Batches of 3: rows 0-2, 3-5, 6-7.
      const result = await evaluate(session, data, 'mse', 3, regions);
      expect(result.samples).toBe(rows.length);
      expect(result.unsettled).toEqual([{ ...regions[0], count: expected.length, samples: expected, of: rows.length }]);
      expect(expected.some((b) => b >= 3)).toBe(true);
      expect(() => checkSettled(result.unsettled, 'unsettled.onnx on rows')).toThrow(
        `unsettled.onnx on rows: region 'region1' ran all maxIter 4 sweeps without settling (residual > tol 0.001) for sample${expected.length > 1 ? 's' : ''} ${expected.join(', ')} (${expected.length} of 8); iterate.onMaxIter is 'error'`,
      );
      // Without the regions nothing is counted.
      expect((await evaluate(session, data, 'mse', 3)).unsettled).toEqual([]);
    } finally {
      await session.close();
    }
  });
});
