// A run saved before its wormholes were named from their blocks
// (`region1.wormhole_3_1.*`; the committed exported/paper/mnist-mlp was, until
// it was re-exported) still has its training step timed and measured: the
// graph file exported again names them `wormhole_b3_b1`, its manifest records
// their former names, and the run's weights are fed under the new names. The
// fed step computes the very loss the run's model.onnx gives on the same batch.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileEntry, type Manifest } from '../../src/contract/manifest.js';
import { onnx, type OnnxTypes } from '../../src/onnx/proto.js';
import { readModelFile } from '../../src/onnx/load.js';
import { gatherRows, makeDataset } from '../../src/data/batches.js';
import { PAPER_RUNS } from '../../lab/bench/paper-runs.js';
import { loadRun, type BenchRun } from '../../lab/bench/runs.js';
import { withStepGraph } from '../../lab/bench/step-graph.js';
import { measureStepTime } from '../../lab/bench/step-time.js';
import { loadModelSpec } from '../../src/cli/graph-file.js';
import { loadTaskData } from '../../src/data/datasets.js';
import { evaluate } from '../../src/runtime/metrics.js';
import { openSession } from '../../src/runtime/session.js';
import { trainFeeds } from '../../src/runtime/train-feeds.js';

const tmp = mkdtempSync(join(tmpdir(), 'twnn-former-names-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Rename values in a model's every graph: initializers, graph inputs and the inputs of nodes (Loop bodies capture the weights). */
function renameValues(model: OnnxTypes.IModelProto, renames: ReadonlyMap<string, string>): void {
  const to = (name: string | null | undefined) => (name ? renames.get(name) ?? name : name);
  const visit = (g: OnnxTypes.IGraphProto) => {
    for (const t of g.initializer ?? []) t.name = to(t.name);
    for (const v of g.input ?? []) v.name = to(v.name);
    for (const n of g.node ?? []) {
      n.input = (n.input ?? []).map((i) => to(i) ?? '');
      for (const a of n.attribute ?? []) [...(a.g ? [a.g] : []), ...(a.graphs ?? [])].forEach(visit);
    }
  };
  visit(model.graph!);
}

/** The committed mnist-mlp run as it was saved before the rename: its wormhole weights under their former names. */
async function runUnderFormerNames(): Promise<BenchRun> {
  const committed = PAPER_RUNS.find((r) => r.id === 'mnist-mlp')!;
  const dir = join(tmp, 'mnist-mlp');
  const manifest = JSON.parse(readFileSync(join(committed.dir, 'manifest.json'), 'utf8')) as Manifest;
  const back = new Map(manifest.params.filter((p) => p.formerName).map((p) => [p.name, p.formerName!]));
  expect(back.size).toBe(3);
  const model = await readModelFile(join(committed.dir, 'model.onnx'));
  renameValues(model, back);
  const bytes = onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  // train.onnx also takes each parameter's optimizer slots, `<name>.m`.
  const former = (name: string): string => {
    const base = name.slice(0, name.lastIndexOf('.'));
    return back.get(name) ?? (back.has(base) ? `${back.get(base)}${name.slice(base.length)}` : name);
  };
  manifest.params = manifest.params.map(({ formerName: _, ...p }) => ({ ...p, name: back.get(p.name) ?? p.name }));
  manifest.training.trainable = manifest.training.trainable.map((n) => back.get(n) ?? n);
  manifest.training.state = Object.fromEntries(Object.entries(manifest.training.state).map(([n, slots]) => [back.get(n) ?? n, slots]));
  for (const g of Object.values(manifest.graphs)) g.inputs = g.inputs.map((v) => ({ ...v, name: former(v.name) }));
  manifest.files['model.onnx'] = fileEntry(bytes);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), bytes);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  copyFileSync(join(committed.dir, 'metrics.jsonl'), join(dir, 'metrics.jsonl'));
  return { ...committed, dir };
}

describe('the step graph of a run saved under former parameter names', () => {
  it('maps the run’s wormhole weights to their new names and computes the model’s own loss', async () => {
    const run = await runUnderFormerNames();
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
