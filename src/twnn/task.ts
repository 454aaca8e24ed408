// A model's task: its loss, its data set and its training defaults, as written in
// a graph file's `defineModel({ task })`. Validated once, here, so the exporter,
// the data loaders and `twnn train` can trust every field.
import { SpecError, type Dim } from '../ir/index.js';
import { checkOptions, type KeysOf } from './options.js';
import { positiveInteger, show } from '../common/checks.js';
import { lrSchedule, optimizerKind, type LrSchedule, type OptimizerKind } from '../common/training.js';

/** The training loss. `mse`: the target is a float tensor shaped like `y`; `cross_entropy`: int64 class labels `[B]`. */
export type LossKind = 'mse' | 'cross_entropy';

/** Which data set feeds the model (docs/DESIGN.md §5). */
export type DataSpec =
  /** Windows of `window` samples of a sine wave of `length` samples (default 10000) predicting the next sample. */
  | { kind: 'sine'; window: number; length?: number }
  /** MNIST digits: `flat` is `[B, 784]`, `image` is `[B, 1, 28, 28]`. */
  | { kind: 'mnist'; layout: 'flat' | 'image' }
  /** CIFAR-10 images `[B, 3, 32, 32]` from the binary batches in `dir` (default `data/cifar-10-batches-bin`, relative to the working directory). */
  | { kind: 'cifar10'; dir?: string }
  /** Zalando's Fashion-MNIST: MNIST's shapes, from Debian's dataset-fashion-mnist (or `dir`, four gzipped IDX files). */
  | { kind: 'fashion-mnist'; layout: 'flat' | 'image'; dir?: string };

export { isOptimizerKind, OPTIMIZER_KINDS, type LrSchedule, type OptimizerKind } from '../common/training.js';

/** Training defaults; `twnn train` flags override them. Unset fields take torch.optim's defaults. */
export interface TrainDefaults {
  epochs?: number;
  batch?: number;
  /** Learning rate (fed to train.onnx as the `lr` input). */
  lr?: number;
  optimizer?: OptimizerKind;
  /** Learning-rate schedule fed step by step through train.onnx's `lr` input (default constant). */
  lrSchedule?: LrSchedule;
  /** SGD momentum (default 0: plain SGD). */
  momentum?: number;
  /** L2 penalty added to the gradient (sgd, adam) or decoupled decay (adamw, default 1e-2). */
  weightDecay?: number;
  /** Adam's (beta1, beta2), default [0.9, 0.999]. */
  betas?: [number, number];
  /** Adam's denominator term, default 1e-8. */
  eps?: number;
  /** Clip the gradients' global L2 norm to this value before each step (torch.nn.utils.clip_grad_norm_). */
  clipNorm?: number;
  /** Fixed-point correction (torchdeq's `fp_correction`): the loss applied to intermediate iterates too (src/lower/fp-correction.ts). */
  fpCorrection?: FixedPointCorrection;
}

/**
 * torchdeq's fixed-point correction: train.onnx also minimises the task loss
 * of `terms` intermediate iterates of every region, each through
 * `phantomSteps` sweeps from the detached iterate (a phantom gradient),
 * weighted like torchdeq's `exp` weights. Iterate k (1..terms) of a sample
 * that ran T sweeps is its iterate after max(1, floor(k·T/(terms+1)))
 * sweeps; the fixed point itself is the task loss, weight 1.
 */
export interface FixedPointCorrection {
  /** How many intermediate iterates get a loss term (torchdeq's `n_states` − 1: its last state, the fixed point, is the task loss). At least 1. */
  terms: number;
  /** Term k's weight is gamma^(terms+1−k) (torchdeq's exp weights with gamma, default 0.8): the latest iterate weighs most. In (0, 1]. */
  gamma?: number;
  /** Sweeps run from each detached iterate, differentiated (torchdeq's phantom `grad` steps, default 1). */
  phantomSteps?: number;
}

/** What a FixedPointCorrection leaves out, as torchdeq's defaults. */
export const FP_CORRECTION_DEFAULTS = { gamma: 0.8, phantomSteps: 1 } as const;

/** `defineModel`'s `task`. */
export interface TaskSpec {
  loss?: LossKind;
  data?: DataSpec;
  train?: TrainDefaults;
}

const LOSSES: readonly LossKind[] = ['mse', 'cross_entropy'];
/** The loss each data set's targets call for. */
const DATA_LOSS: Readonly<Record<DataSpec['kind'], LossKind>> = { sine: 'mse', mnist: 'cross_entropy', cifar10: 'cross_entropy', 'fashion-mnist': 'cross_entropy' };
const MNIST_SHAPES: Readonly<Record<'flat' | 'image', readonly number[]>> = { flat: [784], image: [1, 28, 28] };

/**
 * The loss a data set's targets call for.
 *
 * @example lossForData('cifar10') // 'cross_entropy'
 */
export function lossForData(kind: DataSpec['kind']): LossKind {
  return DATA_LOSS[kind];
}

/**
 * Check a `task` against its schema and against the model's input shape, and
 * return a frozen copy. Every failure is a SpecError naming the field.
 *
 * @example
 * const task = checkTask("model 'sine-mlp'", { loss: 'mse', data: { kind: 'sine', window: 16 } }, ['B', 16]);
 */
export function checkTask(where: string, task: unknown, inputShape: readonly Dim[]): Readonly<TaskSpec> {
  const at = `${where}: task`;
  const t = plainObject(at, task, TASK_KEYS);
  const out: TaskSpec = {};
  if (t.loss !== undefined) {
    if (!LOSSES.includes(t.loss as LossKind)) throw new SpecError(`${at}.loss must be ${LOSSES.map((l) => `'${l}'`).join(' or ')}, got ${show(t.loss)}`);
    out.loss = t.loss as LossKind;
  }
  if (t.data !== undefined) out.data = checkData(`${at}.data`, t.data, inputShape);
  if (t.train !== undefined) out.train = checkTrain(`${at}.train`, t.train);
  if (out.data && out.loss && DATA_LOSS[out.data.kind] !== out.loss) {
    throw new SpecError(`${at}: ${out.data.kind} data needs loss '${DATA_LOSS[out.data.kind]}', got '${out.loss}'`);
  }
  return Object.freeze(out);
}

function checkData(at: string, data: unknown, inputShape: readonly Dim[]): DataSpec {
  const kind = (data as { kind?: unknown } | null)?.kind;
  if (kind === 'sine') {
    const d = plainObject(at, data, DATA_KEYS.sine);
    const window = positiveInt(`${at}.window`, d.window);
    const length = d.length === undefined ? undefined : positiveInt(`${at}.length`, d.length);
    if (length !== undefined && length <= window) throw new SpecError(`${at}.length (${length}) must exceed the window (${window})`);
    expectShape(at, `sine windows of ${window}`, inputShape, [window]);
    return Object.freeze({ kind, window, ...(length !== undefined ? { length } : {}) });
  }
  if (kind === 'mnist') {
    const d = plainObject(at, data, DATA_KEYS.mnist);
    if (d.layout !== 'flat' && d.layout !== 'image') throw new SpecError(`${at}.layout must be 'flat' or 'image', got ${show(d.layout)}`);
    expectShape(at, `mnist '${d.layout}'`, inputShape, MNIST_SHAPES[d.layout]);
    return Object.freeze({ kind, layout: d.layout });
  }
  if (kind === 'fashion-mnist') {
    const d = plainObject(at, data, DATA_KEYS['fashion-mnist']);
    if (d.layout !== 'flat' && d.layout !== 'image') throw new SpecError(`${at}.layout must be 'flat' or 'image', got ${show(d.layout)}`);
    if (d.dir !== undefined && (typeof d.dir !== 'string' || d.dir === '')) throw new SpecError(`${at}.dir must be a non-empty string, got ${show(d.dir)}`);
    expectShape(at, `fashion-mnist '${d.layout}'`, inputShape, MNIST_SHAPES[d.layout]);
    return Object.freeze({ kind, layout: d.layout, ...(d.dir !== undefined ? { dir: d.dir as string } : {}) });
  }
  if (kind === 'cifar10') {
    const d = plainObject(at, data, DATA_KEYS.cifar10);
    if (d.dir !== undefined && (typeof d.dir !== 'string' || d.dir === '')) throw new SpecError(`${at}.dir must be a non-empty string, got ${show(d.dir)}`);
    expectShape(at, 'cifar10 images', inputShape, [3, 32, 32]);
    return Object.freeze({ kind, ...(d.dir !== undefined ? { dir: d.dir as string } : {}) });
  }
  throw new SpecError(`${at}.kind must be 'sine', 'mnist', 'fashion-mnist' or 'cifar10', got ${show(kind)}`);
}

function checkTrain(at: string, train: unknown): TrainDefaults {
  const t = plainObject(at, train, TRAIN_KEYS);
  const out: TrainDefaults = {};
  if (t.epochs !== undefined) out.epochs = positiveInt(`${at}.epochs`, t.epochs);
  if (t.batch !== undefined) out.batch = positiveInt(`${at}.batch`, t.batch);
  if (t.lr !== undefined) out.lr = number(`${at}.lr`, t.lr, { above: 0 });
  if (t.optimizer !== undefined) out.optimizer = optimizerKind(t.optimizer, `${at}.optimizer`, SpecError);
  if (t.lrSchedule !== undefined) out.lrSchedule = lrSchedule(t.lrSchedule, `${at}.lrSchedule`, SpecError);
  if (t.momentum !== undefined) out.momentum = number(`${at}.momentum`, t.momentum, { atLeast: 0, below: 1 });
  if (t.weightDecay !== undefined) out.weightDecay = number(`${at}.weightDecay`, t.weightDecay, { atLeast: 0 });
  if (t.betas !== undefined) {
    if (!Array.isArray(t.betas) || t.betas.length !== 2) throw new SpecError(`${at}.betas must be a pair [beta1, beta2], got ${show(t.betas)}`);
    out.betas = [number(`${at}.betas[0]`, t.betas[0], { atLeast: 0, below: 1 }), number(`${at}.betas[1]`, t.betas[1], { atLeast: 0, below: 1 })];
    Object.freeze(out.betas);
  }
  if (t.eps !== undefined) out.eps = number(`${at}.eps`, t.eps, { above: 0 });
  if (t.clipNorm !== undefined) out.clipNorm = number(`${at}.clipNorm`, t.clipNorm, { above: 0 });
  if (t.fpCorrection !== undefined) out.fpCorrection = checkFpCorrection(`${at}.fpCorrection`, t.fpCorrection);
  return Object.freeze(out);
}

/**
 * Check a fixed-point correction's settings and fill in torchdeq's defaults.
 *
 * @example checkFpCorrection('task.train.fpCorrection', { terms: 2 }) // { terms: 2, gamma: 0.8, phantomSteps: 1 }
 */
export function checkFpCorrection(at: string, value: unknown): Required<FixedPointCorrection> {
  const c = plainObject(at, value, FP_CORRECTION_KEYS);
  if (c.terms === undefined) throw new SpecError(`${at}.terms is required: how many intermediate iterates get a loss term (torchdeq's n_states - 1)`);
  const terms = positiveInt(`${at}.terms`, c.terms);
  const gamma = c.gamma === undefined ? FP_CORRECTION_DEFAULTS.gamma : number(`${at}.gamma`, c.gamma, { above: 0 });
  if (gamma > 1) throw new SpecError(`${at}.gamma must be at most 1 (weights gamma^(terms+1-k) fall towards the early iterates), got ${gamma}`);
  const phantomSteps = c.phantomSteps === undefined ? FP_CORRECTION_DEFAULTS.phantomSteps : positiveInt(`${at}.phantomSteps`, c.phantomSteps);
  return Object.freeze({ terms, gamma, phantomSteps });
}

// Each schema's keys, checked against its type: a field added to a type and not here does not compile.
const TASK_KEYS: KeysOf<TaskSpec> = { loss: true, data: true, train: true };
const TRAIN_KEYS: KeysOf<TrainDefaults> = {
  epochs: true, batch: true, lr: true, optimizer: true, lrSchedule: true, momentum: true, weightDecay: true, betas: true, eps: true, clipNorm: true,
  fpCorrection: true,
};
const FP_CORRECTION_KEYS: KeysOf<FixedPointCorrection> = { terms: true, gamma: true, phantomSteps: true };
const DATA_KEYS: { readonly [K in DataSpec['kind']]: KeysOf<Extract<DataSpec, { kind: K }>> } = {
  sine: { kind: true, window: true, length: true },
  mnist: { kind: true, layout: true },
  'fashion-mnist': { kind: true, layout: true, dir: true },
  cifar10: { kind: true, dir: true },
};

/** An object with only `keys` (a misspelt key is an error naming the key meant, not silently ignored). */
function plainObject(at: string, value: unknown, keys: Readonly<Record<string, true>>): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SpecError(`${at} must be an object, got ${show(value)}`);
  return checkOptions(at, value as Record<string, unknown>, keys);
}

function positiveInt(at: string, value: unknown): number {
  return positiveInteger(value, at, SpecError);
}

function number(at: string, value: unknown, range: { above?: number; atLeast?: number; below?: number }): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (range.above === undefined || value > range.above) &&
    (range.atLeast === undefined || value >= range.atLeast) &&
    (range.below === undefined || value < range.below);
  if (!ok) {
    const bounds = [
      range.above !== undefined ? `> ${range.above}` : '',
      range.atLeast !== undefined ? `>= ${range.atLeast}` : '',
      range.below !== undefined ? `< ${range.below}` : '',
    ].filter(Boolean);
    throw new SpecError(`${at} must be a finite number ${bounds.join(' and ')}, got ${show(value)}`);
  }
  return value as number;
}

/** The data set's samples must be what the model's input (after the batch dim) expects. */
function expectShape(at: string, what: string, inputShape: readonly Dim[], sample: readonly number[]): void {
  const rest = inputShape.slice(1);
  if (rest.length !== sample.length || rest.some((d, i) => d !== sample[i])) {
    throw new SpecError(`${at}: ${what} are [B,${sample.join(',')}], but the model's input is [${inputShape.join(',')}]`);
  }
}


