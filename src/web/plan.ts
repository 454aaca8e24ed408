// What the browser trains on: the exact feeds onnxruntime-node's trainer would
// give train.onnx, computed here so the page and node see the same numbers
// (the page's losses match node's on the same feeds). The first step's
// weights and optimizer state go to the page once; batches are cut on
// request, batch k of size B in `twnn train`'s seeded order, so MNIST's 60k
// images stay on the server and only the rows a step uses travel.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { batchRows, datasetSize, shuffledOrder, takeBatch, type Dataset } from '../data/batches.js';
import { loadTaskData } from '../data/datasets.js';
import { TwnnError } from '../common/errors.js';
import { Tensor } from '../ir/tensor.js';
import { MANIFEST_FILE, TRAIN_FILE } from '../contract/files.js';
import { readManifest, trainingOf } from '../contract/read-manifest.js';
import { trainFeeds } from '../runtime/train-feeds.js';
import { budgetFeeds } from '../runtime/budget.js';
import { decodeBudget } from '../contract/budget.js';
import type { DataSpec } from '../twnn/task.js';
import { MAX_BATCH, WEB_TASKS, type WebTaskKind } from './tasks.js';


/** Test rows the page evaluates: the sweeps histogram (both tasks) and the accuracy (MNIST). */
const TEST_ROWS = { sine: 256, mnist: 500 } as const;
/** Steps of the generated wave the sine page draws. */
const WAVE_STEPS = 120;

/** An export the page can train, with its data loaded once. */
export interface WebTask {
  kind: WebTaskKind;
  dtype: 'float32' | 'float64';
  /** Every train.onnx input for step 1 but `x` and `target`: weights, buffers, zero optimizer state, lr, step. */
  initial: Map<string, Tensor>;
  /** The optimizer's lr as exported: the page's default. */
  lr: number;
  /** The model's weights and buffers, by name: what the inference graph takes besides `x` and the budget. */
  params: string[];
  /** The inference graph's budget inputs at their defaults (the manifest's `budget`; none for an older export). */
  budget: Map<string, Tensor>;
  /** The built maxIter of the model's regions (the largest): the top of the page's maxIter slider; undefined without a budget. */
  maxIter: number | undefined;
  train: Dataset;
  /** The first TEST_ROWS[kind] test rows. */
  test: { x: Tensor; target: Tensor };
  /** Sine only: the window, a test window to seed the generated wave, and the true continuation. */
  wave?: { window: number; seedWindow: number[]; truth: number[] };
  seed: number;
  /** The shuffled order of the epoch last drawn from: a run walks one epoch for many steps, and reshuffling 60k rows a step would be waste. */
  shuffle?: { epoch: number; order: Uint32Array };
}

/**
 * Load the export in `dir` for the page: its first-step feeds, its data, and
 * its budget; an export whose task the page does not train is an error
 * naming the task and those it does.
 *
 * @example const task = await loadWebTask('exported/sine'); const { x, target } = stepBatch(task, 32, 0);
 */
export async function loadWebTask(dir: string, options: { seed?: number } = {}): Promise<WebTask> {
  const manifestPath = join(dir, MANIFEST_FILE);
  if (!existsSync(manifestPath)) throw new TwnnError(`${dir}: no ${MANIFEST_FILE}; export a model first (twnn train graphs/sine.ts -o ${dir})`);
  const manifest = await readManifest(manifestPath);
  const training = trainingOf(manifest, manifestPath);
  const kind = webTaskKind(dir, manifest.task?.data ?? undefined);
  const data = manifest.task!.data!;
  if (!existsSync(join(dir, TRAIN_FILE))) {
    throw new TwnnError(
      `${dir}: no ${TRAIN_FILE}, which the page trains (committed models keep model.onnx only); build the model's training graphs with twnn build graphs/<model>.ts -o <dir> (this model is '${manifest.name}')`,
    );
  }
  const dtype = manifest.dtype === 'float64' ? 'float64' : 'float32';
  const train = await loadTaskData(data, 'train', dtype);
  const testSet = await loadTaskData(data, 'test', dtype);
  const rows = Array.from({ length: Math.min(TEST_ROWS[kind], datasetSize(testSet)) }, (_, i) => i);
  const first = takeBatch(train, [0]);
  const initial = await trainFeeds(dir, first.x, first.target);
  initial.delete('x');
  initial.delete('target');
  const budget = decodeBudget(manifest.budget, manifestPath);
  const task: WebTask = {
    kind,
    dtype,
    initial,
    lr: training.optimizer.lr as number,
    params: [...training.trainable, ...training.buffers],
    budget: new Map(Object.entries(budgetFeeds(budget, manifest.inputs.map((i) => ({ name: i.name, type: i.dtype })), {}, manifestPath))),
    maxIter: budget.length > 0 ? Math.max(...budget.map((b) => b.maxIter)) : undefined,
    train,
    test: takeBatch(testSet, rows),
    seed: options.seed ?? 0,
  };
  if (data.kind === 'sine') {
    const testX = testSet.x.toNumbers();
    const testY = testSet.target.toNumbers();
    task.wave = { window: data.window, seedWindow: testX.slice(0, data!.window), truth: testY.slice(0, Math.min(WAVE_STEPS, datasetSize(testSet) - 1)) };
  }
  return task;
}

/**
 * Batch `k` (0-based step) of `batch` rows, as `twnn train` draws them: epoch
 * ⌊k / batches per epoch⌋'s seeded order, its batch k mod that.
 *
 * @example const { x, target } = stepBatch(task, 64, 937); // the last batch of MNIST's first epoch
 */
export function stepBatch(task: WebTask, batch: number, k: number): { x: Tensor; target: Tensor } {
  checkBatch(batch);
  if (!Number.isSafeInteger(k) || k < 0) throw new TwnnError(`step ${k}: expected an integer from 0`);
  const size = datasetSize(task.train);
  const perEpoch = Math.ceil(size / batch);
  const epoch = Math.floor(k / perEpoch);
  return takeBatch(task.train, batchRows(orderOf(task, epoch), k % perEpoch, batch));
}

/**
 * Refuse a batch size the page may not ask for (0, fractions, above MAX_BATCH), naming it.
 *
 * @example checkBatch(5000); // throws: batch 5000: expected an integer from 1 to 4096
 */
export function checkBatch(batch: number): void {
  if (!Number.isSafeInteger(batch) || batch < 1 || batch > MAX_BATCH) throw new TwnnError(`batch ${batch}: expected an integer from 1 to ${MAX_BATCH}`);
}

function orderOf(task: WebTask, epoch: number): Uint32Array {
  if (task.shuffle?.epoch !== epoch) task.shuffle = { epoch, order: shuffledOrder(datasetSize(task.train), task.seed, epoch) };
  return task.shuffle.order;
}

function webTaskKind(dir: string, data: DataSpec | undefined): WebTaskKind {
  const supported = `twnn web trains ${Object.keys(WEB_TASKS).map((k) => `'${k}'`).join(' and ')} (twnn web --help)`;
  if (data === undefined) throw new TwnnError(`${dir}: this model has no task data; ${supported}`);
  if (data.kind === 'sine') return 'sine';
  if (data.kind === 'mnist' && data.layout === 'flat') return 'mnist';
  const what = 'layout' in data ? `'${data.kind}' with layout '${data.layout}'` : `'${data.kind}'`;
  throw new TwnnError(`${dir}: this model's task data is ${what}; ${supported}`);
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
function encodeTensor(t: Tensor): EncodedTensor {
  const data = t.data as ArrayBufferView;
  return { dtype: t.dtype, shape: t.shape.map(Number), base64: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64') };
}

/**
 * Encode every tensor of a map, by name.
 *
 * @example encodeAll(task.budget) // { 'tol.region1': {...}, 'max_iter.region1': {...} }
 */
export function encodeAll(tensors: ReadonlyMap<string, Tensor>): Record<string, EncodedTensor> {
  return Object.fromEntries([...tensors].map(([name, t]) => [name, encodeTensor(t)]));
}
