// What training means by default, stated once: the optimizers train.onnx can
// step with, the learning-rate schedules, the settings a run takes when
// neither the command nor the graph file's task.train gives them, and the
// rows per evaluation run. The spec's checks, the optimizer lowering, the
// trainer, the CLI's help text and the benchmarks all read them from here.
import { show } from './checks.js';
import { TwnnError } from './errors.js';

/** The optimizers train.onnx can step with. */
export const OPTIMIZER_KINDS = ['sgd', 'adam', 'adamw'] as const;
export type OptimizerKind = (typeof OPTIMIZER_KINDS)[number];

/** How the learning rate moves over a run: `constant`, or `cosine` decay from `lr` towards 0 over all planned steps. */
export const LR_SCHEDULES = ['constant', 'cosine'] as const;
export type LrSchedule = (typeof LR_SCHEDULES)[number];

/**
 * A run's settings where neither the command nor the graph file's
 * task.train gives them (torch.optim's Adam at its default lr).
 *
 * @example TRAIN_FALLBACKS.batch // 64
 */
export const TRAIN_FALLBACKS: { readonly epochs: number; readonly batch: number; readonly lr: number; readonly lrSchedule: LrSchedule; readonly optimizer: OptimizerKind; readonly seed: number } = {
  epochs: 10,
  batch: 64,
  lr: 1e-3,
  lrSchedule: 'constant',
  optimizer: 'adam',
  seed: 0,
};

/** Rows per inference run when a whole split is evaluated (train's per-epoch test, eval, the reports). */
export const EVAL_BATCH = 256;

/**
 * Whether `v` names an optimizer train.onnx can step with.
 *
 * @example isOptimizerKind('adam') // true
 */
export function isOptimizerKind(v: unknown): v is OptimizerKind {
  return (OPTIMIZER_KINDS as readonly unknown[]).includes(v);
}

/**
 * `value` as an optimizer kind, or an error of class `Err` naming `what` and
 * the kinds there are.
 *
 * @example optimizerKind('sgd', 'task.train.optimizer') // 'sgd'
 */
export function optimizerKind(value: unknown, what: string, Err: new (message: string) => TwnnError = TwnnError): OptimizerKind {
  if (isOptimizerKind(value)) return value;
  throw new Err(`${what} must be ${oneOf(OPTIMIZER_KINDS)}, got ${show(value)}`);
}

/**
 * `value` as a learning-rate schedule, or an error of class `Err` naming `what`.
 *
 * @example lrSchedule('cosine', 'lrSchedule') // 'cosine'
 */
export function lrSchedule(value: unknown, what: string, Err: new (message: string) => TwnnError = TwnnError): LrSchedule {
  if ((LR_SCHEDULES as readonly unknown[]).includes(value)) return value as LrSchedule;
  throw new Err(`${what} must be ${oneOf(LR_SCHEDULES)}, got ${show(value)}`);
}

/** `'a', 'b' or 'c'`. */
function oneOf(values: readonly string[]): string {
  const quoted = values.map((v) => `'${v}'`);
  return `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`;
}
