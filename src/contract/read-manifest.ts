// Reading manifest.json back: one reader for run, eval, codegen, web, the
// trainer's resume and the benchmarks. A manifest is a file a user can edit,
// so every field a reader relies on is checked for its type here, and a
// wrong one is a FormatError naming the file and the field, not a stack trace
// three calls later.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FormatError } from '../common/errors.js';
import { MANIFEST_FILE } from './files.js';
import type { Manifest } from './manifest.js';

type Check = (v: unknown) => boolean;
const isString: Check = (v) => typeof v === 'string';
const isNumber: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const isObject: Check = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const isList = (item: Check): Check => (v) => Array.isArray(v) && v.every(item);
const isValue: Check = (v) => isObject(v) && isString((v as { name?: unknown }).name) && isString((v as { dtype?: unknown }).dtype) && Array.isArray((v as { shape?: unknown }).shape);
const orNull = (c: Check): Check => (v) => v === null || c(v);

/** Each checked field (a dotted path), what it must be, and the check. Absent fields are allowed unless `required`. */
const FIELDS: readonly { path: string; what: string; check: Check; required?: boolean }[] = [
  { path: 'name', what: 'a string', check: isString, required: true },
  { path: 'version', what: 'a number', check: isNumber },
  { path: 'description', what: 'a string', check: isString },
  { path: 'dtype', what: 'a dtype name', check: isString },
  { path: 'opset', what: 'a number', check: isNumber },
  { path: 'seed', what: 'a number', check: isNumber },
  { path: 'inputs', what: 'a list of { name, dtype, shape }', check: isList(isValue) },
  { path: 'outputs', what: 'a list of { name, dtype, shape }', check: isList(isValue) },
  { path: 'params', what: 'a list of { name, shape, dtype }', check: isList(isObject) },
  { path: 'iterators', what: 'a list of iterator records', check: isList(isObject) },
  { path: 'budget', what: 'an object of numbers by input name', check: (v) => isObject(v) && Object.values(v as object).every(isNumber) },
  { path: 'backward', what: 'an object or null', check: orNull(isObject) },
  { path: 'task', what: 'an object', check: isObject },
  { path: 'task.loss', what: "'mse' or 'cross_entropy'", check: (v) => v === 'mse' || v === 'cross_entropy' },
  { path: 'task.data', what: 'a data set ({ kind, ... }) or null', check: orNull((v) => isObject(v) && isString((v as { kind?: unknown }).kind)) },
  { path: 'training', what: 'an object', check: isObject },
  { path: 'training.optimizer', what: 'an object', check: isObject },
  { path: 'training.optimizer.kind', what: 'an optimizer name', check: isString },
  { path: 'training.optimizer.lr', what: 'a number', check: isNumber },
  { path: 'training.trainable', what: 'a list of parameter names', check: isList(isString) },
  { path: 'training.buffers', what: 'a list of buffer names', check: isList(isString) },
  { path: 'training.state', what: 'an object of slot lists', check: (v) => isObject(v) && Object.values(v as object).every(isList(isString)) },
  { path: 'graphs', what: 'an object of { inputs, outputs } by file name', check: (v) => isObject(v) && Object.values(v as object).every((g) => isObject(g) && isList(isValue)((g as { inputs?: unknown }).inputs) && isList(isValue)((g as { outputs?: unknown }).outputs)) },
  { path: 'files', what: 'an object of { bytes, sha256 } by file name', check: (v) => isObject(v) && Object.values(v as object).every((f) => isObject(f) && isNumber((f as { bytes?: unknown }).bytes) && isString((f as { sha256?: unknown }).sha256)) },
];

/**
 * The manifest's `training` (how to drive train.onnx), which readers that
 * train need; a FormatError naming the file when it has none (edited by hand,
 * or not written by an export).
 *
 * @example const { optimizer, trainable } = trainingOf(manifest, 'exported/sine/manifest.json');
 */
export function trainingOf(manifest: Manifest, where: string): Manifest['training'] {
  if (!manifest.training) throw new FormatError(`${where}: has no 'training' field, which says how to drive train.onnx (edited by hand?); re-export the model`);
  return manifest.training;
}

/**
 * Whether parsed JSON is a twnn manifest at all (its `format`), as opposed to
 * some other JSON file that happens to be called manifest.json.
 *
 * @example isTwnnManifest({ format: 'twnn.manifest' }) // true
 */
export function isTwnnManifest(parsed: unknown): boolean {
  return isObject(parsed) && (parsed as { format?: unknown }).format === 'twnn.manifest';
}

/**
 * A manifest from its text: a FormatError naming `where` when it is not
 * JSON, not a twnn manifest, or has a field of the wrong type, ending with
 * what the user can do (`remedy`).
 *
 * @example parseManifest(readFileSync('exported/sine/manifest.json', 'utf8'), 'exported/sine/manifest.json').name // 'sine'
 */
export function parseManifest(text: string, where: string, remedy = 're-export the model'): Manifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new FormatError(`${where}: not valid JSON (${(err as Error).message}); ${remedy}`);
  }
  return checkedManifest(parsed, where, remedy);
}

/** Parsed JSON as a manifest, each field checked (parseManifest's checks, for JSON already parsed). */
function checkedManifest(parsed: unknown, where: string, remedy: string): Manifest {
  if (!isTwnnManifest(parsed)) throw new FormatError(`${where}: not a twnn manifest (its "format" is not "twnn.manifest")`);
  for (const f of FIELDS) {
    const value = f.path.split('.').reduce<unknown>((o, k) => (isObject(o) ? (o as Record<string, unknown>)[k] : undefined), parsed);
    if (value === undefined && !f.required) continue;
    if (!f.check(value)) throw new FormatError(`${where}: field '${f.path}' must be ${f.what}, got ${describe(value)} (edited by hand?); ${remedy}`);
  }
  return parsed as Manifest;
}

/**
 * The manifest at `path`; a FormatError naming it when it is missing or not
 * a well-formed twnn manifest (ending with `remedy`, default: re-export). Refuses anything that is not a regular file
 * (a FIFO would block the read forever).
 *
 * @example const manifest = await readManifest('exported/sine/manifest.json');
 */
export async function readManifest(path: string, remedy?: string): Promise<Manifest> {
  return parseManifest(await readFile(regularFile(path), 'utf8'), path, remedy);
}

/**
 * `readManifest` without awaiting, for synchronous callers.
 *
 * @example const manifest = readManifestSync('exported/sine/manifest.json');
 */
export function readManifestSync(path: string, remedy?: string): Manifest {
  return parseManifest(readFileSync(regularFile(path), 'utf8'), path, remedy);
}

/**
 * The twnn manifest beside a model file, or undefined when there is none, or
 * the manifest.json there is some other format's (someone else's file).
 * One that is twnn's but malformed is a FormatError.
 *
 * @example const manifest = await manifestBeside('exported/sine/model.onnx'); manifest?.task.loss // 'mse'
 */
export async function manifestBeside(modelPath: string, remedy?: string): Promise<Manifest | undefined> {
  const path = join(dirname(modelPath), MANIFEST_FILE);
  if (!existsSync(path)) return undefined;
  const text = await readFile(regularFile(path), 'utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return parseManifest(text, path, remedy); // throws the JSON error, naming the file
  }
  return isTwnnManifest(parsed) ? checkedManifest(parsed, path, remedy ?? 're-export the model') : undefined;
}

/** `path`, after checking it is a regular file: a FIFO or a folder there is a FormatError, not a hang. */
function regularFile(path: string): string {
  let stat;
  try {
    stat = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FormatError(`${path}: ${code === 'ENOENT' ? 'no such file' : `cannot read it (${code ?? (err as Error).message})`}; export the model first`);
  }
  if (!stat.isFile()) throw new FormatError(`${path}: not a regular file (a ${stat.isDirectory() ? 'folder' : stat.isFIFO() ? 'named pipe' : 'special file'}); a manifest is a JSON file`);
  return path;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
