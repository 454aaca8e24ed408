// What `twnn bench paper` reports, apart from the code that measures it
// (paper.ts) and the code that draws and writes it (figures.ts, report.ts),
// so that all three import these types and none imports another back.
import type { DepthEvidence } from './depth.js';
import type { EasyHardLatency } from './latency.js';
import type { PerSample } from './per-sample.js';
import type { BenchRun, LoadedRun } from './runs.js';
import type { StepMemory } from './step-memory.js';
import type { StepTime } from './step-time.js';
import type { StudyReport } from './study-types.js';
import type { TrainingSummary } from './training-summary.js';

/** A run's test-set results, from the re-evaluation. */
export interface TestResults {
  samples: number;
  accuracy: number;
  loss: number;
  sweepsMean: number;
  sweepsMax: number;
  /** Per region (models with several regions), mean and max sweeps. */
  regions: { region: string; mean: number; max: number }[];
}

/** Everything the report says about one run. */
export interface RunReport {
  run: BenchRun;
  /** Why a run with a checkpoint is not reported (still training, or stopped before writing model.onnx). */
  unfinished?: string;
  /** Absent when the run's folder holds no trained run yet. */
  loaded?: Pick<LoadedRun, 'config' | 'position' | 'from'> & { parameters: number; trainable: number; iterators: Record<string, unknown>[] };
  training?: TrainingSummary;
  test?: TestResults;
  memory?: StepMemory;
  /** Why the memory could not be measured (the report says so rather than failing). */
  memoryError?: string;
  /** One training step timed by the bench (comparable across the report's runs). */
  stepTime?: StepTime;
  /** Whose train.onnx the step time and memory ran: the run's own, or (a committed run) its graph file exported again by this twnn. */
  stepGraph?: 'run' | 're-exported';
  /** Re-exported only: whether that train.onnx is byte for byte the one the run trained with (its manifest's sha256). */
  stepGraphIdentical?: boolean;
  /** Why no training step was timed or measured (no train.onnx and no graph file to export one from, or the export failed). */
  stepError?: string;
  depth?: DepthEvidence;
  latency?: EasyHardLatency;
  /** The re-evaluation's per-sample results (for the figures; TWNNs only). */
  perSample?: PerSample;
}

/** The sine report (paper Task B) a colleague's command writes, shown as given. */
export interface SineReport {
  path: string;
  /** Its scalar fields, flattened to dotted keys, in file order (its `files` list left out). */
  fields: [string, string][];
}

/** Everything `twnn bench paper` reports, as RESULTS.md and the figures draw it. */
export interface PaperReport {
  runs: RunReport[];
  sine?: SineReport;
  /** The Fashion-MNIST study (`twnn bench study`'s study.json), where one was written. */
  study?: { path: string; markdown: string; report: StudyReport };
  /** How the numbers were taken, for the report's method section. */
  method: {
    testSet: string;
    evalBatch: number;
    stepBatch: number;
    /** False when the memory measurement was skipped. */
    memory: boolean;
    /** Timed steps per run (0: not timed). */
    stepRepeats: number;
    latencyCount: number;
    latencyRepeats: number;
    machine: string;
    command: string;
  };
}
