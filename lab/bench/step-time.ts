// The time of one training step of a saved run, taken inside the bench so that
// every run of a report is timed on the same machine within minutes of the
// others (the trainers' own clocks ran at different times, under other loads).
import { join } from 'node:path';
import type { Tensor } from '../../src/ir/tensor.js';
import { TRAIN_FILE } from '../../src/contract/files.js';
import type { Device } from '../../src/runtime/device.js';
import { openSession } from '../../src/runtime/session.js';
import { median } from './stats.js';
import { trainFeeds } from '../../src/runtime/train-feeds.js';
import type { StepGraph } from './step-graph.js';

export interface StepTime {
  /** Median wall time of a train.onnx run, in milliseconds. */
  msPerStep: number;
  /** Timed steps (after one untimed warm-up). */
  repeats: number;
  /** Rows of the batch. */
  batch: number;
}

export interface StepTimeOptions {
  /** Timed steps (default 5). */
  repeats?: number;
  /** Where the step runs (default the CPU). */
  device?: Device;
  /** The train.onnx to run and the names it takes the run's weights under (default `<dir>/train.onnx`; a committed run's is exported again, step-graph.ts). */
  graph?: Pick<StepGraph, 'path' | 'renames'>;
}

/**
 * Time `repeats` runs of the train.onnx of the run in `dir` (the same step
 * each time: `dir`'s trained weights, zero optimizer state, the batch `x`,
 * `target`) after one untimed warm-up, and return the median.
 *
 * @example const t = await measureStepTime('exported/paper/mnist-mlp', x, target, { repeats: 5 }); // t.msPerStep
 */
export async function measureStepTime(dir: string, x: Tensor, target: Tensor, options: StepTimeOptions = {}): Promise<StepTime> {
  const repeats = options.repeats ?? 5;
  const feeds = Object.fromEntries(await trainFeeds(dir, x, target, options.graph?.renames));
  const session = await openSession(options.graph?.path ?? join(dir, TRAIN_FILE), { device: options.device ?? { kind: 'cpu' } });
  try {
    await session.run(feeds);
    const times: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const start = performance.now();
      await session.run(feeds);
      times.push(performance.now() - start);
    }
    return { msPerStep: median(times), repeats, batch: x.shape[0] };
  } finally {
    await session.close();
  }
}
