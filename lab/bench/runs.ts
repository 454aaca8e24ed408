// The training runs a report is made from: each a folder a `twnn train` run
// wrote (manifest.json, metrics.jsonl, checkpoint.twnn, model.onnx with the
// trained weights), listed with the command that produced it. A committed run
// (docs/DESIGN.md §6) has only model.onnx, manifest.json and metrics.jsonl: what its
// checkpoint said is read back from those (committed-run.ts).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError, TwnnError } from '../../src/common/errors.js';
import { MANIFEST_FILE, MODEL_FILE, TRAIN_FILE } from '../../src/contract/files.js';
import type { Manifest } from '../../src/contract/manifest.js';
import { readManifestSync } from '../../src/contract/read-manifest.js';
import { readInitializers, readModelFile } from '../../src/onnx/load.js';
import { CHECKPOINT_FILE, loadCheckpoint, type TrainConfig, type TrainPosition } from '../../src/runtime/checkpoint.js';
import { readMetrics, type MetricsRecord } from '../../src/runtime/metrics.js';
import { METRICS_FILE } from '../../src/runtime/trainer.js';
import type { DataSpec } from '../../src/twnn/task.js';
import { committedTraining, defaultTrainSize } from './committed-run.js';

/** One run as a report lists it. */
export interface BenchRun {
  /** Short id, used in figure file names: letters, digits, '-' and '_'. */
  id: string;
  /** Row label, e.g. `TWNN ResNet`. */
  label: string;
  /** Rows of one family are compared with each other (e.g. `MLP`, `ResNet`). */
  family: string;
  /** `twnn`: a network with fixed-point regions; `baseline`: a plain one. */
  role: 'twnn' | 'baseline';
  /** The run's output folder (`-o` of the command), relative to the working directory. */
  dir: string;
  /** The exact command that trained it. */
  command: string;
  /** Where it trained (`cpu`, `cuda`), which its time per epoch depends on. Default cpu. */
  device?: string;
  /** A remark shown under the table (a deviation from the paper's settings, say). */
  note?: string;
  /** The test accuracy the model should reach (a fraction, e.g. 0.98); the report says whether it does. */
  target?: number;
  /** The graph file it was trained from (e.g. `graphs/mnist-mlp.ts`): its train.onnx is exported again where the folder has none (a committed run). */
  graph?: string;
}

/** A run folder as read back. */
export interface LoadedRun {
  run: BenchRun;
  manifest: Manifest;
  metrics: MetricsRecord[];
  /** The trainer's settings and final position. */
  config: TrainConfig;
  position: TrainPosition;
  /** Where `config` and `position` come from: the run's checkpoint, or (a committed run) its manifest.json and metrics.jsonl. */
  from: 'checkpoint' | 'metrics';
  modelPath: string;
}

export interface LoadRunOptions {
  /** Examples per epoch of a task's training set, from which a committed run's batch size follows (default: defaultTrainSize). */
  trainSize?: (data: DataSpec) => number | undefined;
  /** The batch size the run's command or graph file asks for; a committed run with no finished epoch needs it. */
  batchHint?: () => Promise<number | undefined>;
}

const ID = /^[A-Za-z0-9_-]+$/;

/** A run folder whose checkpoint has moved past its model.onnx: the run is still training, or was stopped. */
export class UnfinishedRunError extends TwnnError {}

/**
 * Check a list of runs (e.g. parsed from a `--runs` JSON file); every problem
 * is a FormatError naming the entry and field.
 *
 * @example const runs = parseRuns(JSON.parse(text), 'runs.json');
 */
export function parseRuns(value: unknown, where: string): BenchRun[] {
  if (!Array.isArray(value) || value.length === 0) throw new FormatError(`${where}: expected a non-empty JSON array of runs`);
  const ids = new Set<string>();
  return value.map((entry: unknown, i) => {
    const at = `${where}: run #${i + 1}`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new FormatError(`${at} must be an object`);
    const e = entry as Record<string, unknown>;
    const text = (key: string, optional = false): string | undefined => {
      const v = e[key];
      if (v === undefined && optional) return undefined;
      if (typeof v !== 'string' || v === '') throw new FormatError(`${at}: '${key}' must be a non-empty string, got ${JSON.stringify(v)}`);
      return v;
    };
    const id = text('id')!;
    if (!ID.test(id)) throw new FormatError(`${at}: id '${id}' may hold only letters, digits, '-' and '_'`);
    if (ids.has(id)) throw new FormatError(`${at}: id '${id}' is used twice`);
    ids.add(id);
    const role = e.role;
    if (role !== 'twnn' && role !== 'baseline') throw new FormatError(`${at}: 'role' must be "twnn" or "baseline", got ${JSON.stringify(role)}`);
    const known = ['id', 'label', 'family', 'role', 'dir', 'command', 'device', 'note', 'target', 'graph'];
    const extra = Object.keys(e).filter((k) => !known.includes(k));
    if (extra.length > 0) throw new FormatError(`${at}: unknown key${extra.length > 1 ? 's' : ''} ${extra.map((k) => `'${k}'`).join(', ')} (allowed: ${known.join(', ')})`);
    const device = text('device', true);
    const note = text('note', true);
    const graph = text('graph', true);
    const target = e.target;
    if (target !== undefined && (typeof target !== 'number' || !(target > 0 && target <= 1))) {
      throw new FormatError(`${at}: 'target' must be a test accuracy in (0, 1], got ${JSON.stringify(target)}`);
    }
    return {
      id,
      label: text('label')!,
      family: text('family')!,
      role,
      dir: text('dir')!,
      command: text('command')!,
      ...(device ? { device } : {}),
      ...(note ? { note } : {}),
      ...(target !== undefined ? { target } : {}),
      ...(graph ? { graph } : {}),
    };
  });
}

/**
 * Read a run's folder, or undefined when it has not been trained yet (no
 * checkpoint and no logged step). With a checkpoint, a missing or broken
 * manifest, metrics or model is an error, and so is a model.onnx whose weights
 * are not the checkpoint's (the trainer writes them only when a run ends: the
 * run is still going, or was stopped). Without one, a folder with a
 * metrics.jsonl is a committed run: config and position come from its
 * manifest and metrics (committed-run.ts), and its model.onnx must be the one
 * the manifest describes.
 *
 * @example const loaded = await loadRun(run); if (!loaded) console.log(`not run: ${run.command}`);
 */
export async function loadRun(run: BenchRun, options: LoadRunOptions = {}): Promise<LoadedRun | undefined> {
  const checkpointPath = join(run.dir, CHECKPOINT_FILE);
  if (!existsSync(checkpointPath)) return loadCommittedRun(run, options);
  const need = needFile(run, 'a checkpoint');
  const manifest = readManifestSync(need(MANIFEST_FILE));
  const metrics = readMetrics(need(METRICS_FILE));
  const checkpoint = await loadCheckpoint(checkpointPath);
  const modelPath = need(MODEL_FILE);
  const weights = readInitializers(await readModelFile(modelPath), modelPath);
  for (const [name, t] of checkpoint.params) {
    const w = weights.get(name);
    if (!w || !sameBytes(w.data, t.data)) {
      throw new UnfinishedRunError(
        `run '${run.id}': ${modelPath} does not hold the weights of ${checkpointPath} (parameter '${name}' differs): the trainer writes model.onnx when a run ends, ` +
          `so this run is still training or was stopped; let it finish, or continue it with --resume (${run.command})`,
      );
    }
  }
  return { run, manifest, metrics, config: checkpoint.config, position: checkpoint.position, from: 'checkpoint', modelPath };
}

/** A folder without a checkpoint: a committed run, or nothing trained yet. */
async function loadCommittedRun(run: BenchRun, options: LoadRunOptions): Promise<LoadedRun | undefined> {
  const metricsPath = join(run.dir, METRICS_FILE);
  // No log (an empty folder, or a plain `twnn build`), or a trainer that has not finished a step.
  if (!existsSync(metricsPath)) return undefined;
  const metrics = readMetrics(metricsPath);
  if (!metrics.some((r) => r.kind === 'step')) return undefined;
  const need = needFile(run, 'a metrics.jsonl');
  const manifestPath = need(MANIFEST_FILE);
  const manifest = readManifestSync(manifestPath);
  const modelPath = need(MODEL_FILE);
  // The trainer checkpoints at every epoch's end: its own folder with no checkpoint and no finished epoch is a run in its first epoch, whose model.onnx holds the initial weights.
  if (existsSync(join(run.dir, TRAIN_FILE)) && !metrics.some((r) => r.kind === 'epoch')) {
    throw new UnfinishedRunError(
      `run '${run.id}': ${run.dir} has the trainer's graphs and ${metrics.length} logged steps but no checkpoint and no finished epoch: the run is in its first epoch ` +
        `(the trainer writes checkpoint.twnn at each epoch's end, model.onnx when the run ends); let it finish (${run.command})`,
    );
  }
  const expected = manifest.files?.[MODEL_FILE]?.sha256;
  if (expected && createHash('sha256').update(readFileSync(modelPath)).digest('hex') !== expected) {
    throw new FormatError(`run '${run.id}': ${modelPath} is not the model.onnx ${manifestPath} describes (its sha256 differs): the two come from different exports (${run.command})`);
  }
  const data = manifest.task?.data;
  const trainSize = data ? (options.trainSize ?? defaultTrainSize)(data) : undefined;
  const batchHint = await options.batchHint?.();
  const { config, position } = committedTraining(manifest, metrics, {
    ...(trainSize !== undefined ? { trainSize } : {}),
    ...(batchHint !== undefined ? { batchHint } : {}),
    where: `run '${run.id}' (${metricsPath})`,
  });
  return { run, manifest, metrics, config, position, from: 'metrics', modelPath };
}

/** A file of the run's folder that `what` (a checkpoint, a metrics.jsonl) says should be there. */
function needFile(run: BenchRun, what: string): (file: string) => string {
  return (file) => {
    const path = join(run.dir, file);
    if (!existsSync(path)) throw new TwnnError(`run '${run.id}': ${path} is missing (the folder has ${what}, so it should hold a whole run: ${run.command})`);
    return path;
  };
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return x.every((v, i) => v === y[i]);
}
