// Dynamic-depth evidence from per-sample results: how sweeps are spread over
// the test set, and whether the samples a model gets wrong, or is unsure of,
// are the ones it iterates longer.
import type { PerSample } from './per-sample.js';
import { mean, median, pearson, spearman } from './stats.js';

export interface SweepDistribution {
  min: number;
  median: number;
  mean: number;
  p90: number;
  p99: number;
  max: number;
  /** Fraction of samples that ran the fewest sweeps. */
  atMin: number;
}

/** One sweep count's samples. */
export interface SweepBucket {
  sweeps: number;
  samples: number;
  /** Misclassified fraction. */
  errorRate: number;
  /** Mean largest softmax probability. */
  confidence: number;
}

export interface DepthEvidence {
  distribution: SweepDistribution;
  /** Point-biserial correlation of sweeps with correctness (1 correct, 0 wrong): negative when wrong samples iterate longer. */
  sweepsVsCorrect: number;
  /** Spearman's rank correlation of sweeps with the largest softmax probability: negative when unsure samples iterate longer. */
  sweepsVsConfidence: number;
  meanSweepsCorrect: number;
  meanSweepsWrong: number;
  /** Error rate among the 1% of samples with the most sweeps, and among the rest. */
  errorRateTop1: number;
  errorRateRest: number;
  buckets: SweepBucket[];
}

/**
 * The `q` quantile (nearest rank, so it is always a value that occurs).
 *
 * @example quantile([1, 2, 3, 4], 0.5) // 2
 */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Array.from(values).sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/**
 * Evidence of dynamic depth in `r` (a TWNN's per-sample test results).
 *
 * @example const d = depthEvidence(perSample); // d.sweepsVsCorrect, d.buckets
 */
export function depthEvidence(r: PerSample): DepthEvidence {
  const sweeps = Array.from(r.sweeps);
  const correct = Array.from(r.correct);
  const min = Math.min(...sweeps);
  const byMostSweeps = sweeps.map((_, i) => i).sort((a, b) => sweeps[b] - sweeps[a] || a - b);
  const top = Math.max(1, Math.round(r.samples / 100));
  const errorRate = (rows: number[]) => (rows.length === 0 ? NaN : rows.filter((i) => correct[i] === 0).length / rows.length);
  const counts = [...new Set(sweeps)].sort((a, b) => a - b);
  return {
    distribution: {
      min,
      median: median(sweeps),
      mean: mean(sweeps),
      p90: quantile(sweeps, 0.9),
      p99: quantile(sweeps, 0.99),
      max: Math.max(...sweeps),
      atMin: sweeps.filter((s) => s === min).length / r.samples,
    },
    sweepsVsCorrect: pearson(sweeps, correct),
    sweepsVsConfidence: spearman(sweeps, r.confidence),
    meanSweepsCorrect: mean(sweeps.filter((_, i) => correct[i] === 1)),
    meanSweepsWrong: mean(sweeps.filter((_, i) => correct[i] === 0)),
    errorRateTop1: errorRate(byMostSweeps.slice(0, top)),
    errorRateRest: errorRate(byMostSweeps.slice(top)),
    buckets: counts.map((s) => {
      const rows = sweeps.flatMap((v, i) => (v === s ? [i] : []));
      return { sweeps: s, samples: rows.length, errorRate: errorRate(rows), confidence: mean(rows.map((i) => r.confidence[i])) };
    }),
  };
}
