// What `twnn bench study` reports, apart from the code that measures it
// (study.ts) and the code that writes it (study-report.ts), so that both
// import these types and neither imports the other.
import type { SkipRate } from '../../src/runtime/skip-rates.js';
import type { ModelSummary, StudyVerdicts } from './study-judge.js';

/** One run as the study read it back. */
export interface StudyRunResult {
  model: string;
  seed: number;
  dir: string;
  command: string;
  /** `missing`: no trained run in its folder; `unfinished`: training stopped before it wrote model.onnx. */
  status: 'done' | 'missing' | 'unfinished';
  /** Test accuracy and the trainer's own clock after each epoch (metrics.jsonl). */
  epochs: { epoch: number; accuracy: number; trainLoss: number; seconds: number }[];
  /** model.onnx re-evaluated on the test set; `unsettled`: samples that ran out of sweeps, summed over the regions. */
  test?: { accuracy: number; loss: number; sweeps: number; unsettled?: number; skipRates?: SkipRate[]; unskippedAccuracy?: number };
}

/** Inference time of a skip-gated model against the same weights without skipping. */
export interface SkipTiming {
  model: string;
  batch: number;
  /** Median milliseconds per run over the timed inputs. */
  skippingMs: number;
  unskippedMs: number;
  inputs: number;
}

/** The longer-training check (one seed, more epochs): indicative, not judged. */
export interface LongTraining {
  /** The most epochs a finished long run trained. */
  epochs: number;
  runs: StudyRunResult[];
  /** Each TWNN minus each baseline of the same seed, in test accuracy: after the long runs, and after the study's runs of that seed. */
  gaps: { twnn: string; baseline: string; seed: number; epochs: number; gap: number; studyGap?: number; studyEpochs?: number }[];
}

export interface StudyReport {
  models: ModelSummary[];
  runs: StudyRunResult[];
  skipTimings: SkipTiming[];
  verdicts: StudyVerdicts;
  /** The longer-training check, where `longRuns` were given. */
  long?: LongTraining;
  method: { testSet: string; stepBatch: number; stepRepeats: number; stepRounds: number; memory: boolean; stepsPerEpoch: number; command: string };
}
