// Training a model spec through its exported train.onnx (docs/DESIGN.md §4): one
// optimizer step per session run, parameters, optimizer state and buffers fed
// in and read back out (onnxruntime-node has no training API and no device
// binding), metrics as JSON lines, atomic checkpoints, exact resume.
//
// Resume is exact because everything a step depends on is in the checkpoint
// or recomputed from it: the tensors byte for byte, the global step (Adam's
// bias correction), and the epoch's example order, which is a function of
// (seed, epoch) alone (`shuffledOrder`), so a run skips the `position` batches
// it already did and carries on with the same batches in the same order.
import { join } from 'node:path';
import { batchCount, batchRows, datasetSize, shuffledOrder, takeBatch, type Dataset } from '../data/batches.js';
import { loadTaskData } from '../data/datasets.js';
import { TwnnError } from '../common/errors.js';
import { Tensor } from '../ir/tensor.js';
import { reweightExport, stageExport, writeExport, type ExportResult } from '../lower/artifacts.js';
import { MANIFEST_FILE, MODEL_FILE, SPECTRAL_FILE, TRAIN_FILE } from '../contract/files.js';
import { fileEntry, manifestText, type Manifest } from '../contract/manifest.js';
import { writeFilesAtomic } from '../common/files.js';
import { parseModel } from '../onnx/load.js';
import type { OnnxTypes } from '../onnx/proto.js';
import { withInitializers } from '../onnx/reweight.js';
import type { OptimizerConfig } from '../autodiff/optimizers.js';
import { taskLoss } from '../lower/training.js';
import type { ModelSpec } from '../twnn/spec.js';
import type { LossKind, TrainDefaults } from '../twnn/task.js';
import { positiveInteger } from '../common/checks.js';
import { EVAL_BATCH, lrSchedule, optimizerKind, TRAIN_FALLBACKS, type LrSchedule, type OptimizerKind } from '../common/training.js';
import { CHECKPOINT_FILE, loadCheckpoint, saveCheckpoint, type TrainConfig, type TrainPosition } from './checkpoint.js';
import { checkResumed, feedsOf, initialTensors, takeUpdates, trainingLayout, weightsOf, type TrainingLayout, type TrainTensors } from './train-tensors.js';
import { assertDeviceAvailable, parseDevice, type Device } from './device.js';
import { addUnsettled, checkSettled, iteratorLimits, unsettledSamples, type UnsettledSamples } from './guard.js';
import { checkLabels, evaluate, meanOf, MetricsLog, type EvalResult } from './metrics.js';
import { openSession, type TwnnSession } from './session.js';
import { spectralSummary, type SpectralSummary } from './spectral.js';
import { withFolderLock } from '../common/folder-lock.js';

export const METRICS_FILE = 'metrics.jsonl';

export interface TrainOptions {
  spec: ModelSpec;
  /** Export folder: the model's files, metrics.jsonl and the checkpoint go here. */
  outDir: string;
  epochs?: number;
  batch?: number;
  lr?: number;
  lrSchedule?: LrSchedule;
  optimizer?: OptimizerKind;
  /** Seeds both the parameter initialisation and the shuffling. */
  seed?: number;
  dtype?: 'float32' | 'float64';
  /** `cpu` (default), `cuda`, `cuda:N`. */
  device?: Device | string;
  /** Continue from `<outDir>/checkpoint.twnn`. */
  resume?: boolean;
  /** Also write a checkpoint every this many steps (one is always written at each epoch's end and at the end). */
  checkpointEvery?: number;
  /** Stop after this many optimizer steps in all (counting those before a resume). */
  limitSteps?: number;
  /** Rows per evaluation run (default 256). */
  evalBatch?: number;
  /**
   * Also export spectral.onnx and, after each epoch, estimate each region's
   * spectral radius of dF/dS on the first SPECTRAL_SAMPLES test samples with
   * the epoch's weights: metrics.jsonl's `spectral_radius` (default false).
   */
  spectral?: boolean;
  /** Replace the spec's data set (tests). */
  data?: { train: Dataset; test: Dataset };
  onProgress?: (event: TrainEvent) => void;
}

/** What the trainer reports while it runs. */
export type TrainEvent =
  | {
      kind: 'start';
      config: TrainConfig;
      batchesPerEpoch: number;
      totalSteps: number;
      resumedAtStep?: number;
      /** A resumed run that did not ask for a dtype: `config.dtype` is the checkpoint's. */
      dtypeFromCheckpoint?: boolean;
      trainSize: number;
      testSize: number;
    }
  /** Something the user should know that does not stop the run: an lr far above the usual range, a loss that grows. */
  | { kind: 'warning'; message: string }
  | {
      kind: 'step';
      epoch: number;
      epochs: number;
      position: number;
      batchesPerEpoch: number;
      step: number;
      totalSteps: number;
      lr: number;
      loss: number;
      iterations: number;
      iterationsBackward: number;
      /** Samples of the batch that ran out of sweeps unsettled in some region. */
      unsettled: number;
      /** Averaged over this session's steps (metrics.jsonl has each step's own rate). */
      samplesPerSecond: number;
      /** Seconds left at this session's average step time. */
      etaSeconds: number;
    }
  | { kind: 'epoch'; epoch: number; epochs: number; step: number; trainLoss: number; test: EvalResult; seconds: number; spectral?: SpectralSummary[] }
  | { kind: 'checkpoint'; step: number; path: string };

export interface TrainResult {
  config: TrainConfig;
  loss: LossKind;
  steps: number;
  /** Epochs run, fractional when the run stopped mid-epoch (`limitSteps`). */
  epochsRun: number;
  /** Mean training loss of the last epoch (or of the steps run in the last, unfinished one). */
  trainLoss: number;
  /** The final weights on the test split. */
  test: EvalResult;
  /** Training seconds per full epoch (steps only, evaluations excluded). */
  secondsPerEpoch: number;
  /** Files written, with model.onnx holding the trained weights. */
  files: string[];
  params: Map<string, Tensor>;
  buffers: Map<string, Tensor>;
}

/**
 * Train `spec` on its task's data (or `options.data`), writing the export,
 * metrics.jsonl and checkpoints into `outDir` and, at the end, the trained
 * weights into model.onnx. Samples that run out of sweeps unsettled are
 * counted in metrics.jsonl; in a region whose iterate.onMaxIter is 'error'
 * they stop the run (a TwnnError naming the region, epoch and step), in a
 * training batch or in an evaluation.
 *
 * @example
 * const result = await train({ spec: sineMlp, outDir: 'exported/sine-mlp', epochs: 2, seed: 0 });
 * console.log(result.test.loss);
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  // One writer per folder: a second run into it is refused while this one lives.
  return withFolderLock(options.outDir, 'train', () => trainUnlocked(options));
}

async function trainUnlocked(options: TrainOptions): Promise<TrainResult> {
  const run = await startRun(options);
  await runSteps(run);
  return finishRun(run);
}

/** Everything one training run carries from its start to its end (another engine's steps go between `startRun` and `finishRun`: src/runtime/torch/ddp.ts). */
export interface Run {
  options: TrainOptions;
  spec: ModelSpec;
  outDir: string;
  device: Device;
  config: TrainConfig;
  loss: LossKind;
  evalBatch: number;
  checkpointPath: string;
  resumed: boolean;
  /** The one export of the run; its model.onnx is rewritten with the trained weights at the end. */
  exported: ExportResult;
  /** model.onnx as exported: each evaluation and the final file swap in the current weights. */
  model: OnnxTypes.IModelProto;
  layout: TrainingLayout;
  regions: ReturnType<typeof iteratorLimits>;
  data: { train: Dataset; test: Dataset };
  tensors: TrainTensors;
  position: TrainPosition;
  trainSize: number;
  batchesPerEpoch: number;
  totalSteps: number;
  metrics: MetricsLog;
  emit: (event: TrainEvent) => void;
  /** The step of the last checkpoint written (-1: none yet). */
  checkpointedAt: number;
  lastTest?: { step: number; result: EvalResult };
}

/**
 * Settings, the export, the data and the starting tensors (fresh or from the checkpoint).
 *
 * @example const run = await startRun({ spec, outDir }); // run.tensors, run.position, run.totalSteps
 */
export async function startRun(options: TrainOptions): Promise<Run> {
  const { spec, outDir } = options;
  const device = typeof options.device === 'string' ? parseDevice(options.device) : (options.device ?? { kind: 'cpu' as const });
  // Fail before the (slow) export and data loading.
  assertDeviceAvailable(device);
  const task = spec.task ?? {};
  if (!options.data && !task.data) {
    throw new TwnnError(`model '${spec.name}' has no task.data, so twnn does not know what to train it on; add e.g. task: { data: { kind: 'sine', window: 16 } }`);
  }
  const loss = taskLoss(spec);
  const checkpointPath = join(outDir, CHECKPOINT_FILE);
  const modelPath = join(outDir, MODEL_FILE);
  const resumed = options.resume ? await loadCheckpoint(checkpointPath) : undefined;
  const config = resolveConfig(options, task.train ?? {}, resumed?.config, checkpointPath);
  if (options.checkpointEvery !== undefined) positiveInteger(options.checkpointEvery, 'checkpointEvery');
  if (options.limitSteps !== undefined) positiveInteger(options.limitSteps, 'limitSteps');

  // Everything is built and checked before anything is written: a rejected
  // checkpoint, a bad label or a killed process leaves the folder's last export as it was.
  const staged = stageExport(spec, { dtype: config.dtype, seed: config.seed, optimizer: optimizerConfig(config), spectral: options.spectral ?? false });
  const manifest = staged.manifest;
  const layout = trainingLayout(manifest);
  const data = options.data ?? {
    train: await loadTaskData(task.data!, 'train', config.dtype),
    test: await loadTaskData(task.data!, 'test', config.dtype),
  };
  if (loss === 'cross_entropy') {
    // Before any step, export or checkpoint of the run: a bad label would otherwise stop it an epoch in.
    const classes = manifest.outputs.find((o) => o.name === 'y')?.shape[1];
    if (typeof classes === 'number') for (const split of [data.train, data.test]) checkLabels(split, classes);
  }
  const model = parseModel(staged.files.find(([name]) => name === MODEL_FILE)![1], modelPath);
  const tensors = resumed ? checkResumed(resumed, layout, checkpointPath) : initialTensors(model, modelPath, layout);
  const position: TrainPosition = resumed ? { ...resumed.position } : { epoch: 0, position: 0, step: 0, epochLossSum: 0, epochSamples: 0, epochUnsettled: 0, seconds: 0, lastTrainLoss: null };
  const trainSize = datasetSize(data.train);
  const batchesPerEpoch = batchCount(trainSize, config.batch);
  if (resumed) checkPosition(position, batchesPerEpoch, checkpointPath);
  // A resumed run's export holds the checkpoint's weights from the start: killed before its end, it leaves them, not untrained ones.
  const exported = await writeExport(resumed ? reweightExport(staged, model, weightsOf(tensors), modelPath) : staged, outDir);
  const totalSteps = Math.min(config.epochs * batchesPerEpoch, options.limitSteps ?? Infinity);
  const metrics = new MetricsLog(join(outDir, METRICS_FILE));
  await metrics.start(resumed ? position.step : undefined);
  const emit = options.onProgress ?? (() => {});
  emit({
    kind: 'start', config, batchesPerEpoch, totalSteps, trainSize, testSize: datasetSize(data.test),
    ...(resumed ? { resumedAtStep: position.step, dtypeFromCheckpoint: options.dtype === undefined } : {}),
  });
  const lrTooLarge = lrWarning(config);
  if (lrTooLarge) emit({ kind: 'warning', message: lrTooLarge });
  return {
    options, spec, outDir, device, config, loss, evalBatch: options.evalBatch ?? EVAL_BATCH, checkpointPath, resumed: resumed !== undefined,
    exported, model, layout, regions: iteratorLimits(manifest.iterators), data, tensors, position,
    trainSize, batchesPerEpoch, totalSteps, metrics, emit, checkpointedAt: -1,
  };
}

/** This session's pace, for the progress events' rate and ETA, and its losses, watched for growth. */
interface SessionClock {
  seconds: number;
  steps: number;
  samples: number;
  losses: LossWatch;
}

/** The optimizer steps, one train.onnx run each, with an evaluation and a checkpoint after every epoch. */
async function runSteps(run: Run): Promise<void> {
  const { config, position } = run;
  const session = await openSession(join(run.outDir, TRAIN_FILE), { device: run.device });
  try {
    const lrType = inputType(session, 'lr', config.dtype);
    const clock: SessionClock = { seconds: 0, steps: 0, samples: 0, losses: new LossWatch() };
    let order: Uint32Array | undefined;
    while (position.step < run.totalSteps && position.epoch < config.epochs) {
      order ??= shuffledOrder(run.trainSize, config.seed, position.epoch);
      await trainStep(run, session, order, lrType, clock);
      if (position.position === run.batchesPerEpoch) {
        await endEpoch(run);
        order = undefined;
      } else if (run.options.checkpointEvery && position.step % run.options.checkpointEvery === 0) {
        await checkpoint(run);
      }
    }
  } finally {
    await session.close();
  }
}

/**
 * A step whose loss is NaN or infinite: training stops there, and `step` (the
 * optimizer step, counted from 1) and `loss` say where, so a runner can record
 * the divergence instead of retrying it.
 *
 * @example try { await train(options); } catch (err) { if (err instanceof TrainingDivergedError) console.log(`diverged at step ${err.step}`); }
 */
export class TrainingDivergedError extends TwnnError {
  constructor(readonly step: number, readonly loss: number, message: string) {
    super(message);
  }
}

/** One optimizer step on the batch at the run's position: the new tensors, metrics.jsonl's step line, a progress event. */
async function trainStep(run: Run, session: TwnnSession, order: Uint32Array, lrType: 'float32' | 'float64', clock: SessionClock): Promise<void> {
  const { config, position } = run;
  const started = performance.now();
  const rows = batchRows(order, position.position, config.batch);
  const { x, target } = takeBatch(run.data.train, rows);
  const lr = learningRate(config, position.step + 1, config.epochs * run.batchesPerEpoch);
  const out = await session.run({ x, target, lr: Tensor.scalar(lr, lrType), step: Tensor.fromNumbers('int64', [], [position.step + 1]), ...feedsOf(run.tensors) });
  const stepLoss = out.loss.get(0);
  if (!Number.isFinite(stepLoss)) {
    throw new TrainingDivergedError(position.step + 1, stepLoss, `training diverged: the loss is ${stepLoss} at step ${position.step + 1} (epoch ${position.epoch + 1}); try a smaller --lr`);
  }
  takeUpdates(run.tensors, run.layout, out);
  const seconds = (performance.now() - started) / 1000;
  position.step += 1;
  position.position += 1;
  position.epochLossSum += stepLoss * rows.length;
  position.epochSamples += rows.length;
  position.seconds += seconds;
  clock.seconds += seconds;
  clock.steps += 1;
  clock.samples += rows.length;
  const iterations = meanOf(out.iterations);
  const iterationsBackward = meanOf(out.iterations_backward);
  const unsettled = out.unsettled ? out.unsettled.toNumbers().filter((n) => n > 0).length : 0;
  position.epochUnsettled = (position.epochUnsettled ?? 0) + unsettled;
  run.metrics.write({
    kind: 'step',
    epoch: position.epoch + 1,
    step: position.step,
    lr,
    loss: stepLoss,
    iterations,
    iterations_backward: iterationsBackward,
    unsettled,
    ...(out.jacobian_penalty ? { jacobian_penalty: out.jacobian_penalty.get(0) } : {}),
    ...(out.skip_cost ? { skip_cost: out.skip_cost.get(0) } : {}),
    ...(out.fp_correction ? { fp_correction: out.fp_correction.toNumbers() } : {}),
    samples_per_s: round(rows.length / Math.max(seconds, 1e-9)),
  });
  const growing = clock.losses.add(stepLoss, position.step);
  if (growing) run.emit({ kind: 'warning', message: growing });
  if (unsettled > 0) stopIfUnsettled(unsettledSamples(out, run.regions), (b) => rows[b], `${run.spec.name}: training step ${position.step} (epoch ${position.epoch + 1}; samples numbered in the training split)`);
  run.emit({
    kind: 'step',
    epoch: position.epoch + 1,
    epochs: config.epochs,
    position: position.position,
    batchesPerEpoch: run.batchesPerEpoch,
    step: position.step,
    totalSteps: run.totalSteps,
    lr,
    loss: stepLoss,
    iterations,
    iterationsBackward,
    unsettled,
    samplesPerSecond: clock.samples / Math.max(clock.seconds, 1e-9),
    etaSeconds: ((run.totalSteps - position.step) * clock.seconds) / clock.steps,
  });
}

/** An epoch's end: the test evaluation, metrics.jsonl's epoch line, the position moved on, a checkpoint. */
async function endEpoch(run: Run): Promise<void> {
  const { position } = run;
  const trainLoss = position.epochLossSum / position.epochSamples;
  const test = await evaluateWeights(run);
  const spectral = run.options.spectral ? await spectralOfWeights(run) : undefined;
  run.lastTest = { step: position.step, result: test };
  run.metrics.write({
    kind: 'epoch',
    epoch: position.epoch + 1,
    step: position.step,
    train_loss: trainLoss,
    test_loss: test.loss,
    ...(test.accuracy !== undefined ? { test_accuracy: test.accuracy } : {}),
    test_iterations: test.iterationsMean,
    unsettled: position.epochUnsettled ?? 0,
    test_unsettled: test.unsettled.reduce((n, u) => n + u.count, 0),
    ...(spectral ? { spectral_radius: Object.fromEntries(spectral.map((r) => [r.region, { mean: r.mean, max: r.max }])) } : {}),
    seconds: round(position.seconds),
  });
  run.emit({ kind: 'epoch', epoch: position.epoch + 1, epochs: run.config.epochs, step: position.step, trainLoss, test, seconds: position.seconds, ...(spectral ? { spectral } : {}) });
  const evaluated = `${run.spec.name}: the test evaluation after epoch ${position.epoch + 1}`;
  Object.assign(position, { epoch: position.epoch + 1, position: 0, epochLossSum: 0, epochSamples: 0, epochUnsettled: 0, lastTrainLoss: trainLoss });
  await checkpoint(run);
  // After the checkpoint: a run resumed with a larger maxIter (or a looser tol) keeps the epoch.
  checkSettled(test.unsettled, evaluated);
}

/**
 * The last checkpoint, model.onnx with the trained weights, and the final test evaluation (the last epoch's when it is current).
 *
 * @example const result = await finishRun(run); // result.test.loss
 */
export async function finishRun(run: Run): Promise<TrainResult> {
  const { config, position, tensors } = run;
  if (run.checkpointedAt !== position.step) await checkpoint(run);
  await writeTrainedModel(run);
  const test = run.lastTest?.step === position.step ? run.lastTest.result : await evaluateWeights(run);
  checkSettled(test.unsettled, `${run.spec.name}: the final test evaluation`);
  const trainLoss = position.epochSamples > 0 ? position.epochLossSum / position.epochSamples : (position.lastTrainLoss ?? NaN);
  const epochsRun = position.epoch + position.position / run.batchesPerEpoch;
  return {
    config,
    loss: run.loss,
    steps: position.step,
    epochsRun,
    trainLoss,
    test,
    secondsPerEpoch: epochsRun > 0 ? position.seconds / epochsRun : 0,
    files: [...run.exported.files, join(run.outDir, METRICS_FILE), run.checkpointPath],
    params: tensors.params,
    buffers: tensors.buffers,
  };
}

async function checkpoint(run: Run): Promise<void> {
  const { position } = run;
  run.checkpointedAt = position.step;
  await saveCheckpoint(run.checkpointPath, { config: run.config, position: { ...position }, shuffle: { seed: run.config.seed, epoch: position.epoch }, ...run.tensors });
  run.emit({ kind: 'checkpoint', step: position.step, path: run.checkpointPath });
}

/** The current weights on the test split, through model.onnx's graph as exported (never built again). */
async function evaluateWeights(run: Run): Promise<EvalResult> {
  const bytes = withInitializers(run.model, weightsOf(run.tensors), `${run.spec.name} (evaluation)`);
  const session = await openSession(bytes, { device: run.device, where: `${run.spec.name} (evaluation)` });
  try {
    return await evaluate(session, run.data.test, run.loss, run.evalBatch, run.regions);
  } finally {
    await session.close();
  }
}

/** Test samples `train --spectral` measures after each epoch: always the same ones, so epochs compare. */
export const SPECTRAL_SAMPLES = 256;

/** Each region's spectral radius with the current weights on the first SPECTRAL_SAMPLES test samples (spectral.onnx takes them as inputs). */
async function spectralOfWeights(run: Run): Promise<SpectralSummary[]> {
  const session = await openSession(join(run.outDir, SPECTRAL_FILE), { device: run.device, verify: false });
  try {
    const regions = run.regions.map((r) => r.region);
    return await spectralSummary(session, { data: run.data.test, samples: SPECTRAL_SAMPLES, batch: run.evalBatch, weights: weightsOf(run.tensors), regions });
  } finally {
    await session.close();
  }
}

/**
 * model.onnx with the trained weights, and the manifest's sha256 of it: the
 * files that exporting the spec again with these weights would write (the
 * other graphs take the parameters as inputs, so they do not change), both or neither.
 */
async function writeTrainedModel(run: Run): Promise<void> {
  const modelOnly = { files: [[MODEL_FILE, new Uint8Array()]] as [string, Uint8Array][], manifest: run.exported.manifest };
  await writeExport(reweightExport(modelOnly, run.model, weightsOf(run.tensors), join(run.outDir, MODEL_FILE)), run.outDir);
}

/**
 * A resumed position that this run's data can continue from: the batch within
 * the epoch exists, and the step count is the batches before it.
 */
function checkPosition(p: TrainPosition, batchesPerEpoch: number, where: string): void {
  if (p.position >= batchesPerEpoch || p.step !== p.epoch * batchesPerEpoch + p.position) {
    throw new TwnnError(
      `${where}: cannot resume: the checkpoint stands at epoch ${p.epoch + 1}, batch ${p.position + 1}, step ${p.step}, which does not fit ${batchesPerEpoch} batches per epoch (was the data set changed?)`,
    );
  }
}

/**
 * Learning rates far above the usual range, by optimizer: Adam and AdamW move
 * every weight by about lr per step whatever the gradient's scale (usual lr
 * 1e-5 to 1e-2), so above 0.1 a step is larger than an initialised weight
 * (±1/√fan_in); SGD's step is lr × the gradient (usual lr up to 1), so above 10.
 * Both limits are ten times the top of the usual range.
 */
const LR_WARN_ABOVE: Readonly<Record<OptimizerKind, number>> = { adam: 0.1, adamw: 0.1, sgd: 10 };

/**
 * The warning for an lr above `LR_WARN_ABOVE` for the run's optimizer, else undefined.
 *
 * @example lrWarning({ optimizer: 'adam', lr: 1000 }) // 'lr 1000 is far above the usual range for adam (warned above 0.1): ...'
 */
export function lrWarning(config: Pick<TrainConfig, 'optimizer' | 'lr'>): string | undefined {
  const limit = LR_WARN_ABOVE[config.optimizer as OptimizerKind];
  if (limit === undefined || config.lr <= limit) return undefined;
  return `lr ${config.lr} is far above the usual range for ${config.optimizer} (warned above ${limit}): the loss may grow instead of falling`;
}

/** How many of a session's latest steps the loss is averaged over, to tell growth from one batch's noise. */
const LOSS_WINDOW = 5;
/** Warn once when the latest LOSS_WINDOW steps' mean loss is this many times the session's first step's loss. */
const LOSS_GROWTH_WARN = 10;

/**
 * Watches a session's step losses and says, once, when the mean of the latest
 * LOSS_WINDOW steps has grown to LOSS_GROWTH_WARN times the loss of its first
 * step (the loss of the weights it started from): a run that diverges without
 * (yet) a non-finite loss, which stops it ("training diverged").
 *
 * @example const watch = new LossWatch(); for (const [i, loss] of losses.entries()) { const w = watch.add(loss, i + 1); if (w) console.warn(w); }
 */
export class LossWatch {
  private first: number | undefined;
  private readonly latest: number[] = [];
  private warned = false;

  /** The warning when step `step`'s loss completes the growth, else undefined. */
  add(loss: number, step: number): string | undefined {
    this.first ??= loss;
    this.latest.push(loss);
    if (this.latest.length > LOSS_WINDOW) this.latest.shift();
    if (this.warned || this.latest.length < LOSS_WINDOW) return undefined;
    const mean = this.latest.reduce((a, b) => a + b, 0) / LOSS_WINDOW;
    if (!(mean > LOSS_GROWTH_WARN * this.first)) return undefined;
    this.warned = true;
    return `the loss grew from ${this.first.toPrecision(3)} to ${mean.toPrecision(3)} (mean of steps ${step - LOSS_WINDOW + 1}-${step}): training is diverging; try a smaller --lr`;
  }
}

/**
 * Throw for 'error' regions with unsettled samples of a training batch, the
 * batch rows turned into the data set's indices by `indexOf`.
 */
function stopIfUnsettled(found: readonly UnsettledSamples[], indexOf: (row: number) => number, where: string): void {
  const inDataset: UnsettledSamples[] = [];
  addUnsettled(inDataset, found, indexOf);
  checkSettled(inDataset, where);
}

/**
 * The run's settings: the caller's, else (when resuming) the checkpoint's,
 * else the spec's `task.train`, else TRAIN_FALLBACKS. A resumed run must keep
 * everything that shapes its trajectory; only the epoch count may grow.
 */
function resolveConfig(options: TrainOptions, defaults: TrainDefaults, saved: TrainConfig | undefined, where: string): TrainConfig {
  const pick = <K extends 'epochs' | 'batch' | 'lr' | 'lrSchedule' | 'optimizer' | 'seed'>(key: K) =>
    (options[key] ?? saved?.[key] ?? (key === 'seed' ? undefined : defaults[key as Exclude<K, 'seed'>]) ?? TRAIN_FALLBACKS[key]) as TrainConfig[K];
  const hyper: Record<string, unknown> = {};
  for (const key of ['momentum', 'weightDecay', 'betas', 'eps', 'clipNorm'] as const) if (defaults[key] !== undefined) hyper[key] = defaults[key];
  const config: TrainConfig = {
    model: options.spec.name,
    dtype: options.dtype ?? saved?.dtype ?? 'float32',
    epochs: positiveInteger(pick('epochs'), 'epochs'),
    batch: positiveInteger(pick('batch'), 'batch'),
    lr: pick('lr'),
    lrSchedule: pick('lrSchedule'),
    optimizer: pick('optimizer'),
    hyper,
    seed: pick('seed'),
  };
  if (!(config.lr > 0) || !Number.isFinite(config.lr)) throw new TwnnError(`lr must be a positive number, got ${config.lr}`);
  lrSchedule(config.lrSchedule, 'lrSchedule');
  optimizerKind(config.optimizer, 'optimizer');
  if (saved) {
    for (const key of ['model', 'dtype', 'batch', 'lr', 'lrSchedule', 'optimizer', 'seed', 'hyper'] as const) {
      const a = JSON.stringify(saved[key]);
      const b = JSON.stringify(config[key]);
      if (a !== b) throw new TwnnError(`${where}: cannot resume: the checkpoint was written with ${key} ${a}, this run asks for ${b} (resuming continues the same run)`);
    }
  }
  return config;
}

/**
 * The learning rate of step `step` (1-based) of a run planned for `planned`
 * steps (epochs × batches per epoch, whatever `limitSteps` cuts off, so a
 * limited or resumed run follows the same schedule): `constant` is `lr`;
 * `cosine` is `lr · ½(1 + cos(π (step − 1) / planned))`, from `lr` at the first
 * step towards 0 at the end (torch's CosineAnnealingLR with eta_min 0, stepped per batch).
 *
 * @example learningRate({ lr: 0.002, lrSchedule: 'cosine' }, 1, 100) // 0.002
 */
export function learningRate(config: Pick<TrainConfig, 'lr' | 'lrSchedule'>, step: number, planned: number): number {
  if (config.lrSchedule === 'constant') return config.lr;
  return config.lr * 0.5 * (1 + Math.cos((Math.PI * (step - 1)) / planned));
}

/** The optimizer settings exportModel bakes into train.onnx (what is not given comes from the spec's task.train). */
function optimizerConfig(config: TrainConfig): OptimizerConfig {
  return { kind: config.optimizer as OptimizerKind, lr: config.lr, ...config.hyper };
}

function inputType(session: TwnnSession, name: string, fallback: 'float32' | 'float64'): 'float32' | 'float64' {
  const type = session.input(name)?.type;
  return type === 'float32' || type === 'float64' ? type : fallback;
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
