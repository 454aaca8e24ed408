// `twnn bench to-accuracy`: the wall-clock time a TWNN takes to reach a test
// accuracy, trained by twnn (train.onnx in onnxruntime-node, one run per solver
// setting) and by its PyTorch twin (python/twnn_torch.py) from
// the same initial weights, on the same batches (twnn train's seeded order) with
// the same learning-rate schedule (issue 21, part 4). It is the number a user
// cares about, and it is fair to solvers that do fewer, dearer sweeps.
//
// First both sides must compute the same run: the first steps' losses and
// sweeps of twnn's first setting against the twin's. The twin then gets its
// fastest setting (torch.set_num_threads × OPENBLAS_NUM_THREADS × dense or
// active sweeps), timed on the first steps. The race goes in segments of
// `evalEvery` steps, the contestants taking turns (each segment timed with the
// other torch workers frozen, so no side slows another), and after each
// segment a contestant's weights are evaluated on the whole test set (not
// timed). A contestant stops at the first evaluation at or above the target,
// or at `maxSteps`. Times are training time only: the steps, their batches and
// their weight updates.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { batchCount, batchRows, datasetSize, shuffledOrder, takeBatch, type Dataset } from '../../src/data/batches.js';
import { writeNpy } from '../../src/data/npy.js';
import { TwnnError } from '../../src/common/errors.js';
import { Tensor } from '../../src/ir/tensor.js';
import { buildInferenceGraph } from '../../src/lower/inference.js';
import { buildTrainGraph } from '../../src/lower/training.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { evaluate } from '../../src/runtime/metrics.js';
import { openSession } from '../../src/runtime/session.js';
import { firstStepFeeds, takeNewValues } from '../../src/runtime/train-feeds.js';
import { learningRate } from '../../src/runtime/trainer.js';
import { TRAIN_FALLBACKS } from '../../src/common/training.js';
import type { ModelSpec } from '../../src/twnn/spec.js';
import { mean } from './stats.js';
import type { SolverVariant } from './solvers.js';
import { describeForTorch } from '../../src/runtime/torch/arch.js';
import { AGREEMENT_LIMITS, describeSetting, SWEEP_MODES, type SweepMode, type TorchSetting } from './torch.js';
import { timedAlone, TorchWorker } from './torch-worker.js';

export interface AccuracyRaceOptions {
  /** The graph file, for the report. */
  graph: string;
  spec: ModelSpec;
  /** Initial weights by parameter name; without them the spec's seed-0 values. */
  weights?: ReadonlyMap<string, Tensor>;
  weightsFrom: string;
  train: Dataset;
  test: Dataset;
  /** twnn's settings that race (region overrides); the first is checked against the twin. */
  twnnVariants: readonly SolverVariant[];
  /** Test accuracy to reach, e.g. 0.99. */
  target: number;
  /** Steps between evaluations. */
  evalEvery: number;
  /** A contestant that has not reached the target by then stops. */
  maxSteps: number;
  /** Rows per evaluation batch. */
  evalBatch: number;
  /** Steps whose losses and sweeps are compared before the race. */
  agreementSteps: number;
  /** Steps each torch setting is timed on to pick the fastest. */
  tuneSteps: number;
  torchThreads: readonly number[];
  /** OPENBLAS_NUM_THREADS values (undefined: OpenBLAS's default), one worker each. */
  openblasThreads: readonly (number | undefined)[];
  /** The twin's sweep modes tried (default both). */
  torchModes?: readonly SweepMode[];
  python?: string;
  script?: string;
  log?: (line: string) => void;
}

/** One evaluation after a segment. */
export interface RacePoint {
  step: number;
  /** Training seconds so far. */
  seconds: number;
  accuracy: number;
  /** Mean forward sweeps per test sample (summed over the regions). */
  testSweeps: number;
  /** The segment's mean training loss, forward sweeps and adjoint steps per sample. */
  loss: number;
  sweeps: number;
  adjointSteps: number;
}

export interface ContestantResult {
  id: string;
  engine: 'twnn' | 'torch';
  label: string;
  timeline: RacePoint[];
  /** The first evaluation at or above the target. */
  reached?: { step: number; seconds: number; accuracy: number };
}

export interface AccuracyRaceResult {
  graph: string;
  weightsFrom: string;
  target: number;
  evalEvery: number;
  maxSteps: number;
  batch: number;
  /** The run's planned length (the lr schedule's horizon), steps. */
  plannedSteps: number;
  lr: number;
  lrSchedule: string;
  /** The gradient's global norm is clipped at this (task.train.clipNorm), on both sides. */
  clipNorm?: number;
  agreement: { steps: number; lossDiff: number; sweepsDiff: number; limit: number; ok: boolean };
  /** Every torch setting's time for the tuning steps, seconds. */
  tuning: (TorchSetting & { seconds: number })[];
  contestants: ContestantResult[];
  seconds: number;
}

/** The run's schedule: which rows and learning rate each step (1-based) takes, as twnn train does. */
interface Schedule {
  batch: number;
  plannedSteps: number;
  lr: number;
  lrSchedule: 'constant' | 'cosine';
  rowsOf(step: number): Uint32Array;
  lrOf(step: number): number;
}

/** What a segment of steps gives back. */
interface Segment {
  seconds: number;
  losses: number[];
  sweeps: number[];
  adjointSteps: number[];
}

/** A side of the race: it trains on, and says how good it is now. */
interface Contestant {
  id: string;
  engine: 'twnn' | 'torch';
  label: string;
  /** The torch worker it runs in (left running while it is timed), none for twnn. */
  worker?: TorchWorker;
  steps(from: number, count: number): Promise<Segment>;
  evaluate(): Promise<{ accuracy: number; sweeps: number }>;
}

/**
 * Race twnn's settings against the PyTorch twin to a test accuracy (see the
 * head of this file). Throws a TwnnError when the two do not compute the same
 * first steps.
 *
 * @example const result = await raceToAccuracy({ graph: 'graphs/mnist-resnet.ts', spec, target: 0.99, ... });
 */
export async function raceToAccuracy(options: AccuracyRaceOptions): Promise<AccuracyRaceResult> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const schedule = scheduleOf(options.spec, options.train);
  const dir = await mkdtemp(join(tmpdir(), 'twnn-bench-accuracy-'));
  const starts = await Promise.allSettled(options.openblasThreads.map((n) => TorchWorker.start({ ...(n === undefined ? {} : { openblasThreads: n }), python: options.python, script: options.script })));
  const workers = starts.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  try {
    const failedStart = starts.find((s) => s.status === 'rejected');
    if (failedStart) throw failedStart.reason;
    const twins = await loadTwins(options, workers, dir);
    const twnn = options.twnnVariants.map((v) => twnnContestant(options, v, schedule));
    const torch = (setting: TorchSetting, reset: boolean) => torchContestant(options, twins, setting, schedule, dir, reset);

    log(`bench to-accuracy: ${options.graph}: the first ${options.agreementSteps} steps, twnn (${twnn[0].id}) against the torch twin`);
    const ours = await twnn[0].steps(1, options.agreementSteps);
    const theirs = await torch({ openblas: workers[0].label, threads: options.torchThreads[0], mode: 'active' }, true).steps(1, options.agreementSteps);
    const agreement = {
      steps: options.agreementSteps,
      lossDiff: Math.max(...ours.losses.map((l, k) => Math.abs(l - theirs.losses[k]) / Math.max(Math.abs(l), 1e-12))),
      sweepsDiff: Math.max(...ours.sweeps.map((s, k) => Math.abs(s - theirs.sweeps[k]) / Math.max(s, 1))),
      limit: AGREEMENT_LIMITS.loss,
      ok: true,
    };
    agreement.ok = agreement.lossDiff <= AGREEMENT_LIMITS.loss && agreement.sweepsDiff <= AGREEMENT_LIMITS.countMismatch;
    log(`  losses differ by ${agreement.lossDiff.toExponential(1)} at most (limit ${AGREEMENT_LIMITS.loss}), mean sweeps by ${(100 * agreement.sweepsDiff).toFixed(2)}% (limit ${100 * AGREEMENT_LIMITS.countMismatch}%)`);
    if (!agreement.ok) {
      throw new TwnnError(
        `bench to-accuracy: twnn and the torch twin disagree on the first ${options.agreementSteps} steps (nothing timed): losses ${ours.losses.join(', ')} against ${theirs.losses.join(', ')}; sweeps ${ours.sweeps.join(', ')} against ${theirs.sweeps.join(', ')}`,
      );
    }
    // Each twnn setting starts again from the initial weights (its feeds were not kept).
    twnn[0] = twnnContestant(options, options.twnnVariants[0], schedule);

    const tuning: AccuracyRaceResult['tuning'] = [];
    let best: (TorchSetting & { seconds: number }) | undefined;
    for (const worker of workers) {
      for (const threads of options.torchThreads) {
        for (const mode of options.torchModes ?? SWEEP_MODES) {
          const setting = { openblas: worker.label, threads, mode };
          const c = torch(setting, true);
          const { seconds } = await timedAlone(workers, worker, () => c.steps(1, options.tuneSteps));
          tuning.push({ ...setting, seconds });
          if (!best || seconds < best.seconds) best = { ...setting, seconds };
        }
      }
    }
    log(`bench to-accuracy: torch's fastest setting on the first ${options.tuneSteps} steps: ${describeSetting(best!)}, ${best!.mode} sweeps`);
    const contestants = [...twnn, torch(best!, true)];
    const results = await race(contestants, workers, options, log);
    return {
      graph: options.graph,
      weightsFrom: options.weightsFrom,
      target: options.target,
      evalEvery: options.evalEvery,
      maxSteps: options.maxSteps,
      batch: schedule.batch,
      plannedSteps: schedule.plannedSteps,
      lr: schedule.lr,
      lrSchedule: schedule.lrSchedule,
      ...(options.spec.task?.train?.clipNorm !== undefined ? { clipNorm: options.spec.task.train.clipNorm } : {}),
      agreement,
      tuning,
      contestants: results,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await rm(dir, { recursive: true, force: true });
  }
}

/** The contestants take turns a segment at a time until each has reached the target or `maxSteps`. */
async function race(contestants: readonly Contestant[], workers: readonly TorchWorker[], options: AccuracyRaceOptions, log: (line: string) => void): Promise<ContestantResult[]> {
  const state = contestants.map((c) => ({ c, step: 0, seconds: 0, result: { id: c.id, engine: c.engine, label: c.label, timeline: [] } as ContestantResult, done: false }));
  for (let turn = 0; state.some((s) => !s.done); turn++) {
    // Each turn starts with the next contestant, so none always runs first after the evaluations.
    for (let k = 0; k < state.length; k++) {
      const s = state[(k + turn) % state.length];
      if (s.done) continue;
      const count = Math.min(options.evalEvery, options.maxSteps - s.step);
      const segment = await timedAlone(workers, s.c.worker, () => s.c.steps(s.step + 1, count));
      s.step += count;
      s.seconds += segment.seconds;
      const test = await s.c.evaluate();
      const point: RacePoint = { step: s.step, seconds: s.seconds, accuracy: test.accuracy, testSweeps: test.sweeps, loss: mean(segment.losses), sweeps: mean(segment.sweeps), adjointSteps: mean(segment.adjointSteps) };
      s.result.timeline.push(point);
      log(`bench to-accuracy: ${s.c.id}: step ${s.step}, ${s.seconds.toFixed(1)} s training, test accuracy ${(100 * test.accuracy).toFixed(2)}%, loss ${point.loss.toFixed(4)}, sweeps ${point.sweeps.toFixed(1)}/${point.adjointSteps.toFixed(1)}`);
      if (test.accuracy >= options.target) s.result.reached = { step: s.step, seconds: s.seconds, accuracy: test.accuracy };
      s.done = s.result.reached !== undefined || s.step >= options.maxSteps;
    }
  }
  return state.map((s) => s.result);
}

/** twnn train's batches and learning rates for the spec's task.train (seed 0). */
function scheduleOf(spec: ModelSpec, train: Dataset): Schedule {
  const t = spec.task?.train ?? {};
  const batch = t.batch ?? TRAIN_FALLBACKS.batch;
  const config = { lr: t.lr ?? TRAIN_FALLBACKS.lr, lrSchedule: t.lrSchedule ?? TRAIN_FALLBACKS.lrSchedule };
  const size = datasetSize(train);
  const perEpoch = batchCount(size, batch);
  const plannedSteps = (t.epochs ?? TRAIN_FALLBACKS.epochs) * perEpoch;
  const orders = new Map<number, Uint32Array>();
  return {
    batch,
    plannedSteps,
    ...config,
    rowsOf(step) {
      const epoch = Math.floor((step - 1) / perEpoch);
      if (!orders.has(epoch)) orders.set(epoch, shuffledOrder(size, TRAIN_FALLBACKS.seed, epoch));
      return batchRows(orders.get(epoch)!, (step - 1) % perEpoch, batch);
    },
    lrOf: (step) => learningRate(config, step, plannedSteps),
  };
}

/** twnn's side with one setting: train.onnx steps from the initial weights, evaluations through model.onnx. */
function twnnContestant(options: AccuracyRaceOptions, variant: SolverVariant, schedule: Schedule): Contestant {
  const build = { ...(options.weights ? { weights: options.weights } : {}), regionOverrides: variant.overrides };
  const trainGraph = buildTrainGraph(options.spec, build);
  const trainBytes = serializeModel(trainGraph.graph);
  const feeds = firstStepFeeds(trainGraph, takeBatch(options.train, schedule.rowsOf(1)));
  const where = `${options.graph} (${variant.id})`;
  return {
    id: `twnn ${variant.id}`,
    engine: 'twnn',
    label: variant.label,
    async steps(from, count) {
      const session = await openSession(trainBytes, { where: `${where} train.onnx` });
      try {
        // One untimed warm-up run on the first step's feeds (its outputs are dropped): a training run keeps one session.
        await session.run(stepFeeds(feeds, options.train, schedule, from));
        const segment: Segment = { seconds: 0, losses: [], sweeps: [], adjointSteps: [] };
        for (let step = from; step < from + count; step++) {
          const start = performance.now();
          const out = await session.run(stepFeeds(feeds, options.train, schedule, step));
          takeNewValues(feeds, out);
          segment.seconds += (performance.now() - start) / 1000;
          const loss = out.loss.get(0);
          if (!Number.isFinite(loss)) throw new TwnnError(`bench to-accuracy: ${where}: the loss is ${loss} at step ${step}`);
          segment.losses.push(loss);
          segment.sweeps.push(out.iterations ? mean(out.iterations.toNumbers()) : 0);
          segment.adjointSteps.push(out.iterations_backward ? mean(out.iterations_backward.toNumbers()) : 0);
        }
        return segment;
      } finally {
        await session.close();
      }
    },
    async evaluate() {
      const weights = new Map(trainGraph.params.map((p) => [p.name, feeds[p.name]]));
      const model = serializeModel(buildInferenceGraph(options.spec, { weights, regionOverrides: variant.overrides }).graph);
      const session = await openSession(model, { where: `${where} model.onnx` });
      try {
        const result = await evaluate(session, options.test, 'cross_entropy', options.evalBatch);
        if (result.accuracy === undefined) throw new TwnnError(`bench to-accuracy: ${where}: the evaluation gave no accuracy (is the task a classification?)`);
        return { accuracy: result.accuracy, sweeps: result.iterationsMean ?? 0 };
      } finally {
        await session.close();
      }
    },
  };
}

/** train.onnx's feeds for `step`: its batch, lr and step number beside the current weights and optimizer state. */
function stepFeeds(feeds: Record<string, Tensor>, data: Dataset, schedule: Schedule, step: number): Record<string, Tensor> {
  const { x, target } = takeBatch(data, schedule.rowsOf(step));
  return { ...feeds, x, target, lr: Tensor.scalar(schedule.lrOf(step), feeds.lr.dtype), step: Tensor.fromNumbers('int64', [], [step]) };
}

/** Each worker's twin of the spec from the same initial weights, with the train and test splits loaded. */
async function loadTwins(options: AccuracyRaceOptions, workers: readonly TorchWorker[], dir: string): Promise<{ key: string; workers: readonly TorchWorker[] }> {
  const build = options.weights ? { weights: options.weights } : {};
  const built = buildInferenceGraph(options.spec, build);
  const trainGraph = buildTrainGraph(options.spec, build);
  const modelPath = join(dir, 'model.onnx');
  await writeFile(modelPath, serializeModel(built.graph));
  for (const [split, data] of [['train', options.train], ['test', options.test]] as const) {
    await writeFile(join(dir, `${split}.x.npy`), writeNpy(data.x));
    await writeFile(join(dir, `${split}.target.npy`), writeNpy(data.target));
  }
  const load = { cmd: 'load', key: 'race', model: modelPath, arch: describeForTorch(options.spec, built.graph, built.params), loss: trainGraph.loss, optimizer: trainGraph.optimizer };
  for (const w of workers) {
    await w.call(load);
    for (const split of ['train', 'test']) for (const part of ['x', 'target']) await w.call({ cmd: 'data', key: `${split}.${part}`, path: join(dir, `${split}.${part}.npy`) });
  }
  return { key: 'race', workers };
}

/** The twin's side with one setting; `reset` starts it again from the initial weights at its first segment. */
function torchContestant(options: AccuracyRaceOptions, twins: Awaited<ReturnType<typeof loadTwins>>, setting: TorchSetting, schedule: Schedule, dir: string, reset: boolean): Contestant {
  const worker = twins.workers.find((w) => w.label === setting.openblas);
  if (!worker) throw new TwnnError(`bench to-accuracy: no torch worker with ${setting.openblas}`);
  let fresh = reset;
  return {
    id: `torch ${setting.mode}`,
    engine: 'torch',
    label: `PyTorch twin, ${setting.mode} sweeps, ${describeSetting(setting)}`,
    worker,
    async steps(from, count) {
      const steps = [...Array(count).keys()].map((k) => from + k);
      const rows = steps.map((s) => schedule.rowsOf(s));
      const file = join(dir, `rows-${from}.npy`);
      await writeFile(file, writeNpy(Tensor.fromNumbers('int64', [rows.reduce((n, r) => n + r.length, 0)], rows.flatMap((r) => [...r]))));
      const reply = await worker.call({
        cmd: 'train_steps',
        model: twins.key,
        x: 'train.x',
        target: 'train.target',
        rows: file,
        sizes: rows.map((r) => r.length),
        lrs: steps.map((s) => schedule.lrOf(s)),
        threads: setting.threads,
        mode: setting.mode,
        reset: fresh,
      });
      fresh = false;
      return { seconds: reply.seconds as number, losses: reply.losses as number[], sweeps: reply.sweeps as number[], adjointSteps: reply.adjointSteps as number[] };
    },
    async evaluate() {
      const reply = await worker.call({ cmd: 'evaluate', model: twins.key, x: 'test.x', target: 'test.target', batch: options.evalBatch, threads: setting.threads, mode: setting.mode });
      return { accuracy: reply.accuracy as number, sweeps: reply.sweeps as number };
    },
  };
}
