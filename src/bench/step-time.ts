// The time of one training step of a saved run, taken inside the bench so that
// every run of a report is timed on the same machine within minutes of the
// others (the trainers' own clocks ran at different times, under other loads).
import { join } from 'node:path';
import type { Tensor } from '../ir/tensor.js';
import { TRAIN_FILE } from '../lower/artifacts.js';
import type { Device } from '../runtime/device.js';
import { openSession } from '../runtime/session.js';
import { median } from './stats.js';
import { trainFeeds } from './train-feeds.js';

export interface StepTime {
  /** Median wall time of a train.onnx run, in milliseconds. */
  msPerStep: number;
  /** Timed steps (after one untimed warm-up). */
  repeats: number;
  /** Rows of the batch. */
  batch: number;
}

/**
 * Time `repeats` runs of `<dir>/train.onnx` on `device` (the CPU unless asked; the same step each
 * time: trained weights, zero optimizer state, the batch `x`, `target`) after
 * one untimed warm-up, and return the median.
 *
 * @example const t = await measureStepTime('exported/paper/mnist-mlp', x, target); // t.msPerStep
 */
export async function measureStepTime(dir: string, x: Tensor, target: Tensor, repeats = 5, device: Device = { kind: 'cpu' }): Promise<StepTime> {
  const feeds = Object.fromEntries(await trainFeeds(dir, x, target));
  const session = await openSession(join(dir, TRAIN_FILE), { device });
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
