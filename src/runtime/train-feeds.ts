// The feeds of a first train.onnx (or grad.onnx) step: the weights and buffers,
// zero optimizer state, a batch, lr and step 1; of a saved run (its model.onnx's
// initializers) or of a graph just built (its parameters' values).
import { TRAIN_FALLBACKS } from '../common/training.js';
import { join } from 'node:path';
import { TwnnError } from '../common/errors.js';
import { Tensor } from '../ir/tensor.js';
import { MANIFEST_FILE, MODEL_FILE } from '../contract/files.js';
import { readManifest, trainingOf } from '../contract/read-manifest.js';
import type { TrainingGraph } from '../lower/training.js';
import { readInitializers, readModelFile } from '../onnx/load.js';

/**
 * Every input of `<dir>/train.onnx` for a first optimizer step (`step` 1, the
 * manifest's default lr) on the batch `x`, `target`, by name. `renames` maps
 * a parameter's name in the run to its name in the graph to be fed, where the
 * two differ (a run saved before a scope was renamed, fed to a graph exported
 * since: step-graph.ts).
 *
 * @example const feeds = await trainFeeds('exported/paper/mnist-mlp', x, target); await session.run(Object.fromEntries(feeds));
 */
export async function trainFeeds(dir: string, x: Tensor, target: Tensor, renames: ReadonlyMap<string, string> = new Map()): Promise<Map<string, Tensor>> {
  const manifestPath = join(dir, MANIFEST_FILE);
  const manifest = await readManifest(manifestPath);
  const training = trainingOf(manifest, manifestPath);
  const modelPath = join(dir, MODEL_FILE);
  const init = readInitializers(await readModelFile(modelPath), modelPath);
  const param = (name: string) => {
    const t = init.get(name);
    if (!t) throw new TwnnError(`${modelPath}: no initializer for parameter '${name}'`);
    return t;
  };
  const feeds = new Map<string, Tensor>([
    ['x', x],
    ['target', target],
    ['lr', Tensor.scalar(training.optimizer.lr as number, manifest.dtype === 'float64' ? 'float64' : 'float32')],
    ['step', Tensor.fromNumbers('int64', [], [1])],
  ]);
  const fed = (name: string) => renames.get(name) ?? name;
  for (const name of [...training.trainable, ...training.buffers]) feeds.set(fed(name), param(name));
  for (const name of training.trainable) {
    for (const slot of training.state[name] ?? []) feeds.set(`${fed(name)}.${slot}`, Tensor.zeros(param(name).dtype, param(name).shape));
  }
  return feeds;
}

/**
 * The inputs `built` (a grad or train graph) takes for a first step from its
 * parameters' values: the batch, lr (its optimizer's), step 1, the parameters
 * and zero optimizer state, by name.
 *
 * @example const feeds = firstStepFeeds(buildTrainGraph(spec, { weights }), batch); await session.run(feeds);
 */
export function firstStepFeeds(built: TrainingGraph, batch: { x: Tensor; target: Tensor }): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {
    x: batch.x,
    target: batch.target,
    lr: Tensor.scalar(built.optimizer?.lr ?? TRAIN_FALLBACKS.lr, batch.x.dtype),
    step: Tensor.fromNumbers('int64', [], [1]),
  };
  for (const p of built.params) {
    feeds[p.name] = p.value;
    for (const slot of built.state[p.name] ?? []) feeds[`${p.name}.${slot}`] = Tensor.zeros(p.dtype, p.shape);
  }
  const takes = new Set(built.graph.inputs.map((v) => v.name));
  return Object.fromEntries(Object.entries(feeds).filter(([name]) => takes.has(name)));
}

/**
 * Take a train.onnx step's `<name>.new` outputs as the next values of the
 * feeds they update (weights, optimizer state, buffers), in place.
 *
 * @example const out = await session.run(feeds); takeNewValues(feeds, out);
 */
export function takeNewValues(feeds: Record<string, Tensor>, out: Readonly<Record<string, Tensor>>): void {
  for (const [name, value] of Object.entries(out)) {
    if (!name.endsWith('.new')) continue;
    const input = name.slice(0, -'.new'.length);
    if (input in feeds) feeds[input] = value;
  }
}
