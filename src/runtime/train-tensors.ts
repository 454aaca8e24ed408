// The tensors a training run carries from step to step: parameters,
// optimizer state and buffers, fed to train.onnx by name and taken back from
// its `<name>.new` outputs; where they start (model.onnx's initializers, or a
// checkpoint checked against the export).
import { TwnnError } from '../common/errors.js';
import { Tensor } from '../ir/tensor.js';
import type { Manifest } from '../contract/manifest.js';
import { readInitializers } from '../onnx/load.js';
import type { OnnxTypes } from '../onnx/proto.js';
import type { Checkpoint } from './checkpoint.js';

/** The run's tensors: what train.onnx takes in and gives back each step. */
export interface TrainTensors {
  params: Map<string, Tensor>;
  state: Map<string, Tensor>;
  buffers: Map<string, Tensor>;
}

/** Names train.onnx uses, from the manifest. */
export interface TrainingLayout {
  /** Trainable parameters, in manifest order. */
  trainable: { name: string; shape: number[]; dtype: string }[];
  /** Optimizer state per trainable parameter: `<param>.<slot>` inputs. */
  slots: Map<string, string[]>;
  buffers: { name: string; shape: number[]; dtype: string }[];
}

/**
 * The names train.onnx takes and gives back, from the manifest's `training`.
 *
 * @example const layout = trainingLayout(exported.manifest); // layout.slots.get('head.weight') -> ['m', 'v']
 */
export function trainingLayout(manifest: Manifest): TrainingLayout {
  const training = manifest.training;
  const byName = new Map(manifest.params.map((p) => [p.name, p]));
  const param = (name: string) => {
    const p = byName.get(name);
    if (!p) throw new TwnnError(`model '${manifest.name}': manifest.training names '${name}', which is not among its params`);
    return { name, shape: p.shape, dtype: p.dtype };
  };
  const trainable = training.trainable.map(param);
  const buffers = training.buffers.map(param);
  const slots = new Map(trainable.map((p): [string, string[]] => [p.name, training.state[p.name] ?? []]));
  return { trainable, slots, buffers };
}

/**
 * Initial values: model.onnx's initializers (docs/DESIGN.md §3) and zero optimizer state.
 *
 * @example const tensors = initialTensors(await readModelFile(path), path, layout);
 */
export function initialTensors(model: OnnxTypes.IModelProto, modelPath: string, layout: TrainingLayout): TrainTensors {
  const init = readInitializers(model, modelPath);
  const take = (name: string) => {
    const t = init.get(name);
    if (!t) throw new TwnnError(`${modelPath}: no initializer for parameter '${name}'`);
    return t;
  };
  const params = new Map(layout.trainable.map((p) => [p.name, take(p.name)]));
  const buffers = new Map(layout.buffers.map((b) => [b.name, take(b.name)]));
  const state = new Map<string, Tensor>();
  for (const p of layout.trainable) {
    for (const slot of layout.slots.get(p.name)!) state.set(`${p.name}.${slot}`, Tensor.zeros(params.get(p.name)!.dtype, p.shape));
  }
  return { params, state, buffers };
}

/**
 * A resumed checkpoint's tensors, checked to be exactly what this export
 * trains: every name, shape and dtype the layout has (optimizer state takes
 * its parameter's), nothing else, and finite values only. A TwnnError naming
 * `where` and the tensor otherwise.
 *
 * @example const tensors = checkResumed(await loadCheckpoint(path), layout, path);
 */
export function checkResumed(ckpt: Checkpoint, layout: TrainingLayout, where: string): TrainTensors {
  const expected = new Map<string, { shape: readonly number[]; dtype: string }>();
  for (const p of layout.trainable) {
    expected.set(`params:${p.name}`, p);
    for (const slot of layout.slots.get(p.name)!) expected.set(`state:${p.name}.${slot}`, p);
  }
  for (const b of layout.buffers) expected.set(`buffers:${b.name}`, b);
  const found = new Map<string, Tensor>();
  for (const group of ['params', 'state', 'buffers'] as const) for (const [name, t] of ckpt[group]) found.set(`${group}:${name}`, t);
  const named = (key: string) => key.replace(':', " '") + "'";
  for (const [key, want] of expected) {
    const got = found.get(key);
    if (!got) throw new TwnnError(`${where}: the checkpoint has no ${named(key)} (was the model changed since it was written?)`);
    if (got.shape.join(',') !== want.shape.join(',')) throw new TwnnError(`${where}: ${named(key)} is [${got.shape.join(',')}] in the checkpoint but [${want.shape.join(',')}] in the model`);
    if (got.dtype !== want.dtype) throw new TwnnError(`${where}: ${named(key)} is ${got.dtype} in the checkpoint but ${want.dtype} in the model`);
    const bad = firstNonFinite(got);
    if (bad !== undefined) throw new TwnnError(`${where}: ${named(key)} holds ${got.get(bad)} at index ${bad}; the checkpoint cannot be resumed (train again without --resume)`);
  }
  for (const key of found.keys()) if (!expected.has(key)) throw new TwnnError(`${where}: the checkpoint has ${named(key)}, which the model does not (was the model changed since it was written?)`);
  return { params: ckpt.params, state: ckpt.state, buffers: ckpt.buffers };
}

/** The flat index of a float tensor's first NaN or ±Infinity, else undefined. */
function firstNonFinite(t: Tensor): number | undefined {
  if (t.dtype !== 'float32' && t.dtype !== 'float64') return undefined;
  const values = t.data as Float32Array | Float64Array;
  const i = values.findIndex((v) => !Number.isFinite(v));
  return i < 0 ? undefined : i;
}

/**
 * The tensors as train.onnx feeds, by input name.
 *
 * @example await session.run({ x, target, lr, step, ...feedsOf(tensors) });
 */
export function feedsOf(t: TrainTensors): Record<string, Tensor> {
  return Object.fromEntries([...t.params, ...t.state, ...t.buffers]);
}

/**
 * Take the step's `<name>.new` outputs as the next values.
 *
 * @example takeUpdates(tensors, layout, await session.run(feeds));
 */
export function takeUpdates(t: TrainTensors, layout: TrainingLayout, out: Record<string, Tensor>): void {
  const next = (name: string) => {
    const v = out[`${name}.new`];
    if (!v) throw new TwnnError(`train.onnx has no output '${name}.new'`);
    return v;
  };
  for (const p of layout.trainable) {
    t.params.set(p.name, next(p.name));
    for (const slot of layout.slots.get(p.name)!) t.state.set(`${p.name}.${slot}`, next(`${p.name}.${slot}`));
  }
  for (const b of layout.buffers) t.buffers.set(b.name, next(b.name));
}

/**
 * What model.onnx holds as initializers: the parameters and the buffers.
 *
 * @example const bytes = withInitializers(model, weightsOf(tensors), path);
 */
export function weightsOf(t: TrainTensors): Map<string, Tensor> {
  return new Map([...t.params, ...t.buffers]);
}
