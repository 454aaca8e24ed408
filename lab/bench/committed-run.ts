// A committed run (docs/DESIGN.md §6): git keeps a paper run's model.onnx,
// manifest.json and metrics.jsonl, not its checkpoint, so what the checkpoint
// said is read back from those three.
//
// Settings: model, dtype, seed and the optimizer baked into train.onnx are the
// manifest's. The lr each step was fed gives the schedule: constant when every
// step had the manifest's lr, else cosine, lr·½(1 + cos(π(step − 1)/planned)),
// which solved for `planned` at one step gives the planned steps, hence epochs.
// Position: every step and every epoch's end is logged; an epoch record's
// `seconds` is the trainer's clock so far, and a later step took rows/samples_per_s.
// The batch size is logged nowhere: it is a b with ceil(N/b) = the steps of
// epoch 1, and of those the one whose row-weighted mean of epoch 1's step
// losses is the train_loss logged at its end (the trainer's own sum replayed
// in its order, so the right b matches to the last bit).
import { FormatError, TwnnError } from '../../src/common/errors.js';
import type { Manifest } from '../../src/contract/manifest.js';
import type { TrainConfig, TrainPosition } from '../../src/runtime/checkpoint.js';
import type { MetricsRecord } from '../../src/runtime/metrics.js';
import type { DataSpec } from '../../src/twnn/task.js';

type StepRecord = Extract<MetricsRecord, { kind: 'step' }>;
type EpochRecord = Extract<MetricsRecord, { kind: 'epoch' }>;

const TRAIN_SIZES: Readonly<Record<string, number>> = { mnist: 60000, 'fashion-mnist': 60000, cifar10: 50000 };
/** Below this fraction of the base lr, cos⁻¹ is too steep to solve for the planned steps. */
const COSINE_SOLVABLE = 0.05;

/**
 * Examples per epoch of a task's whole training split; undefined where that is
 * not fixed (sine windows).
 *
 * @example defaultTrainSize({ kind: 'mnist', layout: 'flat' }) // 60000
 */
export function defaultTrainSize(data: DataSpec): number | undefined {
  return TRAIN_SIZES[data.kind];
}

export interface CommittedTrainingOptions {
  /** Training examples per epoch; without it the batch size must come from `batchHint`. */
  trainSize?: number;
  /** The batch size the run's command or graph file asks for: needed when no epoch finished, a tie-break otherwise. */
  batchHint?: number;
  /** Names the run in errors, e.g. `run 'mnist-mlp' (exported/paper/mnist-mlp/metrics.jsonl)`. */
  where: string;
}

/**
 * The settings and final position a committed run's checkpoint held, from its
 * manifest and its metrics records. `hyper` holds every optimizer setting the
 * export resolved (the checkpoint keeps only those the graph file set); with a
 * constant lr, `epochs` counts the epochs begun (one cut short by --limit-steps
 * may have planned more).
 *
 * @example const { config, position } = committedTraining(manifest, readMetrics(path), { trainSize: 60000, where: path });
 */
export function committedTraining(manifest: Manifest, metrics: readonly MetricsRecord[], options: CommittedTrainingOptions): { config: TrainConfig; position: TrainPosition } {
  const { where } = options;
  const steps = metrics.filter((r): r is StepRecord => r.kind === 'step');
  const epochs = metrics.filter((r): r is EpochRecord => r.kind === 'epoch');
  if (steps.length === 0) throw new FormatError(`${where}: no training step is logged`);
  steps.forEach((r, i) => {
    if (r.step !== i + 1) throw new FormatError(`${where}: the step records should count 1, 2, 3, ...; record ${i + 1} is step ${r.step}`);
  });
  const { kind: optimizer, lr, ...hyper } = manifest.training.optimizer;
  if (steps[0].lr !== lr) throw new FormatError(`${where}: step 1 was fed lr ${steps[0].lr}, but manifest.json's optimizer has lr ${lr}`);
  const dtype = manifest.dtype;
  if (dtype !== 'float32' && dtype !== 'float64') throw new FormatError(`${where}: manifest.json's dtype is ${dtype}, a trainer runs float32 or float64`);
  const perEpoch = stepsPerEpoch(epochs, steps.length, where);
  const batch = batchSize(steps, epochs[0], perEpoch, options);
  const position = positionOf(steps, epochs.at(-1), batch, options.trainSize);
  const lrSchedule = steps.every((r) => r.lr === lr) ? 'constant' : 'cosine';
  const begun = Math.max(1, position.epoch + (position.position > 0 ? 1 : 0));
  const planned = lrSchedule === 'cosine' ? cosinePlannedSteps(steps, lr) : undefined;
  const per = perEpoch ?? (options.trainSize !== undefined ? Math.ceil(options.trainSize / batch) : undefined);
  const plannedEpochs = planned !== undefined && per !== undefined ? Math.max(begun, Math.round(planned / per)) : begun;
  return {
    config: { model: manifest.name, dtype, epochs: plannedEpochs, batch, lr, lrSchedule, optimizer, hyper, seed: manifest.seed },
    position,
  };
}

/** Steps of one epoch, from the epoch records (every epoch has as many); undefined before the first ends. */
function stepsPerEpoch(epochs: readonly EpochRecord[], lastStep: number, where: string): number | undefined {
  if (epochs.length === 0) return undefined;
  const per = epochs[0].step;
  for (const [i, r] of epochs.entries()) {
    if (r.epoch !== i + 1 || r.step !== (i + 1) * per || r.step > lastStep) {
      throw new FormatError(`${where}: epoch record ${i + 1} is epoch ${r.epoch} ending at step ${r.step}; with epoch 1 ending at step ${per} (and ${lastStep} steps logged) it should be epoch ${i + 1} ending at step ${(i + 1) * per}`);
    }
  }
  return per;
}

function batchSize(steps: readonly StepRecord[], first: EpochRecord | undefined, perEpoch: number | undefined, o: CommittedTrainingOptions): number {
  const n = o.trainSize;
  const hint = o.batchHint;
  if (first === undefined || perEpoch === undefined || n === undefined) {
    if (hint !== undefined) return hint;
    const why = first === undefined ? 'no epoch finished' : "the training set's size is not known";
    throw new TwnnError(`${o.where}: ${why}, so the batch size cannot be told from metrics.jsonl; give the run its graph file ('graph'), whose task.train.batch is then taken`);
  }
  // One step takes every row whatever the batch: only the hint can say more.
  if (perEpoch === 1) return hint !== undefined && hint >= n ? hint : n;
  const lo = Math.ceil(n / perEpoch);
  const hi = Math.floor((n - 1) / (perEpoch - 1));
  const epochSteps = steps.slice(0, perEpoch);
  const fits: number[] = [];
  for (let b = lo; b <= hi; b++) {
    const loss = replayTrainLoss(epochSteps, b, n);
    if (Math.abs(loss - first.train_loss) <= 1e-12 * Math.abs(first.train_loss)) fits.push(b);
  }
  if (fits.length === 0) {
    throw new FormatError(
      `${o.where}: no batch size splits ${n} training examples into epoch 1's ${perEpoch} steps with the train_loss it logged (${first.train_loss}); ` +
        `is ${n} the size of the run's training set?`,
    );
  }
  return hint !== undefined && fits.includes(hint) ? hint : fits[0];
}

/** The trainer's epoch train_loss for batch size `b`: each step's loss weighted by its rows (the last batch keeps the remainder). */
function replayTrainLoss(epochSteps: readonly StepRecord[], b: number, n: number): number {
  let sum = 0;
  let samples = 0;
  for (const [i, r] of epochSteps.entries()) {
    const rows = Math.min(b, n - i * b);
    sum += r.loss * rows;
    samples += rows;
  }
  return sum / samples;
}

function positionOf(steps: readonly StepRecord[], last: EpochRecord | undefined, batch: number, n: number | undefined): TrainPosition {
  const after = steps.slice(last?.step ?? 0);
  let epochLossSum = 0;
  let epochSamples = 0;
  let epochUnsettled = 0;
  // Epoch records round seconds to the millisecond, samples_per_s to 3 decimals: a checkpoint's exact clock, to about that.
  let seconds = last?.seconds ?? 0;
  for (const [i, r] of after.entries()) {
    const rows = n === undefined ? batch : Math.max(1, Math.min(batch, n - i * batch));
    epochLossSum += r.loss * rows;
    epochSamples += rows;
    epochUnsettled += r.unsettled ?? 0;
    seconds += rows / r.samples_per_s;
  }
  return {
    epoch: last?.epoch ?? 0,
    position: after.length,
    step: steps.length,
    epochLossSum,
    epochSamples,
    epochUnsettled,
    seconds,
    lastTrainLoss: last?.train_loss ?? null,
  };
}

/** The planned steps of a cosine schedule, solved at the last step whose lr is still well above 0; undefined with a single step. */
function cosinePlannedSteps(steps: readonly StepRecord[], lr: number): number | undefined {
  const at = [...steps].reverse().find((r) => r.step >= 2 && r.lr >= COSINE_SOLVABLE * lr);
  if (!at) return undefined;
  const angle = Math.acos(Math.min(1, Math.max(-1, (2 * at.lr) / lr - 1)));
  return angle > 0 ? (Math.PI * (at.step - 1)) / angle : undefined;
}
