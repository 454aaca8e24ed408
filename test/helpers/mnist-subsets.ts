// Small train and test sets cut from MNIST's test split, for tests that train
// tiny models on real rows: rows 0.. for training, rows 5000.. for testing.
import { gatherRows, makeDataset, type Dataset } from '../../src/data/batches.js';
import { loadMnist } from '../../src/data/mnist.js';

/**
 * The first `trainRows` rows of MNIST's test split as a training set and
 * `testRows` rows from row 5000 as a test set, in `layout`.
 *
 * @example const { train, test } = await mnistSubsets('image', 320, 96);
 */
export async function mnistSubsets(layout: 'flat' | 'image', trainRows: number, testRows: number): Promise<{ train: Dataset; test: Dataset }> {
  const mnist = await loadMnist({ split: 'test', layout });
  const rows = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
  const subset = (name: string, r: number[]) => makeDataset(name, gatherRows(mnist.x, r), gatherRows(mnist.target, r));
  return { train: subset('mnist/train-subset', rows(0, trainRows)), test: subset('mnist/test-subset', rows(5000, testRows)) };
}
