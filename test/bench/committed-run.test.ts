// A committed run (git keeps model.onnx, manifest.json and metrics.jsonl, not
// the checkpoint): loadRun must read back the settings and position the
// checkpoint held, for tiny runs trained here and for the paper's own runs.
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAPER_RUNS } from '../../lab/bench/paper-runs.js';
import { loadRun, UnfinishedRunError, type BenchRun, type LoadedRun } from '../../lab/bench/runs.js';
import { gatherRows, makeDataset, type Dataset } from '../../src/data/batches.js';
import { loadMnist } from '../../src/data/mnist.js';
import { resolveOptimizer } from '../../src/autodiff/optimizers.js';
import { FormatError, TwnnError } from '../../src/common/errors.js';
import type { Manifest } from '../../src/contract/manifest.js';
import { defineModel, dense, exportModel, sequential } from '../../src/index.js';
import { readMetrics } from '../../src/runtime/metrics.js';
import { train, type TrainOptions } from '../../src/runtime/trainer.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-committed-run-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** 50 rows in batches of 16: 4 steps an epoch (16, 16, 16, 2), and batch sizes 13 to 16 all give 4, so only the logged train_loss tells 16. */
const TRAIN_ROWS = 50;
const spec = defineModel({
  name: 'committed',
  input: { shape: ['B', 784] },
  net: sequential(dense(784, 10)),
  task: { loss: 'cross_entropy', data: { kind: 'mnist', layout: 'flat' }, train: { epochs: 2, batch: 16, lr: 3e-3, lrSchedule: 'cosine', optimizer: 'sgd', momentum: 0.9 } },
});
const trainSize = () => TRAIN_ROWS;
const kept = ['model.onnx', 'manifest.json', 'metrics.jsonl'];

let data: { train: Dataset; test: Dataset };
beforeAll(async () => {
  const mnist = await loadMnist({ split: 'test', layout: 'flat' });
  const subset = (from: number, n: number) => {
    const rows = Array.from({ length: n }, (_, i) => from + i);
    return makeDataset('small', gatherRows(mnist.x, rows), gatherRows(mnist.target, rows));
  };
  data = { train: subset(0, TRAIN_ROWS), test: subset(100, 40) };
}, 60_000);

function benchRun(id: string, dir: string): BenchRun {
  return { id, label: id, family: 'f', role: 'baseline', dir, command: `twnn train ${id}.ts` };
}

/** Train into `<root>/<id>`, then copy what git would keep into `<root>/<id>-committed`. */
async function trainAndCommit(id: string, options: Partial<TrainOptions>): Promise<{ local: BenchRun; committed: BenchRun }> {
  const local = benchRun(id, join(root, id));
  await train({ spec, outDir: local.dir, data, seed: 3, ...options });
  const committed = benchRun(id, join(root, `${id}-committed`));
  mkdirSync(committed.dir);
  for (const file of kept) copyFileSync(join(local.dir, file), join(committed.dir, file));
  return { local, committed };
}

/** What the report reads from a run's config and position. */
function reported(r: LoadedRun) {
  const { model, dtype, epochs, batch, lr, lrSchedule, optimizer, seed } = r.config;
  const { epoch, position, step, epochSamples, lastTrainLoss } = r.position;
  return { config: { model, dtype, epochs, batch, lr, lrSchedule, optimizer, seed }, position: { epoch, position, step, epochSamples, lastTrainLoss } };
}

describe('loadRun on a committed run (no checkpoint)', () => {
  it('knows Fashion-MNIST\'s training-set size: a committed stability run reads back its batch and epochs with no graph file', async () => {
    // Only the committed files are copied: a checkout whose run folder still holds the trainer's graphs would read its checkpoint instead.
    const dir = mkdtempSync(join(tmpdir(), 'twnn-fashion-run-'));
    for (const f of ['manifest.json', 'metrics.jsonl', 'model.onnx']) copyFileSync(join('exported/stability/contractive-lr1e-3-s0', f), join(dir, f));
    const loaded = (await loadRun({ id: 'contractive-s0', label: 'Contractive', family: 'stability', role: 'twnn', dir, command: 'twnn train graphs/fashion-resnet-contractive.ts' }))!;
    expect(loaded.from).toBe('metrics');
    expect(loaded.config).toMatchObject({ epochs: 2, batch: 64, lr: 1e-3, lrSchedule: 'cosine', optimizer: 'adam' });
    expect(loaded.position).toMatchObject({ epoch: 2, position: 0, step: 1876 });
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads back the config and position of the checkpoint from the manifest and metrics', async () => {
    const { local, committed } = await trainAndCommit('full', {});
    const a = (await loadRun(local, { trainSize }))!;
    const b = (await loadRun(committed, { trainSize }))!;
    expect(a.from).toBe('checkpoint');
    expect(b.from).toBe('metrics');
    expect(reported(b)).toEqual(reported(a));
    expect(b.config).toMatchObject({ epochs: 2, batch: 16, lrSchedule: 'cosine', optimizer: 'sgd', lr: 3e-3, seed: 3 });
    expect(b.position).toMatchObject({ epoch: 2, position: 0, step: 8 });
    // Epoch records keep the trainer's clock to the millisecond.
    expect(b.position.seconds).toBeCloseTo(a.position.seconds, 2);
    // Every optimizer setting, as the export resolved it: the checkpoint keeps only those the graph file set.
    const manifest = JSON.parse(readFileSync(join(committed.dir, 'manifest.json'), 'utf8')) as Manifest;
    expect(resolveOptimizer({ kind: b.config.optimizer as 'sgd', lr: b.config.lr, ...b.config.hyper })).toEqual(manifest.training.optimizer);
    expect(a.config.hyper).toEqual({ momentum: 0.9 });
    expect(b.modelPath).toBe(join(committed.dir, 'model.onnx'));
  }, 60_000);

  it('takes the planned epochs of a cosine run cut short from its lr, and the steps after its last epoch from the step records', async () => {
    const { local, committed } = await trainAndCommit('limited', { epochs: 3, limitSteps: 6 });
    const a = (await loadRun(local, { trainSize }))!;
    const b = (await loadRun(committed, { trainSize }))!;
    expect(reported(b)).toEqual(reported(a));
    expect(b.position).toMatchObject({ epoch: 1, position: 2, step: 6, epochSamples: 32 });
    expect(b.config.epochs).toBe(3);
    expect(b.position.epochLossSum).toBeCloseTo(a.position.epochLossSum, 12);
    // The steps after the epoch are rows / samples_per_s, logged to 3 decimals.
    expect(b.position.seconds).toBeCloseTo(a.position.seconds, 2);
  }, 60_000);

  it('counts the epochs begun of a constant-lr run cut short (its plan is logged nowhere)', async () => {
    const { local, committed } = await trainAndCommit('constant', { epochs: 3, limitSteps: 6, lrSchedule: 'constant' });
    const a = (await loadRun(local, { trainSize }))!;
    const b = (await loadRun(committed, { trainSize }))!;
    expect(a.config.epochs).toBe(3);
    expect(b.config).toMatchObject({ epochs: 2, lrSchedule: 'constant', batch: 16 });
    expect(reported(b).position).toEqual(reported(a).position);
  }, 60_000);

  it('needs the batch size from elsewhere when no epoch finished, and projects from the steps then', async () => {
    const { local, committed } = await trainAndCommit('first-epoch', { limitSteps: 3 });
    await expect(loadRun(committed, { trainSize })).rejects.toThrow(TwnnError);
    await expect(loadRun(committed, { trainSize })).rejects.toThrow(`run 'first-epoch' (${join(committed.dir, 'metrics.jsonl')}): no epoch finished, so the batch size cannot be told from metrics.jsonl`);
    const a = (await loadRun(local, { trainSize }))!;
    const b = (await loadRun(committed, { trainSize, batchHint: async () => 16 }))!;
    expect(reported(b)).toEqual(reported(a));
    expect(b.position).toMatchObject({ epoch: 0, position: 3, step: 3, lastTrainLoss: null });
    expect(b.position.seconds).toBeCloseTo(a.position.seconds, 3);
    // The trainer's own folder without a checkpoint and without a finished epoch: a run still in its first epoch.
    unlinkSync(join(local.dir, 'checkpoint.twnn'));
    await expect(loadRun(local, { trainSize })).rejects.toThrow(UnfinishedRunError);
    await expect(loadRun(local, { trainSize })).rejects.toThrow(`run 'first-epoch': ${local.dir} has the trainer's graphs and 3 logged steps but no checkpoint and no finished epoch`);
  }, 60_000);

  it('is undefined for a folder with nothing trained: empty, or a plain export', async () => {
    expect(await loadRun(benchRun('none', join(root, 'none')))).toBeUndefined();
    const built = benchRun('built', join(root, 'built'));
    await exportModel(spec, built.dir, { seed: 0 });
    expect(await loadRun(built)).toBeUndefined();
  });

  it('refuses a model.onnx that is not the one the manifest describes, and names a missing file', async () => {
    const { committed } = await trainAndCommit('mixed', { limitSteps: 4 });
    appendFileSync(join(committed.dir, 'model.onnx'), 'x');
    await expect(loadRun(committed, { trainSize })).rejects.toThrow(FormatError);
    await expect(loadRun(committed, { trainSize })).rejects.toThrow(`run 'mixed': ${join(committed.dir, 'model.onnx')} is not the model.onnx ${join(committed.dir, 'manifest.json')} describes`);
    unlinkSync(join(committed.dir, 'manifest.json'));
    await expect(loadRun(committed, { trainSize })).rejects.toThrow(`run 'mixed': ${join(committed.dir, 'manifest.json')} is missing (the folder has a metrics.jsonl`);
  }, 60_000);
});

describe('the committed paper runs', () => {
  // From each run's command and graph file: every one Adam at batch 64 with a cosine lr over 938 steps an epoch.
  const expected: Record<string, { epochs: number; lr: number }> = {
    'mnist-mlp': { epochs: 4, lr: 1e-3 },
    'mnist-mlp-plain': { epochs: 4, lr: 1e-3 },
    'mnist-resnet': { epochs: 8, lr: 1e-3 },
    'mnist-resnet-gn-plain': { epochs: 8, lr: 1e-3 },
    'mnist-resnet-deep-plain': { epochs: 8, lr: 1e-3 },
  };

  it.each(PAPER_RUNS.map((r) => [r.id, r] as const))('%s loads, with the settings its command and metrics say', async (id, run) => {
    const loaded = (await loadRun(run))!;
    expect(loaded, `${run.dir} holds no run`).toBeDefined();
    const { epochs, lr } = expected[id];
    expect(loaded.config).toMatchObject({ model: id, dtype: 'float32', epochs, batch: 64, lr, lrSchedule: 'cosine', optimizer: 'adam', seed: 0 });
    expect(loaded.position).toMatchObject({ epoch: epochs, position: 0, step: epochs * 938 });
    const epochRecords = readMetrics(join(run.dir, 'metrics.jsonl')).filter((r) => r.kind === 'epoch');
    expect(epochRecords).toHaveLength(epochs);
    // A local checkpoint's clock is exact, the epoch record's rounded to the millisecond.
    expect(loaded.position.seconds).toBeCloseTo(epochRecords.at(-1)!.seconds, 2);
  });
});
