// The report's statistics against values worked out by hand (and scipy's
// conventions: tie-averaged ranks, NaN for a constant variable).
import { describe, expect, it } from 'vitest';
import { depthEvidence, quantile } from '../../lab/bench/depth.js';
import type { PerSample } from '../../lab/bench/per-sample.js';
import { mean, median, pearson, ranks, spearman } from '../../lab/bench/stats.js';
import { movingAverage, summarizeTraining } from '../../lab/bench/training-summary.js';
import type { MetricsRecord } from '../../src/runtime/metrics.js';
import type { TrainConfig } from '../../src/runtime/checkpoint.js';

describe('stats', () => {
  it('mean and median', () => {
    expect(mean([1, 2, 6])).toBe(3);
    expect(median([3, 1, 2, 10])).toBe(2.5);
    expect(median([5, 1, 3])).toBe(3);
    expect(mean([])).toBeNaN();
  });

  it('pearson: a hand-worked case, perfect (anti)correlation, and NaN for a constant variable', () => {
    // x = [1,2,3,4], y = [2,1,4,3]: deviations (-1.5,-0.5,0.5,1.5) and (-0.5,-1.5,1.5,0.5); Σdxdy = 3, Σdx² = Σdy² = 5.
    expect(pearson([1, 2, 3, 4], [2, 1, 4, 3])).toBeCloseTo(0.6, 12);
    expect(pearson([1, 2, 3], [10, 20, 30])).toBeCloseTo(1, 12);
    expect(pearson([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
    expect(pearson([1, 1, 1], [1, 2, 3])).toBeNaN();
    expect(() => pearson([1, 2], [1])).toThrow('pearson: the variables have 2 and 1 values');
  });

  it('point-biserial is pearson against 0/1: longer-running wrong samples give a negative r', () => {
    // sweeps [2,2,3,5], correct [1,1,1,0]: dx (-1,-1,0,2), dy (.25,.25,.25,-.75); Σdxdy = -2, Σdx² = 6, Σdy² = .75.
    expect(pearson([2, 2, 3, 5], [1, 1, 1, 0])).toBeCloseTo(-2 / Math.sqrt(6 * 0.75), 12);
  });

  it('ranks average ties; spearman is pearson on ranks (monotone => 1)', () => {
    expect(ranks([10, 20, 20, 5])).toEqual([2, 3.5, 3.5, 1]);
    expect(ranks([3, 3, 3])).toEqual([2, 2, 2]);
    expect(spearman([1, 2, 3, 4], [1, 8, 27, 64])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
    // ranks [1,2.5,2.5,4] vs [1,2,3,4]: Σdxdy = 4.5, Σdx² = 4.5, Σdy² = 5.
    expect(spearman([1, 2, 2, 3], [1, 2, 3, 4])).toBeCloseTo(4.5 / Math.sqrt(4.5 * 5), 12);
  });

  it('quantile takes the nearest rank', () => {
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2);
    expect(quantile([4, 1, 3, 2], 0.9)).toBe(4);
    expect(quantile([4, 1, 3, 2], 0)).toBe(1);
  });

  it('movingAverage averages what there is at the start', () => {
    expect(movingAverage([4, 2, 6, 8], 2)).toEqual([4, 3, 4, 7]);
  });
});

function perSample(sweeps: number[], correct: number[], confidence: number[]): PerSample {
  return {
    samples: sweeps.length,
    sweeps: Int32Array.from(sweeps),
    correct: Uint8Array.from(correct),
    confidence: Float64Array.from(confidence),
    loss: new Float64Array(sweeps.length),
    regionSweeps: {},
  };
}

describe('depthEvidence', () => {
  it('summarises the sweeps and relates them to correctness and confidence', () => {
    const sweeps = [2, 2, 2, 2, 3, 3, 4, 9];
    const correct = [1, 1, 1, 1, 1, 1, 0, 0];
    const confidence = [0.99, 0.98, 0.97, 0.99, 0.9, 0.85, 0.5, 0.4];
    const d = depthEvidence(perSample(sweeps, correct, confidence));
    expect(d.distribution).toEqual({ min: 2, median: 2.5, mean: 27 / 8, p90: 9, p99: 9, max: 9, atMin: 0.5 });
    expect(d.sweepsVsCorrect).toBeCloseTo(pearson(sweeps, correct), 12);
    expect(d.sweepsVsCorrect).toBeLessThan(0);
    expect(d.sweepsVsConfidence).toBeCloseTo(spearman(sweeps, confidence), 12);
    expect(d.sweepsVsConfidence).toBeLessThan(-0.8);
    expect(d.meanSweepsCorrect).toBeCloseTo(14 / 6, 12);
    expect(d.meanSweepsWrong).toBe(6.5);
    // 1% of 8 samples rounds to 1: the 9-sweep sample, which is wrong.
    expect(d.errorRateTop1).toBe(1);
    expect(d.errorRateRest).toBeCloseTo(1 / 7, 12);
    expect(d.buckets.map((b) => [b.sweeps, b.samples, b.errorRate])).toEqual([
      [2, 4, 0],
      [3, 2, 0],
      [4, 1, 1],
      [9, 1, 1],
    ]);
    expect(d.buckets[0].confidence).toBeCloseTo((0.99 + 0.98 + 0.97 + 0.99) / 4, 12);
  });

  it('gives NaN correlations when every sample ran the same sweeps', () => {
    const d = depthEvidence(perSample([2, 2, 2], [1, 0, 1], [0.9, 0.5, 0.8]));
    expect(d.sweepsVsCorrect).toBeNaN();
    expect(d.sweepsVsConfidence).toBeNaN();
    expect(d.distribution.atMin).toBe(1);
  });
});

describe('summarizeTraining', () => {
  const config: TrainConfig = { model: 'm', dtype: 'float32', epochs: 2, batch: 10, lr: 1e-3, lrSchedule: 'constant', optimizer: 'adam', hyper: {}, seed: 0 };
  const step = (epoch: number, s: number, loss: number, iterations: number, back: number): MetricsRecord => ({
    kind: 'step', epoch, step: s, lr: 1e-3, loss, iterations, iterations_backward: back, samples_per_s: 100,
  });
  const metrics: MetricsRecord[] = [
    step(1, 1, 2, 3, 1),
    step(1, 2, 1.5, 5, 1),
    { kind: 'epoch', epoch: 1, step: 2, train_loss: 1.7, test_loss: 1.2, test_accuracy: 0.6, test_iterations: 4, seconds: 3 },
    step(2, 3, 1, 6, 2),
    step(2, 4, 0.5, 8, 4),
    { kind: 'epoch', epoch: 2, step: 4, train_loss: 0.7, test_loss: 0.8, test_accuracy: 0.75, test_iterations: 6, seconds: 7 },
  ];

  it('takes the time per epoch from finished epochs and the sweeps from the last epoch', () => {
    const s = summarizeTraining(metrics, config, { epoch: 2, position: 0, step: 4, epochLossSum: 0, epochSamples: 0, seconds: 7, lastTrainLoss: 0.7 }, 20);
    expect(s).toMatchObject({ steps: 4, epochs: 2, secondsPerEpoch: 3.5, projected: false, sweepsForward: 7, sweepsBackward: 3, loggedAccuracy: 0.75 });
    expect(s.loss).toEqual({ x: [0.5, 1, 1.5, 2], y: [2, 1.5, 1, 0.5] });
  });

  it('projects the time per epoch from the mean step when the run stopped mid-epoch', () => {
    const s = summarizeTraining(metrics.slice(0, 2), config, { epoch: 0, position: 2, step: 2, epochLossSum: 3.5, epochSamples: 20, seconds: 4, lastTrainLoss: null }, 60);
    // 6 steps per epoch at 2 s a step.
    expect(s).toMatchObject({ steps: 2, projected: true, secondsPerEpoch: 12, sweepsForward: 4, sweepsBackward: 1 });
    expect(s.epochs).toBeCloseTo(1 / 3, 12);
    expect(s.loggedAccuracy).toBeUndefined();
  });
});
