// A `cifar10` task: the data spec is checked against the model's input, the
// loader reads the binary batches the spec names, and a model trains on them
// end to end (small files written in the CIFAR-10 binary format).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cifar10Files } from '../../src/data/cifar.js';
import { loadTaskData } from '../../src/data/datasets.js';
import { conv2d, defineModel, dense, flatten, globalAvgPool, relu, sequential, SpecError } from '../../src/index.js';
import { taskLoss } from '../../src/lower/training.js';
import { readMetrics } from '../../src/runtime/metrics.js';
import { train } from '../../src/runtime/trainer.js';
import { checkTask } from '../../src/twnn/task.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-cifar-task-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Records whose red plane is bright for even labels and dark for odd ones, so a tiny net can learn them. */
function records(labels: number[]): Uint8Array {
  const out = new Uint8Array(labels.length * 3073);
  labels.forEach((label, r) => {
    out[r * 3073] = label;
    for (let k = 0; k < 3072; k++) out[r * 3073 + 1 + k] = k < 1024 ? (label % 2 === 0 ? 230 : 20) : (37 * k + label) % 256;
  });
  return out;
}

const dir = join(root, 'cifar-10-batches-bin');
mkdirSync(dir, { recursive: true });
cifar10Files('train').forEach((name, i) => writeFileSync(join(dir, name), records(Array.from({ length: 8 }, (_, k) => (i + k) % 10))));
writeFileSync(join(dir, 'test_batch.bin'), records([0, 1, 2, 3, 4, 5]));

describe('cifar10 data spec', () => {
  it('accepts a [B,3,32,32] model, with or without a dir, and calls for cross-entropy', () => {
    expect(checkTask('m', { data: { kind: 'cifar10', dir } }, ['B', 3, 32, 32]).data).toEqual({ kind: 'cifar10', dir });
    expect(checkTask('m', { data: { kind: 'cifar10' }, loss: 'cross_entropy' }, ['B', 3, 32, 32]).data).toEqual({ kind: 'cifar10' });
    const spec = defineModel({ name: 'c', input: { shape: ['B', 3, 32, 32] }, net: sequential(globalAvgPool(), flatten(), dense(3, 10)), task: { data: { kind: 'cifar10' } } });
    expect(taskLoss(spec)).toBe('cross_entropy');
  });

  it('rejects a model input of another shape, mse, a bad dir and unknown keys, naming the field', () => {
    expect(() => checkTask('m', { data: { kind: 'cifar10' } }, ['B', 1, 28, 28])).toThrow("m: task.data: cifar10 images are [B,3,32,32], but the model's input is [B,1,28,28]");
    expect(() => checkTask('m', { data: { kind: 'cifar10' }, loss: 'mse' }, ['B', 3, 32, 32])).toThrow("m: task: cifar10 data needs loss 'cross_entropy', got 'mse'");
    expect(() => checkTask('m', { data: { kind: 'cifar10', dir: '' } }, ['B', 3, 32, 32])).toThrow('m: task.data.dir must be a non-empty string, got ""');
    expect(() => checkTask('m', { data: { kind: 'cifar10', path: 'x' } }, ['B', 3, 32, 32])).toThrow(SpecError);
    expect(() => checkTask('m', { data: { kind: 'cifar' } }, ['B', 3, 32, 32])).toThrow("m: task.data.kind must be 'sine', 'mnist', 'fashion-mnist' or 'cifar10', got \"cifar\"");
  });

  it('loadTaskData reads the batches in the spec\'s dir, and says where it looked when they are missing', async () => {
    const test = await loadTaskData({ kind: 'cifar10', dir }, 'test');
    expect(test.x.shape).toEqual([6, 3, 32, 32]);
    expect(test.target.toNumbers()).toEqual([0, 1, 2, 3, 4, 5]);
    const trainSet = await loadTaskData({ kind: 'cifar10', dir }, 'train');
    expect(trainSet.x.shape).toEqual([40, 3, 32, 32]);
    await expect(loadTaskData({ kind: 'cifar10', dir: join(root, 'nowhere') }, 'test')).rejects.toThrow(`CIFAR-10: cannot read ${join(root, 'nowhere', 'test_batch.bin')} (no such file)`);
  });

  it('a model with a cifar10 task trains on the batches through twnn\'s trainer, and its loss falls', async () => {
    const spec = defineModel({
      name: 'tiny-cifar',
      input: { shape: ['B', 3, 32, 32] },
      net: sequential(conv2d(3, 4, 4, { stride: 4 }), relu(), globalAvgPool(), flatten(), dense(4, 10)),
      task: { data: { kind: 'cifar10', dir }, train: { epochs: 6, batch: 8, lr: 0.05 } },
    });
    const out = join(root, 'run');
    const result = await train({ spec, outDir: out, seed: 3 });
    expect(result.loss).toBe('cross_entropy');
    expect(result.test.samples).toBe(6);
    const epochs = readMetrics(join(out, 'metrics.jsonl')).filter((r) => r.kind === 'epoch');
    expect(epochs).toHaveLength(6);
    expect(epochs[5].kind === 'epoch' && epochs[0].kind === 'epoch' && epochs[5].train_loss < epochs[0].train_loss).toBe(true);
  }, 60_000);
});
