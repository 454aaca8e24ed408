// What the browser trains on: the exact feeds onnxruntime-node's trainer would
// give train.onnx, step by step, computed here so the page and node see the
// same numbers (issue 12: the page's losses match node's on the same feeds).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { batchRows, datasetSize, shuffledOrder, takeBatch } from '../data/batches.js';
import { loadTaskData } from '../data/datasets.js';
import { TwnnError } from '../common/errors.js';
import { Tensor } from '../ir/tensor.js';
import { MANIFEST_FILE } from '../contract/files.js';
import { readManifest, trainingOf } from '../contract/read-manifest.js';
import { trainFeeds } from '../runtime/train-feeds.js';
import { budgetFeeds } from '../runtime/budget.js';
import { decodeBudget } from '../contract/budget.js';

/** A run of train.onnx steps: the first step's feeds and each step's batch. */
export interface TrainingPlan {
  /** Every input of the first step (weights, zero optimizer state, batch 0, lr, step 1). */
  initial: Map<string, Tensor>;
  /** Batch k's `x` and `target`, k = 0..steps-1, in the trainer's seeded order. */
  batches: { x: Tensor; target: Tensor }[];
  lr: number;
  /** The model's weights and buffers, by name: what the inference graph takes besides `x`. */
  params: string[];
  /** The sine task's window, and a test window to seed the generated wave. */
  window: number;
  seedWindow: number[];
  /** The true continuation of the seed window, to draw beside the generated one. */
  truth: number[];
  /** The inference graph's budget inputs at their defaults (the manifest's `budget`; none for an older export): what the page feeds unless it is given a budget. */
  budget: Map<string, Tensor>;
}

/**
 * The plan for `steps` optimizer steps of the exported sine model in `dir`,
 * batches drawn as `twnn train` draws them (seed 0).
 *
 * @example const plan = await trainingPlan('exported/sine', { steps: 300, batch: 32 });
 */
export async function trainingPlan(dir: string, options: { steps: number; batch: number; seed?: number }): Promise<TrainingPlan> {
  const manifestPath = join(dir, MANIFEST_FILE);
  if (!existsSync(manifestPath)) throw new TwnnError(`${dir}: no ${MANIFEST_FILE}; export a model first (twnn train graphs/sine.ts -o ${dir})`);
  const manifest = await readManifest(manifestPath);
  const training = trainingOf(manifest, manifestPath);
  const data = manifest.task?.data;
  if (data?.kind !== 'sine') throw new TwnnError(`${dir}: twnn web trains the sine task in the browser; this model's task data is ${data ? `'${data.kind}'` : 'not set'}`);
  const dtype = manifest.dtype === 'float64' ? 'float64' : 'float32';
  const train = await loadTaskData(data, 'train', dtype);
  const test = await loadTaskData(data, 'test', dtype);
  const seed = options.seed ?? 0;
  const perEpoch = Math.ceil(datasetSize(train) / options.batch);
  const batches: { x: Tensor; target: Tensor }[] = [];
  for (let k = 0; k < options.steps; k++) {
    const epoch = Math.floor(k / perEpoch);
    batches.push(takeBatch(train, batchRows(shuffledOrder(datasetSize(train), seed, epoch), k % perEpoch, options.batch)));
  }
  const initial = await trainFeeds(dir, batches[0].x, batches[0].target);
  const testX = test.x.toNumbers();
  const testY = test.target.toNumbers();
  const horizon = Math.min(120, datasetSize(test) - 1);
  return {
    initial,
    batches,
    lr: training.optimizer.lr as number,
    params: [...training.trainable, ...training.buffers],
    window: data.window,
    seedWindow: testX.slice(0, data.window),
    truth: testY.slice(0, horizon),
    budget: new Map(Object.entries(budgetFeeds(decodeBudget(manifest.budget, manifestPath), manifest.inputs.map((i) => ({ name: i.name, type: i.dtype })), {}, manifestPath))),
  };
}

/** A tensor as the page reads it: dtype, shape, and its bytes in base64. */
export interface EncodedTensor {
  dtype: string;
  shape: number[];
  base64: string;
}

/**
 * Encode a tensor for the page (little-endian bytes, as typed arrays hold them).
 *
 * @example encodeTensor(Tensor.scalar(1, 'float32')) // { dtype: 'float32', shape: [], base64: 'AACAPw==' }
 */
export function encodeTensor(t: Tensor): EncodedTensor {
  const data = t.data as ArrayBufferView;
  return { dtype: t.dtype, shape: t.shape.map(Number), base64: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64') };
}
