// The data set a model's task names (DESIGN §5), one split at a time.
import type { DataSpec } from '../twnn/task.js';
import type { Dataset } from './batches.js';
import { loadMnist, type Split } from './mnist.js';
import { loadSine } from './sine.js';

/**
 * Load one split of the data set `data` describes, with float inputs of `dtype`.
 *
 * @example const test = await loadTaskData({ kind: 'sine', window: 16 }, 'test');
 */
export async function loadTaskData(data: DataSpec, split: Split, dtype: 'float32' | 'float64' = 'float32'): Promise<Dataset> {
  if (data.kind === 'sine') return loadSine({ window: data.window, ...(data.length !== undefined ? { length: data.length } : {}), dtype }, split);
  return loadMnist({ split, layout: data.layout, dtype });
}
