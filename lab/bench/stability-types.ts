// What `twnn bench stability` reports, apart from the code that measures it
// (stability.ts) and the code that writes it (stability-report.ts), so that
// both import these types and neither imports the other.
import type { Collapse } from './collapse.js';
import type { StudyRunResult } from './study-types.js';
import type { Spread } from './study-verdicts.js';

/** A run's state on disk. */
export type StabilityStatus =
  /** Trained for all its epochs; model.onnx holds the final weights. */
  | 'done'
  /** Stopped by a non-finite loss (its folder's diverged.json says where): finished, as a collapse. */
  | 'diverged'
  /** Stopped before its last epoch (interrupted, or --limit-steps): `--train` resumes it. */
  | 'unfinished'
  /** Nothing trained in its folder. */
  | 'missing';

/** Spectral radius of dF/dS at the fixed point, one region after one epoch (metrics.jsonl's `spectral_radius`). */
export interface SpectralPoint {
  epoch: number;
  region: string;
  /** Over runs: the mean of their per-sample means, the largest of their maxima. */
  mean: number;
  max: number;
  /** Runs that logged it. */
  runs: number;
}

/** One run as the experiment read it back. */
export interface StabilityRunResult {
  variant: string;
  lr: number;
  seed: number;
  dir: string;
  command: string;
  status: StabilityStatus;
  /** Optimizer steps logged in metrics.jsonl. */
  steps: number;
  /** The trainer's end-of-epoch records (accuracy, training loss, its clock, spectral radius per region). */
  epochs: (StudyRunResult['epochs'][number] & { spectral?: Record<string, { mean: number; max: number }> })[];
  /** Mean forward sweeps and backward (adjoint) steps per sample over the logged steps. */
  sweeps?: { forward: number; backward: number };
  /** model.onnx re-evaluated on the test set (finished runs only). */
  test?: NonNullable<StudyRunResult['test']>;
  /** Where it collapsed (collapse.ts), for runs that did; judged on finished runs only. */
  collapse?: Collapse;
}

/** One variant at one lr, over its seeds. */
export interface StabilitySummary {
  variant: string;
  label: string;
  lr: number;
  /** Runs planned, and finished (done or diverged). */
  planned: number;
  finished: number;
  collapses: { seed: number; kind: Collapse['kind']; step?: number }[];
  /** Over the finished runs that did not diverge. */
  accuracy: Spread;
  unsettled: Spread;
  testSweeps: Spread;
  secondsPerEpoch: Spread;
  forwardSweeps: Spread;
  backwardSweeps: Spread;
  spectral: SpectralPoint[];
}

export interface StabilityReport {
  summaries: StabilitySummary[];
  runs: StabilityRunResult[];
  method: { testSet: string; command: string; collapse: { window: number; learnedLoss: number; chanceLevel: number; lowAccuracy: number } };
}
