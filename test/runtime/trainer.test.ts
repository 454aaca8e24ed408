import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sineMlp from '../../graphs/sine-mlp.js';
import { batchRows, shuffledOrder } from '../../src/data/batches.js';
import { loadSine } from '../../src/data/sine.js';
import { defineModel, dense, region, sequential, tanh } from '../../src/index.js';
import { Tensor } from '../../src/ir/tensor.js';
import { exportModel } from '../../src/lower/artifacts.js';
import { readInitializers, readModelFile } from '../../src/onnx/load.js';
import { loadCheckpoint, saveCheckpoint, type Checkpoint } from '../../src/runtime/checkpoint.js';
import { readMetrics } from '../../src/runtime/metrics.js';
import { learningRate, LossWatch, lrWarning, train, type TrainEvent, type TrainOptions } from '../../src/runtime/trainer.js';
import { SpecError, TwnnError } from '../../src/common/errors.js';
import type { IterateSpec } from '../../src/twnn/region.js';
import mnistMlp from '../../graphs/mnist-mlp-plain.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-trainer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A short series keeps the tests fast: 300 samples, windows of 16 -> 227 train
// windows (8 batches of 32, the last one partial: 3 rows) and 57 test windows.
const smallSine = { train: loadSine({ window: 16, length: 300 }, 'train'), test: loadSine({ window: 16, length: 300 }, 'test') };

function bytesOf(t: Tensor): Buffer {
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

function expectBitIdentical(a: Map<string, Tensor>, b: Map<string, Tensor>): void {
  expect([...b.keys()]).toEqual([...a.keys()]);
  for (const [name, t] of a) expect(bytesOf(b.get(name)!).equals(bytesOf(t)), `${name} differs`).toBe(true);
}

describe('train', () => {
  it('makes the sine MLP loss fall and writes metrics, checkpoint and the trained model.onnx', async () => {
    const outDir = join(dir, 'falls');
    const epochs: number[] = [];
    const result = await train({ spec: sineMlp, outDir, epochs: 3, batch: 32, lr: 1e-2, data: smallSine, onProgress: (e) => e.kind === 'epoch' && epochs.push(e.test.loss) });
    expect(result.steps).toBe(3 * 8);
    const records = readMetrics(join(outDir, 'metrics.jsonl'));
    const steps = records.filter((r) => r.kind === 'step');
    expect(steps.map((r) => r.step)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = mean(steps.slice(0, 4).map((r) => r.loss));
    const last = mean(steps.slice(-4).map((r) => r.loss));
    expect(last).toBeLessThan(first / 4);
    const epochLines = records.filter((r) => r.kind === 'epoch');
    expect(epochLines.map((r) => r.epoch)).toEqual([1, 2, 3]);
    expect(epochLines.map((r) => r.kind === 'epoch' && r.test_loss)).toEqual(epochs);
    expect(result.test.loss).toBe(epochs[2]);
    expect(result.test.accuracy).toBeUndefined();
    // No fixed-point regions: one forward and one backward sweep per sample, nothing unsettled, no penalty.
    expect(steps.every((r) => r.kind === 'step' && r.iterations === 1 && r.iterations_backward === 1 && r.unsettled === 0 && r.jacobian_penalty === undefined)).toBe(true);
    expect(epochLines.every((r) => r.kind === 'epoch' && r.unsettled === 0 && r.test_unsettled === 0)).toBe(true);

    // model.onnx now holds the trained weights, and the checkpoint the same ones.
    const weights = readInitializers(await readModelFile(join(outDir, 'model.onnx')));
    expectBitIdentical(result.params, new Map([...result.params.keys()].map((k) => [k, weights.get(k)!])));
    const ckpt = await loadCheckpoint(join(outDir, 'checkpoint.twnn'));
    expectBitIdentical(result.params, ckpt.params);
    expect(ckpt.position).toMatchObject({ epoch: 3, position: 0, step: 24 });
  });

  it('takes plain SGD steps on a linear model exactly as a JS reference does', async () => {
    // y = x·Wᵀ + b with mse: dL/dW = (2/B) Σ_b (y_b − t_b) x_b, dL/db = (2/B) Σ_b (y_b − t_b).
    const linear = defineModel({
      name: 'linear',
      input: { shape: ['B', 4] },
      net: sequential(dense(4, 1)),
      task: { loss: 'mse', data: { kind: 'sine', window: 4, length: 60 } },
    });
    const outDir = join(dir, 'linear');
    const seed = 3;
    const batch = 5;
    const lr = 0.05;
    // The initial weights the trainer starts from: model.onnx's initializers for this seed.
    await exportModel(linear, join(dir, 'linear-init'), { seed });
    const init = readInitializers(await readModelFile(join(dir, 'linear-init', 'model.onnx')));
    const w = init.get('0.weight')!.toNumbers().map(Math.fround);
    let b = init.get('0.bias')!.get(0);
    const train4 = loadSine({ window: 4, length: 60 }, 'train');
    const order = shuffledOrder(train4.x.shape[0], seed, 0);
    for (let step = 0; step < 3; step++) {
      const rows = batchRows(order, step, batch);
      const gw = [0, 0, 0, 0];
      let gb = 0;
      for (const r of rows) {
        const x = train4.x.toNumbers().slice(r * 4, r * 4 + 4);
        const err = x.reduce((s, v, k) => s + v * w[k], b) - train4.target.get(r);
        x.forEach((v, k) => (gw[k] += (2 / rows.length) * err * v));
        gb += (2 / rows.length) * err;
      }
      gw.forEach((g, k) => (w[k] -= lr * g));
      b -= lr * gb;
    }
    const result = await train({ spec: linear, outDir, seed, batch, lr, optimizer: 'sgd', epochs: 1, limitSteps: 3, dtype: 'float32' });
    expect(result.steps).toBe(3);
    result.params.get('0.weight')!.toNumbers().forEach((v, k) => expect(v).toBeCloseTo(w[k], 5));
    expect(result.params.get('0.bias')!.get(0)).toBeCloseTo(b, 5);
  });

  it('resumes to exactly the parameters of an uninterrupted run, across an epoch boundary', async () => {
    const common: Omit<TrainOptions, 'outDir'> = { spec: sineMlp, epochs: 3, batch: 32, seed: 7, lrSchedule: 'cosine', data: smallSine };
    const straight = await train({ ...common, outDir: join(dir, 'straight'), limitSteps: 13 });

    const resumedDir = join(dir, 'resumed');
    const half = await train({ ...common, outDir: resumedDir, limitSteps: 6 });
    expect(half.steps).toBe(6);
    // Resume with no settings but the step limit: the rest comes from the checkpoint.
    const rest = await train({ spec: sineMlp, data: smallSine, outDir: resumedDir, resume: true, limitSteps: 13 });
    expect(rest.steps).toBe(13);
    expect(rest.config).toEqual(straight.config);

    expectBitIdentical(straight.params, rest.params);
    const modelOnnx = (d: string) => readFileSync(join(d, 'model.onnx'));
    expect(modelOnnx(resumedDir).equals(modelOnnx(join(dir, 'straight')))).toBe(true);
    const straightCkpt = await loadCheckpoint(join(dir, 'straight', 'checkpoint.twnn'));
    const restCkpt = await loadCheckpoint(join(resumedDir, 'checkpoint.twnn'));
    expectBitIdentical(straightCkpt.state, restCkpt.state);
    // The log of the resumed run is the log of the straight one (bar the timings).
    const losses = (d: string) => readMetrics(join(d, 'metrics.jsonl')).map((r) => (r.kind === 'step' ? [r.step, r.loss] : [r.step, r.train_loss, r.test_loss]));
    expect(losses(resumedDir)).toEqual(losses(join(dir, 'straight')));
    expect(rest.test.loss).toBe(straight.test.loss);
    expect(rest.trainLoss).toBe(straight.trainLoss);
    // The cosine schedule runs over the 3 planned epochs (24 steps), not the 13 the limit allows.
    const lrs = readMetrics(join(resumedDir, 'metrics.jsonl')).flatMap((r) => (r.kind === 'step' ? [r.lr] : []));
    expect(lrs).toEqual(Array.from({ length: 13 }, (_, i) => learningRate({ lr: 1e-3, lrSchedule: 'cosine' }, i + 1, 24)));
  });

  it('resumes from a mid-epoch checkpoint written by --checkpoint-every, dropping the lost steps from the log', async () => {
    const common: Omit<TrainOptions, 'outDir'> = { spec: sineMlp, epochs: 2, batch: 32, seed: 1, data: smallSine, optimizer: 'sgd', lr: 0.05 };
    const straight = await train({ ...common, outDir: join(dir, 'every-straight') });
    const outDir = join(dir, 'every');
    // Crash during step 12: its metrics line is written, the last checkpoint is step 10's.
    const crash = (e: TrainEvent) => {
      if (e.kind === 'step' && e.step === 12) throw new Error('simulated crash');
    };
    await expect(train({ ...common, outDir, checkpointEvery: 5, onProgress: crash })).rejects.toThrow('simulated crash');
    const at10 = await loadCheckpoint(join(outDir, 'checkpoint.twnn'));
    expect(at10.position).toMatchObject({ epoch: 1, position: 2, step: 10 });
    expect(readMetrics(join(outDir, 'metrics.jsonl')).filter((r) => r.kind === 'step').length).toBe(12);
    const rest = await train({ ...common, outDir, resume: true });
    expect(rest.steps).toBe(16);
    expectBitIdentical(straight.params, rest.params);
    expect(readMetrics(join(outDir, 'metrics.jsonl')).filter((r) => r.kind === 'step').map((r) => r.step)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
  });

  it('refuses to resume with settings that change the run', async () => {
    const outDir = join(dir, 'conflict');
    await train({ spec: sineMlp, outDir, epochs: 1, batch: 32, data: smallSine, limitSteps: 2 });
    await expect(train({ spec: sineMlp, outDir, batch: 16, data: smallSine, resume: true })).rejects.toThrow(
      /cannot resume: the checkpoint was written with batch 32, this run asks for 16/,
    );
    await expect(train({ spec: sineMlp, outDir: join(dir, 'nothing'), data: smallSine, resume: true })).rejects.toThrow(/no such file; train without --resume first/);
  });

  it('refuses labels outside the head\'s classes before the first step, writing no checkpoint (issue 13)', async () => {
    const classifier = defineModel({
      name: 'three-classes',
      input: { shape: ['B', 784] },
      net: dense(784, 3),
      task: { loss: 'cross_entropy', data: { kind: 'mnist', layout: 'flat' } },
    });
    const rows = 8;
    const x = Tensor.fromNumbers('float32', [rows, 784], Array.from({ length: rows * 784 }, (_, i) => (i % 7) / 10));
    const labels = (bad: number) => new Tensor('int64', [rows], BigInt64Array.from({ length: rows }, (_, i) => BigInt(i === 5 ? bad : i % 3)));
    const outDir = join(dir, 'labels');
    const steps: TrainEvent[] = [];
    await expect(
      train({ spec: classifier, outDir, epochs: 1, batch: 4, data: { train: { name: 'toy/train', x, target: labels(3) }, test: { name: 'toy/test', x, target: labels(0) } }, onProgress: (e) => steps.push(e) }),
    ).rejects.toThrow("toy/train: label 3 (row 5) is outside 0..2: the model's output y has 3 classes");
    expect(steps).toEqual([]);
    expect(existsSync(join(outDir, 'checkpoint.twnn'))).toBe(false);
  });

  it('cosine decay starts at lr, halves at mid-run and falls towards 0', () => {
    const cosine = { lr: 0.002, lrSchedule: 'cosine' as const };
    expect(learningRate(cosine, 1, 100)).toBe(0.002);
    expect(learningRate(cosine, 51, 100)).toBeCloseTo(0.001, 15);
    expect(learningRate(cosine, 100, 100)).toBeCloseTo(0.002 * 0.5 * (1 + Math.cos((Math.PI * 99) / 100)), 15);
    expect(learningRate(cosine, 100, 100)).toBeLessThan(1e-6);
    expect(learningRate({ lr: 0.002, lrSchedule: 'constant' }, 77, 100)).toBe(0.002);
    // A graph file in plain JS could say anything: the type system is not the check.
    const bad = { name: 'bad', input: { shape: ['B', 2] }, net: sequential(dense(2, 1)), task: { train: { lrSchedule: 'linear' } } } as unknown as Parameters<typeof defineModel>[0];
    expect(() => defineModel(bad)).toThrow(SpecError);
    expect(() => defineModel(bad)).toThrow(/task\.train\.lrSchedule must be 'constant' or 'cosine', got "linear"/);
  });

  it('trains the MNIST MLP for a few dozen steps on the real data: well above chance already', async () => {
    const result = await train({ spec: mnistMlp, outDir: join(dir, 'mnist'), limitSteps: 30 });
    expect(result.config).toMatchObject({ batch: 64, lr: 2e-3, lrSchedule: 'cosine', optimizer: 'adam', epochs: 2 });
    expect(result.test.samples).toBe(10000);
    // Chance is 10%; 30 Adam steps of 64 images get most digits right.
    expect(result.test.accuracy!).toBeGreaterThan(0.7);
    const steps = readMetrics(join(dir, 'mnist', 'metrics.jsonl')).filter((r) => r.kind === 'step');
    expect(steps[steps.length - 1].loss).toBeLessThan(steps[0].loss / 2);
  });

  it('needs a data set', async () => {
    const bare = defineModel({ name: 'bare', input: { shape: ['B', 2] }, net: sequential(dense(2, 1)) });
    await expect(train({ spec: bare, outDir: join(dir, 'bare') })).rejects.toThrow(/model 'bare' has no task\.data/);
  });
});

describe('train with a region that cannot settle (open gate, maxIter 3, tol 1e-12)', () => {
  // float32 residuals do not reach 1e-12 in three sweeps from a sine window: every sample runs out of sweeps.
  const stuck = (iterate: IterateSpec, jacobianPenalty = 0) => {
    const block = () => sequential(dense(8, 8), tanh());
    return defineModel({
      name: 'stuck',
      input: { shape: ['B', 16] },
      net: sequential({
        stem: sequential(dense(16, 8), tanh()),
        region1: region({ blocks: [block(), block()], wormholes: [{ from: 2, to: 1, gateBias: 4 }], iterate: { maxIter: 3, tol: 1e-12, ...iterate }, jacobianPenalty }),
        head: dense(8, 1),
      }),
      task: { loss: 'mse', data: { kind: 'sine', window: 16, length: 300 } },
    });
  };

  it("'warn': metrics.jsonl counts the unsettled samples of every step and epoch, and records the Jacobian penalty", async () => {
    const outDir = join(dir, 'stuck-warn');
    const unsettledSteps: number[] = [];
    const result = await train({ spec: stuck({}, 0.1), outDir, epochs: 1, batch: 32, data: smallSine, onProgress: (e) => e.kind === 'step' && unsettledSteps.push(e.unsettled) });
    const records = readMetrics(join(outDir, 'metrics.jsonl'));
    const steps = records.flatMap((r) => (r.kind === 'step' ? [r] : []));
    // 227 training windows in batches of 32: seven full, then 3 rows; all of them unsettled.
    expect(steps.map((r) => r.unsettled)).toEqual([32, 32, 32, 32, 32, 32, 32, 3]);
    expect(unsettledSteps).toEqual([32, 32, 32, 32, 32, 32, 32, 3]);
    for (const r of steps) {
      expect(r.iterations).toBe(3);
      expect(r.jacobian_penalty).toBeGreaterThan(0);
      expect(Number.isFinite(r.jacobian_penalty)).toBe(true);
    }
    const [epoch] = records.filter((r) => r.kind === 'epoch');
    expect(epoch).toMatchObject({ unsettled: 227, test_unsettled: 57 });
    expect(result.test.unsettled).toEqual([
      { region: 'region1', tol: 1e-12, maxIter: 3, onMaxIter: 'warn', returnIterate: 'best', count: 57, samples: expect.any(Array), of: 57 },
    ]);
    expect(result.test.unsettled[0].samples).toEqual(Array.from({ length: 57 }, (_, i) => i));
  });

  it("'error': the first step stops the run, naming the region, epoch, step and samples; the step is logged, no checkpoint written", async () => {
    const outDir = join(dir, 'stuck-error');
    const run = train({ spec: stuck({ onMaxIter: 'error' }), outDir, epochs: 1, batch: 32, data: smallSine });
    await expect(run).rejects.toThrow(TwnnError);
    await expect(run).rejects.toThrow(
      /^stuck: training step 1 \(epoch 1; samples numbered in the training split\): region 'region1' ran all maxIter 3 sweeps without settling \(residual > tol 1e-12\) for samples (\d+, ){10}\.\.\. \(32 in all\) \(32 of 32\); iterate\.onMaxIter is 'error' for region 'region1': raise iterate\.maxIter, loosen iterate\.tol, or set iterate\.onMaxIter: 'warn'/,
    );
    const records = readMetrics(join(outDir, 'metrics.jsonl'));
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ kind: 'step', step: 1, unsettled: 32 });
    expect(existsSync(join(outDir, 'checkpoint.twnn'))).toBe(false);
  });
});

describe('a failed or killed resume leaves the last good export (issue 23, item 8)', () => {
  const common: Omit<TrainOptions, 'outDir'> = { spec: sineMlp, epochs: 2, batch: 32, seed: 4, lr: 1e-2, data: smallSine };
  const good = join(dir, 'resume-good');
  let goodLoss: number;
  const folder = (d: string) => new Map(readdirSync(d).filter((f) => !f.startsWith('.')).map((f) => [f, readFileSync(join(d, f))]));
  /** A copy of the good folder with its checkpoint made by `tamper`. */
  async function tampered(name: string, tamper: (c: Checkpoint) => Checkpoint): Promise<string> {
    const d = join(dir, name);
    cpSync(good, d, { recursive: true });
    await saveCheckpoint(join(d, 'checkpoint.twnn'), tamper(await loadCheckpoint(join(good, 'checkpoint.twnn'))));
    return d;
  }
  const mapTensors = (c: Checkpoint, f: (name: string, t: Tensor) => Tensor): Checkpoint => {
    const map = (m: Map<string, Tensor>) => new Map([...m].map(([k, t]) => [k, f(k, t)]));
    return { ...c, params: map(c.params), state: map(c.state), buffers: map(c.buffers) };
  };
  const toFloat64 = (_: string, t: Tensor) => Tensor.fromNumbers('float64', t.shape, t.toNumbers());

  beforeAll(async () => {
    goodLoss = (await train({ ...common, outDir: good, limitSteps: 5 })).test.loss;
  });

  async function expectRefusedUnchanged(d: string, options: Partial<TrainOptions>, message: RegExp): Promise<void> {
    const before = folder(d);
    const events: TrainEvent[] = [];
    await expect(train({ spec: sineMlp, data: smallSine, outDir: d, resume: true, ...options, onProgress: (e) => events.push(e) })).rejects.toThrow(message);
    expect(events).toEqual([]);
    // Nothing written: every file as it was, model.onnx with the trained weights.
    expect(folder(d)).toEqual(before);
  }

  it('a checkpoint with float64 tensors in a float32 run is refused before anything is written', async () => {
    const d = await tampered('resume-f64-tensors', (c) => mapTensors(c, toFloat64));
    await expectRefusedUnchanged(d, {}, /checkpoint\.twnn: params '0\.weight' is float64 in the checkpoint but float32 in the model/);
  });

  it('a checkpoint holding NaN weights is refused before anything is written', async () => {
    const d = await tampered('resume-nan', (c) => mapTensors(c, (name, t) => (name === '2.bias' ? Tensor.fromNumbers(t.dtype, t.shape, t.toNumbers().map(() => NaN)) : t)));
    await expectRefusedUnchanged(d, {}, /checkpoint\.twnn: params '2\.bias' holds NaN at index 0; the checkpoint cannot be resumed/);
  });

  it('a float64 checkpoint: an error naming both dtypes when the run asks for float32; used, and said so, when it does not ask', async () => {
    const d = await tampered('resume-f64', (c) => ({ ...mapTensors(c, toFloat64), config: { ...c.config, dtype: 'float64' } }));
    await expectRefusedUnchanged(d, { dtype: 'float32' }, /cannot resume: the checkpoint was written with dtype "float64", this run asks for "float32"/);
    const events: TrainEvent[] = [];
    const sine64 = { train: loadSine({ window: 16, length: 300, dtype: 'float64' }, 'train'), test: loadSine({ window: 16, length: 300, dtype: 'float64' }, 'test') };
    const r = await train({ spec: sineMlp, data: sine64, outDir: d, resume: true, limitSteps: 6, onProgress: (e) => events.push(e) });
    expect(r.config.dtype).toBe('float64');
    expect(events[0]).toMatchObject({ kind: 'start', resumedAtStep: 5, dtypeFromCheckpoint: true });
  });

  it('a resumed run that dies before its end leaves model.onnx and manifest.json as they were, the checkpoint\'s weights', async () => {
    const d = join(dir, 'resume-dies');
    cpSync(good, d, { recursive: true });
    const before = folder(d);
    const die = (e: TrainEvent) => {
      if (e.kind === 'step' && e.step === 9) throw new Error('simulated kill');
    };
    await expect(train({ spec: sineMlp, data: smallSine, outDir: d, resume: true, checkpointEvery: 2, onProgress: die })).rejects.toThrow('simulated kill');
    // The checkpoint moved on (step 8); the export is the last good one, byte for byte.
    expect((await loadCheckpoint(join(d, 'checkpoint.twnn'))).position.step).toBe(8);
    for (const f of ['model.onnx', 'manifest.json', 'train.onnx']) expect(readFileSync(join(d, f)).equals(before.get(f)!), f).toBe(true);
    const weights = readInitializers(await readModelFile(join(d, 'model.onnx')));
    const saved = await loadCheckpoint(join(good, 'checkpoint.twnn'));
    expectBitIdentical(saved.params, new Map([...saved.params.keys()].map((k) => [k, weights.get(k)!])));
    expect(goodLoss).toBeLessThan(0.5);
  });
});

describe('warnings for a run that diverges (issue 23, item 13)', () => {
  it('an lr far above the usual range and a loss that grows tenfold are warned about, once each; a usual run has no warning', async () => {
    const events: TrainEvent[] = [];
    await train({ spec: sineMlp, outDir: join(dir, 'lr1000'), epochs: 1, batch: 32, lr: 1000, data: smallSine, limitSteps: 8, onProgress: (e) => events.push(e) });
    const warnings = events.flatMap((e) => (e.kind === 'warning' ? [e.message] : []));
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toBe('lr 1000 is far above the usual range for adam (warned above 0.1): the loss may grow instead of falling');
    expect(warnings[1]).toMatch(/^the loss grew from [0-9.e+-]+ to [0-9.e+-]+ \(mean of steps \d+-\d+\): training is diverging; try a smaller --lr$/);

    const quiet: TrainEvent[] = [];
    await train({ spec: sineMlp, outDir: join(dir, 'lr-usual'), epochs: 1, batch: 32, lr: 1e-2, data: smallSine, onProgress: (e) => quiet.push(e) });
    expect(quiet.filter((e) => e.kind === 'warning')).toEqual([]);
  });

  it('the rule: lr above ten times the top of the usual range per optimizer; loss mean of 5 steps above 10 × the first step', () => {
    expect(lrWarning({ optimizer: 'adam', lr: 0.1 })).toBeUndefined();
    expect(lrWarning({ optimizer: 'adamw', lr: 0.2 })).toContain('lr 0.2 is far above the usual range for adamw');
    expect(lrWarning({ optimizer: 'sgd', lr: 5 })).toBeUndefined();
    expect(lrWarning({ optimizer: 'sgd', lr: 50 })).toContain('(warned above 10)');
    const watch = new LossWatch();
    // Noise around the start is not growth; a sustained tenfold rise is, and is said once.
    const losses = [1, 3, 0.5, 2, 1, 9, 12, 15, 14, 13, 20, 30];
    const said = losses.map((l, i) => watch.add(l, i + 1));
    expect(said.filter(Boolean)).toHaveLength(1);
    expect(said.findIndex(Boolean)).toBe(8);
  });
});
