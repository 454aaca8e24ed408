// A committed run saved before its wormholes were named from their blocks
// (exported/paper/mnist-mlp: `region1.wormhole_3_1.*`) still has its training
// step timed and measured: the graph file exported again names them
// `wormhole_b3_b1`, its manifest records their former names, and the run's
// weights are fed under the new names. The fed step computes the very loss the
// committed model.onnx gives on the same batch.
import { describe, expect, it } from 'vitest';
import { gatherRows, makeDataset } from '../../src/data/batches.js';
import { PAPER_RUNS } from '../../src/bench/paper-runs.js';
import { loadRun } from '../../src/bench/runs.js';
import { withStepGraph } from '../../src/bench/step-graph.js';
import { measureStepTime } from '../../src/bench/step-time.js';
import { loadModelSpec } from '../../src/cli/graph-file.js';
import { loadTaskData } from '../../src/data/datasets.js';
import { evaluate } from '../../src/runtime/metrics.js';
import { openSession } from '../../src/runtime/session.js';
import { trainFeeds } from '../../src/runtime/train-feeds.js';

describe('the step graph of a committed run saved under former parameter names', () => {
  it('maps the run’s wormhole weights to their new names and computes the model’s own loss', async () => {
    const run = PAPER_RUNS.find((r) => r.id === 'mnist-mlp')!;
    const loaded = (await loadRun(run))!;
    expect(loaded.manifest.params.map((p) => p.name)).toContain('region1.wormhole_3_1.gate.weight');
    const test = await loadTaskData(loaded.manifest.task.data!, 'test');
    const rows = Array.from({ length: 32 }, (_, i) => i);
    const x = gatherRows(test.x, rows);
    const target = gatherRows(test.target, rows);

    const { renames, loss, timed } = await withStepGraph(loaded, loadModelSpec, async (g) => {
      expect(g.source).toBe('re-exported');
      const session = await openSession(g.path);
      try {
        const out = await session.run(Object.fromEntries(await trainFeeds(run.dir, x, target, g.renames)));
        const timed = await measureStepTime(run.dir, x, target, { repeats: 1, graph: g });
        return { renames: g.renames!, loss: Number(out.loss.data[0]), timed };
      } finally {
        await session.close();
      }
    });
    expect([...renames]).toEqual([
      ['region1.wormhole_3_1.proj.weight', 'region1.wormhole_b3_b1.proj.weight'],
      ['region1.wormhole_3_1.gate.weight', 'region1.wormhole_b3_b1.gate.weight'],
      ['region1.wormhole_3_1.gate.bias', 'region1.wormhole_b3_b1.gate.bias'],
    ]);
    expect(timed.msPerStep).toBeGreaterThan(0);

    const model = await openSession(loaded.modelPath);
    try {
      const scored = await evaluate(model, makeDataset('fashion-batch', x, target), 'cross_entropy', 32);
      // The same weights through the same fixed point (tol 1e-3): equal up to the solver's tolerance.
      expect(Math.abs(loss - scored.loss)).toBeLessThan(1e-4);
    } finally {
      await model.close();
    }
  }, 120_000);
});
