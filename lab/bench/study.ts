// `twnn bench study` (issue 14): do wormholes help? The TWNN ResNet, the same
// with block skipping, and plain ResNets of the same and of twice the blocks,
// each trained for the same epochs from several seeds (study-runs.ts), then:
// - every run's model.onnx re-evaluated on the test set (accuracy, sweeps, and
//   for skip-gated models how often each block was skipped, and the accuracy
//   of the same weights computed densely, which must agree);
// - one training step of each model timed here, round-robin over the models
//   (so a load on the shared machine hits them alike), and its peak memory
//   measured in a child process;
// - skipping's inference time against the same weights run unskipped, at
//   batch 1 and batch 64, interleaved;
// - the paper's claims judged by those numbers (study-verdicts.ts), at equal
//   epochs and at equal training time.
// `--train` first trains the runs that are missing, one at a time, with the
// command each run lists. The report goes to <out>/STUDY.md and study.json.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { gatherRows, sequentialBatches, type Dataset } from '../../src/data/batches.js';
import { TwnnError } from '../../src/common/errors.js';
import { MODEL_FILE } from '../../src/contract/files.js';
import { buildInferenceGraph } from '../../src/lower/inference.js';
import { writeFileAtomic } from '../../src/common/files.js';
import { readInitializers, readModelFile } from '../../src/onnx/load.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import type { Device } from '../../src/runtime/device.js';
import { regionLimits } from '../../src/runtime/guard.js';
import { evaluate } from '../../src/runtime/metrics.js';
import { openSession, type TwnnSession } from '../../src/runtime/session.js';
import { skipThresholds } from '../../src/runtime/skip-rates.js';
import type { DataSpec } from '../../src/twnn/task.js';
import { defaultTrainSize } from './committed-run.js';
import { loadRun, UnfinishedRunError, type BenchRun, type LoadedRun } from './runs.js';
import { median } from './stats.js';
import { NoStepGraphError, withStepGraph, type SpecLoader } from './step-graph.js';
import { measureStepMemory, type StepMemory } from './step-memory.js';
import { measureStepTime } from './step-time.js';
import { judgeStudy, type ModelSummary } from './study-judge.js';
import { renderStudy } from './study-report.js';
import { studyRuns, type StudyModel, type StudyRun } from './study-runs.js';
import type { LongTraining, SkipTiming, StudyReport, StudyRunResult } from './study-types.js';
import { spread, type Spread } from './study-verdicts.js';
import { EVAL_BATCH } from '../../src/common/training.js';
import { testSetLoader } from './test-sets.js';

export interface BenchStudyOptions {
  /** The runs (default: every model of STUDY_MODELS from seeds 0-2). */
  runs?: readonly StudyRun[];
  /** The longer-training check's runs (default none; the CLI gives longStudyRuns()): re-evaluated and reported beside the study, not judged. */
  longRuns?: readonly StudyRun[];
  /** Where STUDY.md and study.json go (e.g. `docs`). */
  outDir: string;
  /** Imports a graph file (the CLI's loadModelSpec): what a missing run is trained from, and a committed run's step graph exported from. */
  loadSpec: SpecLoader;
  /** Train the runs whose folders hold none first (default false: they are reported as missing). */
  train?: (run: StudyRun) => Promise<void>;
  /** Rows per inference run in the re-evaluation (default 256). */
  evalBatch?: number;
  /** Timed steps per model per round (default 3) and rounds over the models (default 3); the best round's median counts. */
  stepRepeats?: number;
  stepRounds?: number;
  /** Skip the peak-memory measurement. */
  skipMemory?: boolean;
  /** Test inputs timed with and without skipping: batch-1 samples (default 200) and batch-64 batches (default 20). */
  skipTimingSamples?: number;
  skipTimingBatches?: number;
  /** Replace each run's test split (tests). */
  testData?: (data: DataSpec) => Promise<Dataset>;
  device?: Device;
  command?: string;
  log?: (line: string) => void;
}

export const STUDY_FILE = 'STUDY.md';
export const STUDY_JSON = 'study.json';

/**
 * Train what is missing (with `train`), measure every run, judge the paper's
 * claims, and write `<outDir>/STUDY.md` and `<outDir>/study.json`.
 *
 * @example await benchStudy({ outDir: 'docs', loadSpec: loadModelSpec, log: console.error });
 */
export async function benchStudy(options: BenchStudyOptions): Promise<{ report: StudyReport; files: string[] }> {
  const log = options.log ?? (() => {});
  const runs = options.runs ?? studyRuns();
  const longRuns = options.longRuns ?? [];
  if (options.train) {
    for (const run of [...runs, ...longRuns]) {
      if (existsSync(join(run.dir, MODEL_FILE)) && (await loadOrUndefined(run)) !== undefined) continue;
      log(`${run.model.id} seed ${run.seed}: training (${run.command})`);
      await options.train(run);
    }
  }
  const testSet = testSetLoader(options.testData);
  const { results, loadedByModel, test } = await readRuns(runs, testSet, options, log);
  const long = longRuns.length > 0 ? longTraining(longRuns, (await readRuns(longRuns, testSet, options, log)).results, results) : undefined;

  const models = runs.map((r) => r.model).filter((m, i, all) => all.findIndex((n) => n.id === m.id) === i);
  const stepBatch = 64;
  const steps = test ? await measureSteps(models, loadedByModel, test, stepBatch, options, log) : new Map<string, { ms?: number; memory?: StepMemory }>();
  const skipTimings = test ? await timeSkipping(models, loadedByModel, test, options, log) : [];
  const firstLoaded = [...loadedByModel.values()][0];
  const trainSize = firstLoaded?.manifest.task.data ? (defaultTrainSize(firstLoaded.manifest.task.data) ?? 60000) : 60000;
  const stepsPerEpoch = Math.ceil(trainSize / (firstLoaded?.config.batch ?? stepBatch));
  const summaries = models.map((m) => summarize(m, results.filter((r) => r.model === m.id), steps.get(m.id), stepsPerEpoch));
  const report: StudyReport = {
    models: summaries,
    runs: results,
    skipTimings,
    verdicts: judgeStudy(summaries, skipTimings),
    ...(long ? { long } : {}),
    method: {
      testSet: test ? `${test.name} (${test.x.shape[0]} examples)` : 'the test split',
      stepBatch,
      stepRepeats: options.stepRepeats ?? 3,
      stepRounds: options.stepRounds ?? 3,
      memory: !options.skipMemory,
      stepsPerEpoch,
      command: options.command ?? 'twnn bench study',
    },
  };
  const markdown = join(options.outDir, STUDY_FILE);
  const json = join(options.outDir, STUDY_JSON);
  await writeFileAtomic(markdown, renderStudy(report));
  await writeFileAtomic(json, `${JSON.stringify(report, null, 2)}\n`);
  return { report, files: [markdown, json] };
}

/** Each run loaded and re-evaluated on its task's test set (missing and unfinished ones listed as such), and each model's first finished run. */
async function readRuns(
  runs: readonly StudyRun[],
  testSet: (data: DataSpec) => Promise<Dataset>,
  options: BenchStudyOptions,
  log: (line: string) => void,
): Promise<{ results: StudyRunResult[]; loadedByModel: Map<string, LoadedRun>; test?: Dataset }> {
  const results: StudyRunResult[] = [];
  const loadedByModel = new Map<string, LoadedRun>();
  let test: Dataset | undefined;
  for (const run of runs) {
    const base = { model: run.model.id, seed: run.seed, dir: run.dir, command: run.command, epochs: [] };
    let loaded: LoadedRun | undefined;
    try {
      loaded = await loadRun(asBenchRun(run));
    } catch (err) {
      if (!(err instanceof UnfinishedRunError)) throw err;
      log(`${run.model.id} seed ${run.seed}: ${err.message}`);
      results.push({ ...base, status: 'unfinished' });
      continue;
    }
    if (!loaded) {
      log(`${run.model.id} seed ${run.seed}: no trained run in ${run.dir}; listed as missing`);
      results.push({ ...base, status: 'missing' });
      continue;
    }
    if (!loadedByModel.has(run.model.id)) loadedByModel.set(run.model.id, loaded);
    const data = loaded.manifest.task.data;
    if (!data) throw new TwnnError(`${run.dir}/manifest.json names no task data, so there is no test set to evaluate it on`);
    test = await testSet(data);
    log(`${run.model.id} seed ${run.seed}: re-evaluating ${loaded.modelPath} on ${test.name}`);
    results.push({ ...base, status: 'done', epochs: epochsOf(loaded), test: await reEvaluate(run.model.graph, run.dir, loaded, test, options) });
  }
  return { results, loadedByModel, ...(test ? { test } : {}) };
}

/**
 * The longer-training check: its runs, and each TWNN's gap to each baseline
 * trained from the same seed, after the long runs and after the study's own
 * run of that seed (does the gap move with more training?).
 */
function longTraining(longRuns: readonly StudyRun[], longResults: readonly StudyRunResult[], studyResults: readonly StudyRunResult[]): LongTraining {
  const finished = (results: readonly StudyRunResult[], model: string, seed: number) => results.find((r) => r.model === model && r.seed === seed && r.status === 'done' && r.test);
  const done = longRuns.filter((r) => finished(longResults, r.model.id, r.seed));
  const gaps: LongTraining['gaps'] = [];
  for (const t of done.filter((r) => r.model.role === 'twnn')) {
    for (const b of done.filter((r) => r.model.role === 'baseline' && r.seed === t.seed)) {
      const [lt, lb] = [finished(longResults, t.model.id, t.seed)!, finished(longResults, b.model.id, b.seed)!];
      const [st, sb] = [finished(studyResults, t.model.id, t.seed), finished(studyResults, b.model.id, b.seed)];
      gaps.push({
        twnn: t.model.id,
        baseline: b.model.id,
        seed: t.seed,
        epochs: lt.epochs.length,
        gap: lt.test!.accuracy - lb.test!.accuracy,
        ...(st && sb ? { studyGap: st.test!.accuracy - sb.test!.accuracy, studyEpochs: st.epochs.length } : {}),
      });
    }
  }
  return { epochs: Math.max(0, ...longResults.map((r) => r.epochs.length)), runs: [...longResults], gaps };
}

function asBenchRun(run: StudyRun): BenchRun {
  return { id: `${run.model.id}-s${run.seed}`, label: run.model.label, family: 'study', role: run.model.role, dir: run.dir, command: run.command, graph: run.model.graph };
}

async function loadOrUndefined(run: StudyRun): Promise<LoadedRun | undefined> {
  try {
    return await loadRun(asBenchRun(run));
  } catch (err) {
    if (err instanceof UnfinishedRunError) return undefined;
    throw err;
  }
}

function epochsOf(loaded: LoadedRun): StudyRunResult['epochs'] {
  return loaded.metrics.flatMap((m) => (m.kind === 'epoch' && m.test_accuracy !== undefined && m.test_accuracy !== null ? [{ epoch: m.epoch, accuracy: m.test_accuracy, trainLoss: m.train_loss, seconds: m.seconds }] : []));
}

/** What a re-evaluation needs besides the run: how its graph file is loaded (for a skip-gated model's dense twin), rows per run, the device. */
export type ReEvaluateOptions = Pick<BenchStudyOptions, 'loadSpec' | 'evalBatch' | 'device'>;

/**
 * A finished run's model.onnx evaluated on `test`: accuracy, loss, mean sweeps
 * per sample and unsettled samples (summed over the regions); for a
 * skip-gated model also its skip rates and the accuracy of the same weights
 * computed densely (rebuilt from `graph`).
 *
 * @example const scored = await reEvaluate('graphs/fashion-resnet.ts', run.dir, loaded, test, { loadSpec: loadModelSpec });
 */
export async function reEvaluate(graph: string, dir: string, loaded: LoadedRun, test: Dataset, o: ReEvaluateOptions): Promise<NonNullable<StudyRunResult['test']>> {
  const proto = await readModelFile(loaded.modelPath);
  const thresholds = skipThresholds(proto);
  const evalBatch = o.evalBatch ?? EVAL_BATCH;
  const scored = await withSession(await openSession(loaded.modelPath, { device: o.device ?? { kind: 'cpu' } }), (s) =>
    evaluate(s, test, 'cross_entropy', evalBatch, regionLimits(proto), thresholds),
  );
  const unsettled = scored.unsettled.reduce((n, u) => n + u.count, 0);
  const result: NonNullable<StudyRunResult['test']> = { accuracy: scored.accuracy ?? NaN, loss: scored.loss, sweeps: scored.iterationsMean, unsettled };
  if (Object.keys(thresholds).length === 0) return result;
  // The same weights computed densely (as in training): the same function, so the same accuracy; a check of the skipping graph.
  const unskipped = await unskippedBytes(graph, loaded, o.loadSpec);
  const soft = await withSession(await openSession(unskipped, { device: o.device ?? { kind: 'cpu' }, where: `${dir} without skipping` }), (s) =>
    evaluate(s, test, 'cross_entropy', evalBatch, regionLimits(proto)),
  );
  return { ...result, skipRates: scored.skipRates, unskippedAccuracy: soft.accuracy ?? NaN };
}

/** model.onnx of a run rebuilt from its graph file with its trained weights and `blockSkipping: 'off'` (the same function, without the savings). */
async function unskippedBytes(graphFile: string, loaded: LoadedRun, loadSpec: SpecLoader): Promise<Uint8Array> {
  const spec = await loadSpec(graphFile);
  const weights = readInitializers(await readModelFile(loaded.modelPath), loaded.modelPath);
  const { graph } = buildInferenceGraph(spec, { dtype: loaded.manifest.dtype, seed: loaded.manifest.seed, opset: loaded.manifest.opset, weights, blockSkipping: 'off' });
  return serializeModel(graph, { opset: loaded.manifest.opset });
}

async function withSession<T>(session: TwnnSession, use: (s: TwnnSession) => Promise<T>): Promise<T> {
  try {
    return await use(session);
  } finally {
    await session.close();
  }
}

/**
 * One training step per model (its first finished run), timed round-robin:
 * each round times every model `stepRepeats` times, and a model's time is its
 * best round's median (the round least disturbed by other work on the machine).
 */
async function measureSteps(
  models: readonly StudyModel[],
  loaded: ReadonlyMap<string, LoadedRun>,
  test: Dataset,
  batch: number,
  o: BenchStudyOptions,
  log: (line: string) => void,
): Promise<Map<string, { ms?: number; memory?: StepMemory }>> {
  const rows = Array.from({ length: Math.min(batch, test.x.shape[0]) }, (_, i) => i);
  const x = gatherRows(test.x, rows);
  const target = gatherRows(test.target, rows);
  const out = new Map<string, { ms?: number; memory?: StepMemory }>(models.map((m) => [m.id, {}]));
  const repeats = o.stepRepeats ?? 3;
  const rounds = o.stepRounds ?? 3;
  const timed = models.filter((m) => loaded.has(m.id));
  const roundTimes: Map<string, number[]> = new Map(timed.map((m) => [m.id, []]));
  for (let r = 0; r < (repeats > 0 ? rounds : 0); r++) {
    for (const m of timed) {
      log(`${m.id}: timing ${repeats} training steps (round ${r + 1} of ${rounds})`);
      const run = loaded.get(m.id)!;
      try {
        const t = await withStepGraph(run, o.loadSpec, (g) => measureStepTime(run.run.dir, x, target, { repeats, graph: g, ...(o.device ? { device: o.device } : {}) }));
        roundTimes.get(m.id)!.push(t.msPerStep);
      } catch (err) {
        if (!(err instanceof NoStepGraphError)) throw err;
        log(err.message);
      }
    }
  }
  for (const m of timed) {
    const times = roundTimes.get(m.id)!;
    if (times.length > 0) out.get(m.id)!.ms = Math.min(...times);
    if (o.skipMemory) continue;
    log(`${m.id}: measuring the peak memory of a training step`);
    const run = loaded.get(m.id)!;
    try {
      out.get(m.id)!.memory = await withStepGraph(run, o.loadSpec, (g) => measureStepMemory(run.run.dir, x, target, g));
    } catch (err) {
      log(`${m.id}: no memory measurement: ${(err as Error).message}`);
    }
  }
  return out;
}

/** Each skip-gated model's inference, skipping against unskipped, on the same inputs in turn, at batch 1 and 64. */
async function timeSkipping(models: readonly StudyModel[], loaded: ReadonlyMap<string, LoadedRun>, test: Dataset, o: BenchStudyOptions, log: (line: string) => void): Promise<SkipTiming[]> {
  const timings: SkipTiming[] = [];
  for (const m of models) {
    const run = loaded.get(m.id);
    if (!run || Object.keys(skipThresholds(await readModelFile(run.modelPath))).length === 0) continue;
    const device = o.device ?? { kind: 'cpu' as const };
    const skipping = await openSession(run.modelPath, { device });
    const unskipped = await openSession(await unskippedBytes(m.graph, run, o.loadSpec), { device, where: `${run.run.dir} without skipping` });
    try {
      for (const [batch, count] of [[1, o.skipTimingSamples ?? 200], [64, o.skipTimingBatches ?? 20]] as const) {
        log(`${m.id}: timing inference with and without skipping at batch ${batch} (${count} inputs)`);
        const a: number[] = [];
        const b: number[] = [];
        let inputs = 0;
        for (const { x } of sequentialBatches(test, batch)) {
          if (inputs === count) break;
          if (x.shape[0] !== batch) continue;
          // One warm-up run each, then alternate so both see the same machine.
          if (inputs === 0) {
            await skipping.run({ x });
            await unskipped.run({ x });
          }
          a.push(await timeRun(skipping, x));
          b.push(await timeRun(unskipped, x));
          inputs += 1;
        }
        timings.push({ model: m.id, batch, skippingMs: median(a), unskippedMs: median(b), inputs });
      }
    } finally {
      await skipping.close();
      await unskipped.close();
    }
  }
  return timings;
}

async function timeRun(session: TwnnSession, x: Parameters<TwnnSession['run']>[0]['x']): Promise<number> {
  const start = process.hrtime.bigint();
  await session.run({ x });
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function summarize(model: StudyModel, runs: readonly StudyRunResult[], step: { ms?: number; memory?: StepMemory } | undefined, stepsPerEpoch: number): ModelSummary {
  const done = runs.filter((r) => r.status === 'done' && r.test);
  const maxEpoch = Math.max(0, ...done.map((r) => r.epochs.length));
  const perEpoch: { epoch: number; accuracy: Spread; benchSeconds?: number }[] = [];
  for (let e = 1; e <= maxEpoch; e++) {
    const at = done.flatMap((r) => r.epochs.filter((p) => p.epoch === e).map((p) => p.accuracy));
    perEpoch.push({ epoch: e, accuracy: spread(at), ...(step?.ms !== undefined ? { benchSeconds: (e * stepsPerEpoch * step.ms) / 1000 } : {}) });
  }
  const skipBlocks = [...new Set(done.flatMap((r) => r.test!.skipRates ?? []).map((s) => s.block))];
  return {
    id: model.id,
    label: model.label,
    kind: model.kind,
    role: model.role,
    paperName: model.paperName,
    seeds: done.map((r) => r.seed),
    accuracy: spread(done.map((r) => r.test!.accuracy)),
    sweeps: spread(done.map((r) => r.test!.sweeps)),
    trainerSecondsPerEpoch: spread(done.flatMap((r) => (r.epochs.length > 0 ? [r.epochs[r.epochs.length - 1].seconds / r.epochs.length] : []))),
    ...(step?.ms !== undefined ? { msPerStep: step.ms, secondsPerEpoch: (stepsPerEpoch * step.ms) / 1000 } : {}),
    ...(step?.memory ? { stepMemoryKb: step.memory.stepKb } : {}),
    perEpoch,
    ...(skipBlocks.length > 0
      ? {
          skip: {
            rates: skipBlocks.map((block) => ({ block, rate: spread(done.flatMap((r) => (r.test!.skipRates ?? []).filter((s) => s.block === block).map((s) => s.rate))) })),
            unskippedAccuracy: spread(done.flatMap((r) => (r.test!.unskippedAccuracy !== undefined ? [r.test!.unskippedAccuracy] : []))),
          },
        }
      : {}),
  };
}
