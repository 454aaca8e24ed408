// `twnn bench paper`: docs/RESULTS.md and its figures, regenerated from saved
// training runs (never retraining): each run's model.onnx is re-evaluated on
// the test set through onnxruntime, a child process measures the peak memory
// of one of its training steps (a committed run's train.onnx exported again
// from its graph file), and the TWNNs' per-sample sweeps give the
// dynamic-depth evidence.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { gatherRows, type Dataset } from '../../src/data/batches.js';
import { FormatError, TwnnError } from '../../src/common/errors.js';
import { writeFileAtomic } from '../../src/common/files.js';
import type { Device } from '../../src/runtime/device.js';
import { openSession } from '../../src/runtime/session.js';
import { EVAL_BATCH, TRAIN_FALLBACKS } from '../../src/common/training.js';
import type { DataSpec } from '../../src/twnn/task.js';
import { defaultTrainSize } from './committed-run.js';
import { depthEvidence } from './depth.js';
import { drawFigures, type Figure } from './figures.js';
import { easyHardLatency } from './latency.js';
import { accuracyOf, perSampleResults, type PerSample } from './per-sample.js';
import type { PaperReport, RunReport, SineReport, TestResults } from './paper-types.js';
import { renderResults } from './report.js';
import { loadRun, UnfinishedRunError, type BenchRun, type LoadedRun } from './runs.js';
import { mean } from './stats.js';
import { NoStepGraphError, withStepGraph, type SpecLoader } from './step-graph.js';
import { measureStepMemory } from './step-memory.js';
import { measureStepTime } from './step-time.js';
import { STUDY_FILE, STUDY_JSON } from './study.js';
import type { StudyReport } from './study-types.js';
import { summarizeTraining } from './training-summary.js';
import { testSetLoader } from './test-sets.js';

export interface BenchPaperOptions {
  runs: readonly BenchRun[];
  /** Where RESULTS.md and figures/ go (e.g. `docs`). */
  outDir: string;
  /** Rows per inference run in the re-evaluation (default 256). */
  evalBatch?: number;
  /** Batch of the timed and memory-measured training step: the first rows of the test set (default: the run's training batch; real data, since a TWNN's sweeps depend on it). */
  stepBatch?: number;
  /** Skip the memory measurement (the column then says so). */
  skipMemory?: boolean;
  /** Timed training steps per run in the bench's own step timing (default 5; 0 skips it). */
  stepRepeats?: number;
  /** Samples per group in the easy/hard latency comparison (default 100). */
  latencyCount?: number;
  /** Timed runs per sample (default 3). */
  latencyRepeats?: number;
  /** The sine report to include, if it exists (default exported/sine/report.json). */
  sineReport?: string;
  /** The study to include, if it exists (default `<outDir>/study.json`, written by `twnn bench study`). */
  studyReport?: string;
  /** Replace each run's test split (tests); the default loads the task's. */
  testData?: (data: DataSpec) => Promise<Dataset>;
  /** Training examples per epoch of a task (for runs that stopped mid-epoch, and a committed run's batch size). Default: 60000 for MNIST, 50000 for CIFAR-10. */
  trainSize?: (data: DataSpec) => number;
  /** Imports a run's graph file (the CLI's loadModelSpec): a committed run's train.onnx is exported again from it, and its task.train.batch read. */
  loadSpec?: SpecLoader;
  /** Where the re-evaluation, the latency and the step timing run (default cpu). */
  device?: Device;
  /** The command line shown in the report's header. */
  command?: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export const RESULTS_FILE = 'RESULTS.md';
export const FIGURES_DIR = 'figures';

/**
 * Regenerate `<outDir>/RESULTS.md` and `<outDir>/figures/` from saved runs and
 * return what it reported. Runs whose folders hold no trained run are listed
 * with the command that would produce them.
 *
 * @example
 * await benchPaper({ runs: PAPER_RUNS, outDir: 'docs', log: console.log });
 */
export async function benchPaper(options: BenchPaperOptions): Promise<{ report: PaperReport; files: string[] }> {
  const log = options.log ?? (() => {});
  const evalBatch = options.evalBatch ?? EVAL_BATCH;
  const latencyCount = options.latencyCount ?? 100;
  const latencyRepeats = options.latencyRepeats ?? 3;
  const stepRepeats = options.stepRepeats ?? 5;
  const testSet = testSetLoader(options.testData);

  const runs: RunReport[] = [];
  let testName = '';
  for (const run of options.runs) {
    let loaded: LoadedRun | undefined;
    try {
      loaded = await loadRun(run, { ...(options.trainSize ? { trainSize: options.trainSize } : {}), batchHint: () => batchHint(run, options.loadSpec) });
    } catch (err) {
      if (!(err instanceof UnfinishedRunError)) throw err;
      log(`${run.id}: ${err.message}`);
      runs.push({ run, unfinished: err.message });
      continue;
    }
    if (!loaded) {
      log(`${run.id}: no trained run in ${run.dir}; listed as not run`);
      runs.push({ run });
      continue;
    }
    const data = loaded.manifest.task.data;
    if (!data) throw new TwnnError(`run '${run.id}': ${run.dir}/manifest.json names no task data, so there is no test set to evaluate it on`);
    const test = await testSet(data);
    testName = `${test.name} (${test.x.shape[0]} examples)`;
    runs.push(await measureRun(loaded, test, { ...options, evalBatch, latencyCount, latencyRepeats, stepRepeats, log }));
  }

  const report: PaperReport = {
    runs,
    ...readSine(options.sineReport ?? join('exported', 'sine', 'report.json')),
    ...readStudy(options.studyReport ?? join(options.outDir, STUDY_JSON)),
    method: {
      testSet: testName || 'the test split',
      evalBatch,
      stepBatch: options.stepBatch ?? 0,
      memory: !options.skipMemory,
      stepRepeats,
      latencyCount,
      latencyRepeats,
      machine: machineText(),
      command: options.command ?? 'twnn bench paper',
    },
  };
  await mkdir(join(options.outDir, FIGURES_DIR), { recursive: true });
  const figures: Figure[] = await drawFigures(report, join(options.outDir, FIGURES_DIR));
  const links = new Map(figures.map((f) => [f.key, relative(options.outDir, f.path)]));
  const resultsPath = join(options.outDir, RESULTS_FILE);
  await writeFileAtomic(resultsPath, renderResults(report, links));
  return { report, files: [resultsPath, ...figures.flatMap((f) => [`${f.path}.svg`, `${f.path}.png`])] };
}

type Settings = BenchPaperOptions & Required<Pick<BenchPaperOptions, 'evalBatch' | 'latencyCount' | 'latencyRepeats' | 'stepRepeats' | 'log'>>;

/** Everything the report says about one trained run: re-evaluation, depth evidence, step time and memory. */
async function measureRun(loaded: LoadedRun, test: Dataset, o: Settings): Promise<RunReport> {
  const { run } = loaded;
  const data = loaded.manifest.task.data!;
  if (loaded.manifest.task.loss !== 'cross_entropy') throw new TwnnError(`run '${run.id}': the paper report compares classifiers; this model's loss is ${loaded.manifest.task.loss}`);
  const trainSize = o.trainSize ? o.trainSize(data) : defaultTrainSize(data);
  if (!trainSize) throw new TwnnError(`run '${run.id}': no known training-set size for ${data.kind} data`);
  const report: RunReport = {
    run,
    loaded: {
      config: loaded.config,
      position: loaded.position,
      from: loaded.from,
      parameters: loaded.manifest.parameterCount,
      trainable: loaded.manifest.trainableParameterCount,
      iterators: loaded.manifest.iterators,
    },
    training: summarizeTraining(loaded.metrics, loaded.config, loaded.position, trainSize),
  };
  o.log(`${run.id}: re-evaluating ${loaded.modelPath} on ${test.name}`);
  const session = await openSession(loaded.modelPath, { device: o.device ?? { kind: 'cpu' } });
  try {
    const perSample = await perSampleResults(session, test, o.evalBatch);
    report.test = testResults(perSample);
    if (run.role === 'twnn') {
      report.depth = depthEvidence(perSample);
      report.perSample = perSample;
      o.log(`${run.id}: timing batch-1 inference of the ${o.latencyCount} easiest and hardest samples`);
      report.latency = await easyHardLatency(session, test, perSample.sweeps, { count: o.latencyCount, repeats: o.latencyRepeats });
    }
  } finally {
    await session.close();
  }
  const rows = Array.from({ length: Math.min(o.stepBatch ?? loaded.config.batch, test.x.shape[0]) }, (_, i) => i);
  const x = gatherRows(test.x, rows);
  const target = gatherRows(test.target, rows);
  if (o.stepRepeats === 0 && o.skipMemory) return report;
  try {
    await withStepGraph(loaded, o.loadSpec, async (graph) => {
      report.stepGraph = graph.source;
      if (graph.identical !== undefined) report.stepGraphIdentical = graph.identical;
      if (graph.source === 're-exported') o.log(`${run.id}: no train.onnx in ${run.dir}; stepping ${run.graph} as this twnn exports it${graph.identical ? '' : " (not the run's own graph byte for byte)"}`);
      if (o.stepRepeats > 0) {
        o.log(`${run.id}: timing ${o.stepRepeats} training steps`);
        report.stepTime = await measureStepTime(run.dir, x, target, { repeats: o.stepRepeats, ...(o.device ? { device: o.device } : {}), graph });
      }
      if (!o.skipMemory) {
        o.log(`${run.id}: measuring the peak memory of a training step`);
        try {
          report.memory = await measureStepMemory(run.dir, x, target, graph);
        } catch (err) {
          // A machine without /proc (or one that forbids clear_refs) still gets the rest of the report.
          report.memoryError = (err as Error).message;
        }
      }
    });
  } catch (err) {
    if (!(err instanceof NoStepGraphError)) throw err;
    o.log(err.message);
    report.stepError = err.message;
    // The report's notes already say why a memory cell is empty.
    if (!o.skipMemory) report.memoryError = err.message;
  }
  return report;
}

/** The batch size a run's command (`--batch N`) or else its graph file asks for; undefined when neither can say. */
async function batchHint(run: BenchRun, loadSpec: SpecLoader | undefined): Promise<number | undefined> {
  const flag = /(?:^|\s)--batch(?:=|\s+)(\d+)(?:\s|$)/.exec(run.command);
  if (flag) return Number(flag[1]);
  if (!run.graph || !loadSpec) return undefined;
  try {
    return (await loadSpec(run.graph)).task?.train?.batch ?? TRAIN_FALLBACKS.batch;
  } catch {
    // Only a hint: a graph file that no longer loads is reported where the step graph is exported from it.
    return undefined;
  }
}

function testResults(r: PerSample): TestResults {
  return {
    samples: r.samples,
    accuracy: accuracyOf(r),
    loss: mean(r.loss),
    sweepsMean: mean(r.sweeps),
    sweepsMax: Math.max(...r.sweeps),
    regions: Object.entries(r.regionSweeps).map(([region, s]) => ({ region, mean: mean(s), max: Math.max(...s) })),
  };
}

function readStudy(path: string): { study?: PaperReport['study'] } {
  if (!existsSync(path)) return {};
  let report: StudyReport;
  try {
    report = JSON.parse(readFileSync(path, 'utf8')) as StudyReport;
  } catch (err) {
    throw new FormatError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(report?.models) || !Array.isArray(report?.verdicts?.claims)) throw new FormatError(`${path}: not a study report (twnn bench study writes one)`);
  return { study: { path, markdown: join(dirname(path), STUDY_FILE), report } };
}

function readSine(path: string): { sine?: SineReport } {
  if (!existsSync(path)) return {};
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new FormatError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  const fields: [string, string][] = [];
  const walk = (v: unknown, key: string) => {
    if (typeof v === 'number') fields.push([key, readableNumber(v)]);
    else if (typeof v === 'string' || typeof v === 'boolean') fields.push([key, String(v)]);
    else if (v && typeof v === 'object' && !Array.isArray(v)) {
      // The names of the report's own files mean nothing beside RESULTS.md.
      for (const [k, w] of Object.entries(v)) if (key || k !== 'files') walk(w, key ? `${key}.${k}` : k);
    }
  };
  walk(value, '');
  return { sine: { path, fields } };
}

/** Integers as they are, other numbers to 4 significant digits (small ones as 1.093e-6). */
function readableNumber(v: number): string {
  if (Number.isInteger(v) || !Number.isFinite(v)) return String(v);
  return Math.abs(v) < 1e-3 ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}

function machineText(): string {
  const list = cpus();
  const model = list[0]?.model?.trim() || 'unknown CPU';
  return `${model}, ${list.length} logical CPU${list.length === 1 ? '' : 's'} (shared), Node ${process.version}, onnxruntime-node CPU EP`;
}
