// What the timing tools share: a graph file's spec with the weights of its
// committed paper run (exported/paper/<name>/model.onnx), and the first
// batches of its test set, and timing variants interleaved.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { batchRows, takeBatch } from '../src/data/batches.js';
import { loadTaskData } from '../src/data/datasets.js';
import type { Tensor } from '../src/ir/tensor.js';
import { readInitializers, readModelFile } from '../src/onnx/load.js';
import { median } from '../lab/bench/stats.js';
import type { ModelSpec } from '../src/twnn/spec.js';

/**
 * graphs/<name>.ts and its trained weights; an error names the missing run.
 *
 * @example const { spec, weights } = await paperRun('mnist-resnet');
 */
export async function paperRun(name: string): Promise<{ spec: ModelSpec; weights: Map<string, Tensor> }> {
  const spec = (await import(pathToFileURL(join(process.cwd(), 'graphs', `${name}.ts`)).href)).default as ModelSpec;
  const trained = join('exported/paper', name, 'model.onnx');
  if (!existsSync(trained)) throw new Error(`${trained}: no trained weights for ${name}`);
  return { spec, weights: readInitializers(await readModelFile(trained), trained) };
}

/**
 * The first `count` batches of 64 rows of `spec`'s test set.
 *
 * @example const [first] = await testBatches(spec, 4);
 */
export async function testBatches(spec: ModelSpec, count: number): Promise<{ x: Tensor; target: Tensor }[]> {
  const data = await loadTaskData(spec.task!.data!, 'test');
  const rows = Uint32Array.from({ length: 64 * count }, (_, i) => i);
  return [...Array(count).keys()].map((k) => takeBatch(data, batchRows(rows, k, 64)));
}

/**
 * Time each variant `repeats` times, interleaved (the order reversed every
 * other repeat, so none always runs first); the median ms of each.
 *
 * @example const { a, b } = await interleavedMedians({ a: () => s1.run(f), b: () => s2.run(f) }, 21);
 */
export async function interleavedMedians<K extends string>(variants: Record<K, () => Promise<unknown>>, repeats: number): Promise<Record<K, number>> {
  const names = Object.keys(variants) as K[];
  const times = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (let r = 0; r < repeats; r++) {
    for (const name of r % 2 ? [...names].reverse() : names) {
      const start = performance.now();
      await variants[name]();
      times[name].push(performance.now() - start);
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(times[n])])) as Record<K, number>;
}
