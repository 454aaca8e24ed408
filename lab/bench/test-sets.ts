// Each task's test split, loaded once however many runs a report evaluates on it.
import type { Dataset } from '../../src/data/batches.js';
import { loadTaskData } from '../../src/data/datasets.js';
import type { DataSpec } from '../../src/twnn/task.js';

/**
 * A loader of test splits that loads each task's once (by its DataSpec);
 * `testData` replaces the split (tests).
 *
 * @example const testSet = testSetLoader(); const test = await testSet(manifest.task.data);
 */
export function testSetLoader(testData?: (data: DataSpec) => Promise<Dataset>): (data: DataSpec) => Promise<Dataset> {
  const testSets = new Map<string, Promise<Dataset>>();
  return (data) => {
    const key = JSON.stringify(data);
    if (!testSets.has(key)) testSets.set(key, testData ? testData(data) : loadTaskData(data, 'test'));
    return testSets.get(key)!;
  };
}
