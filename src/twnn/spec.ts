// The model spec: what a graphs/*.ts file exports by default.
import { SpecError, type Dim } from '../ir/index.js';
import type { Module } from './module.js';
import { isModule } from './sequential.js';
import { checkTask, type TaskSpec } from './task.js';
import { checkOptions, type KeysOf } from './options.js';

export type { DataSpec, FixedPointCorrection, LossKind, LrSchedule, OptimizerKind, TaskSpec, TrainDefaults } from './task.js';

/**
 * The brand the CLI checks to tell a model spec from any other default export.
 *
 * @example defineModel({ name: 'm', input: { shape: ['B', 4] }, net: dense(4, 2) }).kind === MODEL_KIND // true
 */
export const MODEL_KIND = 'twnn.model';

/** The network's input. Its graph input is always named `x`. */
export interface InputSpec {
  /** Dimensions, batch first: `['B', 784]`, `['B', 1, 28, 28]`. */
  readonly shape: readonly Dim[];
  /** Always the build's float type (`--dtype`); spelt out for readers. */
  readonly dtype?: 'float';
}

/** What `defineModel` takes. */
export interface ModelDefinition {
  /** Graph and export-folder name: letters, digits, '-', '_' and '.'. */
  name: string;
  /** Shown as the model's doc_string (Netron) and in the manifest. */
  description?: string;
  input: InputSpec;
  /** The network: input `x` in, output `y` out. */
  net: Module;
  /** What the model is trained for: loss, data set and training defaults (see TaskSpec). */
  task?: TaskSpec;
}

/** A validated, branded model definition. */
export interface ModelSpec extends Readonly<Omit<ModelDefinition, 'input'>> {
  readonly kind: typeof MODEL_KIND;
  readonly input: Required<InputSpec>;
}

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const DEFINITION_KEYS: KeysOf<ModelDefinition> = { name: true, description: true, input: true, net: true, task: true };
const INPUT_KEYS: KeysOf<InputSpec> = { shape: true, dtype: true };

/**
 * Validate a model definition and brand it as a ModelSpec (a graph file's
 * default export). The input is named `x` and its first dimension must be the
 * batch symbol `'B'`; the output is named `y`. A `task` is checked field by
 * field (unknown keys too) and against the input shape.
 *
 * @example
 * export default defineModel({
 *   name: 'sine-mlp',
 *   input: { shape: ['B', 16] },
 *   net: sequential(dense(16, 32), tanh(), dense(32, 1)),
 *   task: { loss: 'mse', data: { kind: 'sine', window: 16 }, train: { epochs: 20, lr: 1e-3, optimizer: 'adam' } },
 * });
 */
export function defineModel(definition: ModelDefinition): ModelSpec {
  if (typeof definition !== 'object' || definition === null) throw new SpecError('defineModel: expects an object');
  checkOptions('defineModel', definition, DEFINITION_KEYS);
  const { name, description, input, net, task } = definition;
  if (typeof name !== 'string' || !MODEL_NAME.test(name)) {
    throw new SpecError(`defineModel: name must start with a letter or digit and use only letters, digits, '.', '_' and '-', got ${JSON.stringify(name)}`);
  }
  const where = `model '${name}'`;
  if (description !== undefined && typeof description !== 'string') throw new SpecError(`${where}: description must be a string`);
  if (!isModule(net)) throw new SpecError(`${where}: net must be a module (e.g. sequential(...)), got ${net === null ? 'null' : typeof net}`);
  const shape = checkInput(where, input);
  const checkedTask = task === undefined ? undefined : checkTask(where, task, shape);
  const spec: ModelSpec = {
    kind: MODEL_KIND,
    name,
    ...(description !== undefined ? { description } : {}),
    input: Object.freeze({ shape: Object.freeze([...shape]), dtype: 'float' as const }),
    net,
    ...(checkedTask !== undefined ? { task: checkedTask } : {}),
  };
  return Object.freeze(spec);
}

/**
 * Whether `value` is a ModelSpec made by `defineModel` (the CLI's check on a
 * graph file's default export).
 *
 * @example if (!isModelSpec(mod.default)) throw new SpecError(`${file}: default export is not a model`);
 */
export function isModelSpec(value: unknown): value is ModelSpec {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === MODEL_KIND;
}

function checkInput(where: string, input: InputSpec | undefined): readonly Dim[] {
  if (typeof input !== 'object' || input === null || !Array.isArray(input.shape)) {
    throw new SpecError(`${where}: input must be { shape: ['B', ...] }`);
  }
  checkOptions(`${where}: input`, input, INPUT_KEYS);
  if (input.dtype !== undefined && input.dtype !== 'float') {
    throw new SpecError(`${where}: input dtype must be 'float' (the build's --dtype), got ${JSON.stringify(input.dtype)}`);
  }
  const shape = input.shape;
  if (shape[0] !== 'B') throw new SpecError(`${where}: input shape must start with the batch dimension 'B', got [${shape.join(',')}]`);
  shape.forEach((d, i) => {
    const ok = typeof d === 'number' ? Number.isInteger(d) && d > 0 : typeof d === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(d);
    if (!ok) throw new SpecError(`${where}: input dimension ${i} must be a positive integer or a symbol like 'T', got ${JSON.stringify(d)}`);
  });
  if (shape.length < 2) throw new SpecError(`${where}: input shape needs at least one dimension after 'B', got [${shape.join(',')}]`);
  return shape;
}
