// The run-time budget on twnn's side (src/runtime/budget.ts): openSession feeds a
// model's budget inputs from its metadata (or from the budget it is given), checks
// fed values naming the region, and a model exported before the budget was an input
// runs as before but refuses a budget with a message saying to re-export.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sine from '../../graphs/sine.js';
import { exportModel, Tensor } from '../../src/index.js';
import { readManifestSync } from '../../src/contract/read-manifest.js';
import { readModelFile } from '../../src/onnx/load.js';
import { limitsUnderBudget, modelBudget } from '../../src/runtime/budget.js';
import { regionLimits } from '../../src/runtime/guard.js';
import { openSession } from '../../src/runtime/session.js';
import { randomTensor, runModel } from '../twnn/support.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-budget-'));
const model = join(root, 'model.onnx');
const old = resolve(import.meta.dirname, '../fixtures/pre-budget-sine/model.onnx');
const x = randomTensor('float32', [8, 16], 5);
const feeds = (tol: number, maxIter: number) => ({ x, 'tol.region1': Tensor.scalar(tol, 'float32'), 'max_iter.region1': Tensor.scalar(maxIter, 'int64') });
const numbers = (out: Record<string, Tensor>) => Object.fromEntries(Object.entries(out).map(([k, t]) => [k, t.toNumbers()]));

beforeAll(async () => {
  await exportModel(sine, root, { seed: 3 });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function runWith(options: Parameters<typeof openSession>[1], given: Record<string, Tensor> = { x }) {
  const session = await openSession(model, options);
  try {
    return numbers(await session.run(given));
  } finally {
    await session.close();
  }
}

describe('the budget in twnn runtime', () => {
  it('records the built tol and maxIter in the metadata and the manifest, and feeds them by default', async () => {
    const budget = { 'tol.region1': 1e-3, 'max_iter.region1': 300 };
    expect(readManifestSync(join(root, 'manifest.json')).budget).toEqual(budget);
    expect(readManifestSync(join(root, 'manifest.json')).inputs.map((i) => i.name)).toEqual(['x', 'tol.region1', 'max_iter.region1']);
    expect(modelBudget(await readModelFile(model), model)).toEqual([{ region: 'region1', tolInput: 'tol.region1', maxIterInput: 'max_iter.region1', tol: 1e-3, maxIter: 300 }]);
    const byDefault = await runWith({});
    expect(byDefault).toEqual(numbers(await runModel(model, feeds(1e-3, 300))));
    expect(Math.max(...byDefault.iterations)).toBeGreaterThan(3);
  });

  it('runs under the budget it is opened with, or the one a run feeds', async () => {
    const small = await runWith({ budget: { maxIter: 3 } });
    expect(small).toEqual(numbers(await runModel(model, feeds(1e-3, 3))));
    expect(small.iterations.every((n) => n <= 3)).toBe(true);
    expect(small.unsettled.some((n) => n > 0)).toBe(true);
    // A region's own value wins over the one for all; a run's own feed wins over the session's.
    expect(await runWith({ budget: { tol: 0.5, regions: { region1: { tol: 0.05 } } } })).toEqual(numbers(await runModel(model, feeds(0.05, 300))));
    expect(await runWith({ budget: { maxIter: 3 } }, { x, 'max_iter.region1': Tensor.scalar(4, 'int64') })).toEqual(numbers(await runModel(model, feeds(1e-3, 4))));
    const session = await openSession(model, { budget: { maxIter: 3 } });
    expect(limitsUnderBudget(regionLimits(await readModelFile(model)), session.budget)[0]).toMatchObject({ region: 'region1', tol: 1e-3, maxIter: 3 });
    await session.close();
  });

  it.each([
    [{ maxIter: 1 }, "maxIter of region 'region1' must be an integer from 2 (the plain sweep and one check) to 2147483647, got 1"],
    [{ maxIter: 0 }, 'got 0'],
    [{ maxIter: 2 ** 31 }, 'got 2147483648'],
    [{ maxIter: 2.5 }, 'got 2.5'],
    [{ tol: -1 }, "tol of region 'region1' must be a finite number >= 0, got -1"],
    [{ tol: NaN }, 'got NaN'],
    [{ regions: { region9: { tol: 0.1 } } }, "no region 'region9' to set a budget for; its regions are 'region1'"],
  ])('refuses the budget %j, naming the region and the value', async (budget, message) => {
    await expect(openSession(model, { budget })).rejects.toThrow(message);
  });

  it('refuses a bad fed budget before onnxruntime sees it', async () => {
    await expect(runWith({}, { x, 'max_iter.region1': Tensor.scalar(0, 'int64') })).rejects.toThrow(`${model}: maxIter of region 'region1' must be an integer from 2`);
    await expect(runWith({}, { x, 'tol.region1': Tensor.scalar(NaN, 'float32') })).rejects.toThrow("tol of region 'region1' must be a finite number >= 0, got NaN");
  });

  it('runs a model exported before the budget was an input, and says to re-export it to set one', async () => {
    expect(readFileSync(old).length).toBeGreaterThan(0);
    const session = await openSession(old);
    expect(session.inputNames).toEqual(['x']);
    expect(session.budget).toEqual([]);
    const out = await session.run({ x });
    expect(out.iterations.toNumbers().every((n) => n >= 2)).toBe(true);
    await session.close();
    await expect(openSession(old, { budget: { maxIter: 3 } })).rejects.toThrow(/has no tol\/maxIter inputs .*re-export it with twnn build/);
  });
});
