// What `twnn web` serves besides the page (issue 26): the tasks it trains,
// with a clear error for any other export; batch k of size B in the trainer's
// seeded order; and the page's charts, src/report's specs with named data.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile } from 'vega-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sine from '../../graphs/sine.js';
import { exportModel } from '../../src/lower/artifacts.js';
import { MANIFEST_FILE, TRAIN_FILE } from '../../src/contract/files.js';
import { TwnnError } from '../../src/common/errors.js';
import { datasetSize } from '../../src/data/batches.js';
import { lineSpec } from '../../src/report/chart-specs.js';
import { pageCharts } from '../../src/web/charts.js';
import { loadWebTask, stepBatch } from '../../src/web/plan.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-web-plan-'));
const dir = join(root, 'sine');

beforeAll(async () => {
  await exportModel(sine, dir);
}, 60_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A copy of the sine export with `edit` applied to its manifest. */
function variant(name: string, edit: (manifest: Record<string, any>) => void): string {
  const copy = join(root, name);
  cpSync(dir, copy, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(copy, MANIFEST_FILE), 'utf8'));
  edit(manifest);
  writeFileSync(join(copy, MANIFEST_FILE), JSON.stringify(manifest));
  return copy;
}

describe('loadWebTask', () => {
  it('loads the sine export: first-step feeds without a batch, the budget, the test sample and the wave to draw', async () => {
    const task = await loadWebTask(dir);
    expect(task.kind).toBe('sine');
    expect(task.initial.has('x')).toBe(false);
    expect(task.initial.has('target')).toBe(false);
    expect(task.initial.get('step')!.toNumbers()).toEqual([1]);
    expect(task.maxIter).toBe(300);
    expect([...task.budget.keys()].sort()).toEqual(['max_iter.region1', 'tol.region1']);
    expect(task.test.x.shape).toEqual([256, 16]);
    expect(task.wave!.seedWindow).toHaveLength(16);
    expect(task.wave!.truth).toHaveLength(120);
    // The true continuation of the seed window (the first test window) is the test targets, in order.
    expect(task.wave!.seedWindow).toEqual(task.test.x.toNumbers().slice(0, 16));
    expect(task.wave!.truth).toEqual(task.test.target.toNumbers().slice(0, 120));
  });

  it('an export whose task the page does not train is an error naming its task and those it trains', async () => {
    const conv = variant('conv', (m) => (m.task.data = { kind: 'mnist', layout: 'image' }));
    await expect(loadWebTask(conv)).rejects.toThrow(new TwnnError(`${conv}: this model's task data is 'mnist' with layout 'image'; twnn web trains 'sine' and 'mnist' (twnn web --help)`));
    const none = variant('none', (m) => delete m.task.data);
    await expect(loadWebTask(none)).rejects.toThrow(`${none}: this model has no task data; twnn web trains 'sine' and 'mnist'`);
  });

  it('an export without train.onnx (a committed model) is an error saying how to build one', async () => {
    const bare = join(root, 'bare');
    cpSync(dir, bare, { recursive: true });
    rmSync(join(bare, TRAIN_FILE));
    await expect(loadWebTask(bare)).rejects.toThrow(`${bare}: no ${TRAIN_FILE}, which the page trains`);
  });
});

describe('stepBatch', () => {
  it("an epoch's batches are a permutation of the training rows, the next epoch another order, and batch k the same on every call", async () => {
    const task = await loadWebTask(dir);
    const size = datasetSize(task.train);
    const batch = 100;
    const perEpoch = Math.ceil(size / batch);
    const rowsOf = (k: number) => stepBatch(task, batch, k).target.toNumbers();
    const epoch0 = Array.from({ length: perEpoch }, (_, k) => rowsOf(k)).flat();
    expect(epoch0.sort((a, b) => a - b)).toEqual(task.train.target.toNumbers().sort((a, b) => a - b));
    expect(rowsOf(perEpoch)).not.toEqual(rowsOf(0));
    expect(stepBatch(task, batch, 3).x.toNumbers()).toEqual(stepBatch(task, batch, 3).x.toNumbers());
    expect(() => stepBatch(task, 0, 1)).toThrow('batch 0: expected an integer from 1 to 4096');
  });
});

describe('pageCharts', () => {
  it("are src/report's specs reading named data sources of their own ids, laid out again as rows arrive", () => {
    for (const kind of ['sine', 'mnist'] as const) {
      const charts = pageCharts(kind, 10);
      expect(Object.keys(charts).sort()).toEqual(kind === 'sine' ? ['histogram', 'loss', 'sweeps', 'wave'] : ['accuracy', 'histogram', 'loss', 'sweeps']);
      for (const [id, spec] of Object.entries(charts)) {
        expect(spec.data, id).toEqual({ name: id });
        const vega = compile(spec).spec;
        expect(vega.data!.map((d) => d.name), id).toContain(id);
        expect(vega.autosize, id).toMatchObject({ resize: true });
      }
    }
    const { autosize: _, ...loss } = pageCharts('sine', 10).loss as unknown as Record<string, unknown>;
    const { autosize: __, ...shared } = lineSpec({ width: 460, height: 280, title: 'Training loss (log scale)', xLabel: 'step', yLabel: 'loss', logY: true, series: ['train loss'] }, { name: 'loss' }) as unknown as Record<string, unknown>;
    expect(loss).toEqual(shared);
  });
});
