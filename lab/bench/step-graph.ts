// The train.onnx whose step a report times and measures. A local run has its
// own; a committed run does not (git keeps model.onnx, manifest.json and
// metrics.jsonl only), so its graph file is exported again by this twnn, with
// the run's dtype, seed, opset and optimizer, into a temp folder. Either way
// the step is fed the run's trained weights (train-feeds.ts); whether the
// re-export is the very graph the run trained with, the manifest's sha256 says.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TwnnError } from '../../src/common/errors.js';
import { exportModel, type ExportResult } from '../../src/lower/artifacts.js';
import { TRAIN_FILE } from '../../src/contract/files.js';
import type { Manifest, ManifestValue } from '../../src/contract/manifest.js';
import type { ModelSpec } from '../../src/twnn/spec.js';
import type { LoadedRun } from './runs.js';

/** Imports a graph file and returns its model (the CLI passes its loadModelSpec). */
export type SpecLoader = (graphFile: string) => Promise<ModelSpec>;

export interface StepGraph {
  /** The train.onnx to run. */
  path: string;
  /** `run`: the run's own; `re-exported`: its graph file exported by this twnn. */
  source: 'run' | 're-exported';
  /** Re-exported only: byte for byte the train.onnx the run trained with (manifest.json's sha256). */
  identical?: boolean;
  /**
   * Re-exported only: the run's parameter names this graph takes under new
   * names (a scope renamed since the run: wormhole `wormhole_3_1` is now
   * `wormhole_b3_b1`), run name to graph name. Empty when none changed.
   */
  renames?: ReadonlyMap<string, string>;
}

/** A run with no train.onnx to step: none in its folder and none exported (no graph file, or its export failed). */
export class NoStepGraphError extends TwnnError {}

/**
 * Call `use` with the run's train.onnx: `<dir>/train.onnx`, else `run.graph`
 * (imported by `loadSpec`) exported afresh into a temp folder that is removed
 * once `use` settles. Throws NoStepGraphError, before calling `use`, when
 * there is neither.
 *
 * @example const t = await withStepGraph(loaded, loadModelSpec, (g) => measureStepTime(loaded.run.dir, x, target, { graph: g }));
 */
export async function withStepGraph<T>(loaded: LoadedRun, loadSpec: SpecLoader | undefined, use: (graph: StepGraph) => Promise<T>): Promise<T> {
  const own = join(loaded.run.dir, TRAIN_FILE);
  if (existsSync(own)) return use({ path: own, source: 'run' });
  const folder = await mkdtemp(join(tmpdir(), 'twnn-step-graph-'));
  try {
    return await use(await reExport(loaded, loadSpec, folder));
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

async function reExport({ run, manifest }: LoadedRun, loadSpec: SpecLoader | undefined, folder: string): Promise<StepGraph> {
  const missing = `run '${run.id}': ${join(run.dir, TRAIN_FILE)} is missing (git keeps a run's model.onnx, manifest.json and metrics.jsonl only)`;
  if (!run.graph) throw new NoStepGraphError(`${missing} and the run names no graph file ('graph') to export it from, so its training step is neither timed nor measured`);
  if (!loadSpec) throw new NoStepGraphError(`${missing}, and no spec loader was given to import ${run.graph} with`);
  let exported: ExportResult;
  try {
    const spec = await loadSpec(run.graph);
    if (spec.name !== manifest.name) throw new TwnnError(`it defines model '${spec.name}', the run is of '${manifest.name}'`);
    exported = await exportModel(spec, folder, { dtype: manifest.dtype, seed: manifest.seed, opset: manifest.opset, optimizer: manifest.training.optimizer });
  } catch (err) {
    throw new NoStepGraphError(`${missing}, and exporting ${run.graph} again failed: ${(err as Error).message}`);
  }
  const renames = formerNames(manifest, exported.manifest);
  const then = manifest.graphs?.[TRAIN_FILE]?.inputs;
  const change = then && inputChange(then, exported.manifest.graphs[TRAIN_FILE].inputs, renames);
  if (change) throw new NoStepGraphError(`${missing}, and ${run.graph} as this twnn exports it does not take the inputs the run's did (${change}), so the run's weights cannot be fed to it`);
  const sha = manifest.files?.[TRAIN_FILE]?.sha256;
  return { path: join(folder, TRAIN_FILE), source: 're-exported', identical: sha !== undefined && exported.manifest.files[TRAIN_FILE].sha256 === sha, renames };
}

/** The run's parameters that the export now names otherwise (its params' formerName), run name to new name. */
function formerNames(run: Manifest, now: Manifest): Map<string, string> {
  const runNames = new Set(run.params.map((p) => p.name));
  const renames = new Map<string, string>();
  for (const p of now.params) if (p.formerName && !runNames.has(p.name) && runNames.has(p.formerName)) renames.set(p.formerName, p.name);
  return renames;
}

/**
 * The first input of train.onnx that is gone, new or of another type or
 * shape; undefined when they match (feeds go by name). A run's input under a
 * renamed parameter's former name (or one of its optimizer slots,
 * `<name>.m`) is looked up under its new name.
 */
function inputChange(then: readonly ManifestValue[], now: readonly ManifestValue[], renames: ReadonlyMap<string, string>): string | undefined {
  const text = (v: ManifestValue) => `${v.dtype} [${v.shape.join(', ')}]`;
  const nowByName = new Map(now.map((v) => [v.name, v]));
  const renamed = (name: string) => {
    if (renames.has(name)) return renames.get(name)!;
    const dot = name.lastIndexOf('.');
    const base = dot < 0 ? undefined : renames.get(name.slice(0, dot));
    return base === undefined ? name : `${base}${name.slice(dot)}`;
  };
  const thenNames = new Set(then.map((v) => renamed(v.name)));
  for (const v of then) {
    const w = nowByName.get(renamed(v.name));
    if (!w) return `input '${v.name}' is gone`;
    if (text(v) !== text(w)) return `input '${v.name}' was ${text(v)}, is ${text(w)}`;
  }
  const added = now.find((v) => !thenNames.has(v.name));
  return added && `input '${added.name}' is new`;
}
