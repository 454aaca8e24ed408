// What a run's metrics.jsonl and checkpoint say about its training: time per
// epoch, sweeps per step, the loss curve.
import type { MetricsRecord } from '../../src/runtime/metrics.js';
import type { TrainConfig, TrainPosition } from '../../src/runtime/checkpoint.js';
import { mean } from './stats.js';

export interface TrainingSummary {
  steps: number;
  /** Epochs run, fractional when the run stopped mid-epoch. */
  epochs: number;
  /** Training seconds per epoch (optimizer steps only, evaluations excluded). */
  secondsPerEpoch: number;
  /** True when no epoch finished, so the time is the mean step time × steps per epoch. */
  projected: boolean;
  /** Mean forward sweeps per sample over the last epoch's steps (summed over regions; 1 without regions). */
  sweepsForward: number;
  /** Mean adjoint (backward) sweeps per sample over the same steps. */
  sweepsBackward: number;
  /** Test accuracy the trainer logged at its last finished epoch (the report re-evaluates; this is a cross-check). */
  loggedAccuracy?: number;
  /** Training loss per step, as (epoch position, loss). */
  loss: { x: number[]; y: number[] };
}

/**
 * Summarise a run. `trainSize` (examples per epoch) turns steps into epochs
 * when no epoch finished.
 *
 * @example const s = summarizeTraining(loaded.metrics, loaded.config, loaded.position, 60000); // s.secondsPerEpoch
 */
export function summarizeTraining(metrics: readonly MetricsRecord[], config: TrainConfig, position: TrainPosition, trainSize: number): TrainingSummary {
  const steps = metrics.filter((r): r is Extract<MetricsRecord, { kind: 'step' }> => r.kind === 'step');
  const epochs = metrics.filter((r): r is Extract<MetricsRecord, { kind: 'epoch' }> => r.kind === 'epoch');
  const stepsPerEpoch = Math.ceil(trainSize / config.batch);
  const epochsRun = position.epoch + position.position / stepsPerEpoch;
  const projected = position.position !== 0 || position.epoch === 0;
  const secondsPerEpoch = projected ? (position.seconds / Math.max(1, position.step)) * stepsPerEpoch : position.seconds / position.epoch;
  const lastEpoch = steps.length > 0 ? steps[steps.length - 1].epoch : 0;
  const last = steps.filter((r) => r.epoch === lastEpoch);
  const logged = epochs.length > 0 ? epochs[epochs.length - 1].test_accuracy : undefined;
  return {
    steps: position.step,
    epochs: epochsRun,
    secondsPerEpoch,
    projected,
    sweepsForward: mean(last.map((r) => r.iterations)),
    sweepsBackward: mean(last.map((r) => r.iterations_backward)),
    ...(logged !== undefined ? { loggedAccuracy: logged } : {}),
    loss: { x: steps.map((r) => r.step / stepsPerEpoch), y: steps.map((r) => r.loss) },
  };
}

/**
 * A trailing moving average over `window` points (the first points average
 * what there is), to draw a noisy per-step loss.
 *
 * @example movingAverage([4, 2, 6], 2) // [4, 3, 4]
 */
export function movingAverage(values: readonly number[], window: number): number[] {
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    if (i >= window) sum -= values[i - window];
    out.push(sum / Math.min(i + 1, window));
  }
  return out;
}
