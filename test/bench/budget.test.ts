// lab/bench/budget.ts: the anytime curve's numbers are the model's own outputs at
// each maxIter (accuracy by argmax, sweeps, unsettled samples), its table lists
// them, and its figures are written; the times are measured, never asserted.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import mnistMlp from '../../graphs/mnist-mlp.js';
import { budgetCurve, budgetTable, drawBudget } from '../../lab/bench/budget.js';
import { exportModel, Tensor } from '../../src/index.js';
import { makeDataset } from '../../src/data/batches.js';
import { openSession } from '../../src/runtime/session.js';
import { randomTensor } from '../twnn/support.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-bench-budget-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('twnn bench budget', () => {
  it('measures what the model computes at each maxIter', async () => {
    await exportModel(mnistMlp, join(root, 'mlp'), { seed: 2 });
    const session = await openSession(join(root, 'mlp', 'model.onnx'));
    try {
      const x = randomTensor('float32', [30, 784], 4);
      const labels = Tensor.fromNumbers('int64', [30], Array.from({ length: 30 }, (_, i) => (i * 7) % 10));
      const points = await budgetCurve(session, makeDataset('random', x, labels), { maxIters: [2, 3, 300], batch: 8, repeats: 1 });
      expect(points.map((p) => p.maxIter)).toEqual([2, 3, 300]);
      for (const p of points) {
        const out = await session.run({ x, 'max_iter.region1': Tensor.scalar(p.maxIter, 'int64') });
        const y = out.y.toNumbers();
        const hits = labels.toNumbers().filter((label, i) => {
          const row = y.slice(10 * i, 10 * i + 10);
          return row.indexOf(Math.max(...row)) === label;
        }).length;
        expect(p.accuracy).toBeCloseTo(hits / 30, 12);
        const sweeps = out.iterations.toNumbers();
        expect(p.sweepsMean).toBeCloseTo(sweeps.reduce((a, b) => a + b) / 30, 12);
        expect(sweeps.every((n) => n <= p.maxIter)).toBe(true);
        expect(p.unsettled).toBe(out.unsettled.toNumbers().filter((u) => u > 0).length);
        expect(p.msPerSample).toBeGreaterThan(0);
      }
      expect(points[2].unsettled).toBe(0);
      const table = budgetTable(points, 'twnn bench budget m.onnx', 30);
      expect(table.split('\n').filter((l) => /^\| \d+ \|/.test(l))).toHaveLength(3);
      const paths = await drawBudget(points, join(root, 'figures'), 'mlp');
      for (const p of paths) for (const ext of ['svg', 'png']) expect(existsSync(`${p}.${ext}`)).toBe(true);
    } finally {
      await session.close();
    }
  });

  it('refuses a model without budget inputs, saying to re-export', async () => {
    const session = await openSession(join(import.meta.dirname, '../fixtures/pre-budget-sine/model.onnx'));
    try {
      const data = makeDataset('d', randomTensor('float32', [2, 16], 1), Tensor.fromNumbers('int64', [2], [0, 0]));
      await expect(budgetCurve(session, data, { maxIters: [2], batch: 2, repeats: 1 })).rejects.toThrow(/has no budget inputs; re-export it/);
    } finally {
      await session.close();
    }
  });
});
