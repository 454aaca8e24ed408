// The training runs a report is made from: each a folder a `twnn train` run
// wrote (manifest.json, metrics.jsonl, checkpoint.twnn, model.onnx with the
// trained weights), listed with the command that produced it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError, TwnnError } from '../ir/errors.js';
import { MANIFEST_FILE, MODEL_FILE } from '../lower/artifacts.js';
import type { Manifest } from '../lower/manifest.js';
import { readInitializers, readModelFile } from '../onnx/load.js';
import { CHECKPOINT_FILE, loadCheckpoint, type TrainConfig, type TrainPosition } from '../runtime/checkpoint.js';
import { readMetrics, type MetricsRecord } from '../runtime/metrics.js';
import { METRICS_FILE } from '../runtime/trainer.js';

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
}

/** A run folder as read back. */
export interface LoadedRun {
  run: BenchRun;
  manifest: Manifest;
  metrics: MetricsRecord[];
  /** The trainer's settings and final position, from its checkpoint. */
  config: TrainConfig;
  position: TrainPosition;
  modelPath: string;
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
    const known = ['id', 'label', 'family', 'role', 'dir', 'command', 'device', 'note', 'target'];
    const extra = Object.keys(e).filter((k) => !known.includes(k));
    if (extra.length > 0) throw new FormatError(`${at}: unknown key${extra.length > 1 ? 's' : ''} ${extra.map((k) => `'${k}'`).join(', ')} (allowed: ${known.join(', ')})`);
    const device = text('device', true);
    const note = text('note', true);
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
    };
  });
}

/**
 * Read a run's folder, or undefined when it has not been trained yet (no
 * checkpoint): the report then says how to produce it. A folder with a
 * checkpoint but a missing or broken manifest, metrics or model is an error,
 * and so is a model.onnx whose weights are not the checkpoint's (the trainer
 * writes them only when a run ends: the run is still going, or was stopped).
 *
 * @example const loaded = await loadRun(run); if (!loaded) console.log(`not run: ${run.command}`);
 */
export async function loadRun(run: BenchRun): Promise<LoadedRun | undefined> {
  const checkpointPath = join(run.dir, CHECKPOINT_FILE);
  if (!existsSync(checkpointPath)) return undefined;
  const need = (file: string) => {
    const path = join(run.dir, file);
    if (!existsSync(path)) throw new TwnnError(`run '${run.id}': ${path} is missing (the folder has a checkpoint, so it should hold a whole run: ${run.command})`);
    return path;
  };
  const manifestPath = need(MANIFEST_FILE);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
  } catch (err) {
    throw new FormatError(`${manifestPath}: not valid JSON (${(err as Error).message})`);
  }
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
  return { run, manifest, metrics, config: checkpoint.config, position: checkpoint.position, modelPath };
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return x.every((v, i) => v === y[i]);
}
