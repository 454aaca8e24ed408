// The data set a model's task names (docs/DESIGN.md §5), one split at a time.
import type { DataSpec } from '../twnn/task.js';
import type { Dataset } from './batches.js';
import { loadCifar10 } from './cifar.js';
import { loadFashionMnist, loadMnist, type Split } from './mnist.js';
import { loadSine } from './sine.js';

/** Where a `cifar10` data spec without `dir` looks for the binary batches (relative to the working directory). */
export const CIFAR10_DEFAULT_DIR = 'data/cifar-10-batches-bin';

/**
 * Load one split of the data set `data` describes, with float inputs of `dtype`.
 *
 * @example const test = await loadTaskData({ kind: 'sine', window: 16 }, 'test');
 */
export async function loadTaskData(data: DataSpec, split: Split, dtype: 'float32' | 'float64' = 'float32'): Promise<Dataset> {
  if (data.kind === 'sine') return loadSine({ window: data.window, ...(data.length !== undefined ? { length: data.length } : {}), dtype }, split);
  if (data.kind === 'cifar10') return loadCifar10({ dir: data.dir ?? CIFAR10_DEFAULT_DIR, split, dtype });
  if (data.kind === 'fashion-mnist') return loadFashionMnist({ split, layout: data.layout, dtype, ...(data.dir !== undefined ? { dir: data.dir } : {}) });
  return loadMnist({ split, layout: data.layout, dtype });
}
