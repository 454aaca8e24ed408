import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { readNpy } from '../data/npy.js';
import type { DType } from '../ir/dtype.js';
import { FormatError, TwnnError } from '../common/errors.js';
import { Tensor } from '../ir/tensor.js';
import { dtypeFromOrt } from '../runtime/ort-tensor.js';
import type { IoInfo } from '../runtime/feeds.js';

/**
 * The feeds for `twnn run` from an input file:
 * - `.json`: a nested array for a single-input model, or `{ "<input>": nestedArray, ... }`;
 *   the dtype is the input's, the shape the array's (it must be rectangular);
 * - `.npy`: the array for a single-input model; a float array of the other
 *   float dtype is converted to the input's (numpy saves float64 by default).
 *
 * @example const feeds = await readInputFile('examples/sine-window.json', session.inputs);
 */
export async function readInputFile(path: string, inputs: readonly IoInfo[]): Promise<Record<string, Tensor>> {
  const feeds = await readFeeds(path, inputs);
  for (const [name, t] of Object.entries(feeds)) checkFinite(t, name, path);
  return feeds;
}

/**
 * Refuse a float input holding NaN or ±Infinity (issue 13): a fixed point
 * fed one diverges, and the error would blame the model instead of the input.
 * Named by its first bad element.
 *
 * @example checkFinite(feeds.x, 'x', 'x.npy');
 */
export function checkFinite(t: Tensor, name: string, file: string): void {
  if (t.dtype !== 'float32' && t.dtype !== 'float64') return;
  const data = t.data as Float32Array | Float64Array;
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad < 0) return;
  let count = 0;
  for (const v of data) if (!Number.isFinite(v)) count++;
  const index: number[] = [];
  for (let rest = bad, k = t.shape.length - 1; k >= 0; k--) {
    index.unshift(rest % (t.shape[k] as number));
    rest = Math.floor(rest / (t.shape[k] as number));
  }
  throw new FormatError(
    `${file}: input '${name}' holds ${data[bad]} at [${index.join(',')}]${count > 1 ? ` (and ${count - 1} more non-finite values)` : ''}; ` +
      'the model needs finite inputs (a fixed point fed one cannot settle)',
  );
}

async function readFeeds(path: string, inputs: readonly IoInfo[]): Promise<Record<string, Tensor>> {
  const ext = extname(path).toLowerCase();
  if (ext !== '.json' && ext !== '.npy') throw new TwnnError(`--input ${path}: expected a .json or .npy file`);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FormatError(`${path}: cannot read input file (${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message})`);
  }
  if (ext === '.npy') {
    const input = singleInput(inputs, path, 'a .npy file');
    return { [input.name]: convertFloat(readNpy(bytes, path), input, path) };
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new FormatError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (Array.isArray(json) || typeof json === 'number' || typeof json === 'boolean') {
    const input = singleInput(inputs, path, 'a bare JSON array');
    return { [input.name]: tensorFromJson(json, inputDType(input, path), input.name, path) };
  }
  if (typeof json !== 'object' || json === null) {
    throw new FormatError(`${path}: expected a nested array or an object {"<input name>": nestedArray}, got ${json === null ? 'null' : typeof json}`);
  }
  const feeds: Record<string, Tensor> = {};
  for (const [name, value] of Object.entries(json)) {
    const input = inputs.find((i) => i.name === name);
    // Unknown names still become feeds: the session rejects them, listing the model's inputs.
    const dtype = input ? inputDType(input, path) : 'float32';
    feeds[name] = tensorFromJson(value, dtype, name, path);
  }
  return feeds;
}

/** The largest finite float32. */
const FLOAT32_MAX = 3.4028234663852886e38;

/** The deepest nesting a JSON input may have (ONNX Runtime's CPU kernels stop well below it). */
const MAX_JSON_RANK = 32;

/**
 * A tensor from a nested JSON array (or a bare number for a scalar), of
 * `dtype`. Ragged arrays, non-numbers and non-integers for integer dtypes are
 * FormatErrors naming the file, the array and the offending index path (`x[1][0]`).
 *
 * @example tensorFromJson([[1, 2], [3, 4]], 'float32', 'x', 'x.json').shape // [2, 2]
 */
export function tensorFromJson(value: unknown, dtype: DType, name: string, file: string): Tensor {
  const where = `${file}: ${name}`;
  const shape: number[] = [];
  for (let v = value; Array.isArray(v) && shape.length <= MAX_JSON_RANK; v = v[0]) shape.push(v.length);
  // The walk below recurses once per axis: refuse absurd nesting before it overflows the stack.
  if (shape.length > MAX_JSON_RANK) throw new FormatError(`${where}: arrays nested more than ${MAX_JSON_RANK} deep; a tensor has at most ${MAX_JSON_RANK} dimensions here`);
  const flat: number[] = [];
  const walk = (v: unknown, axis: number, path: string) => {
    if (axis === shape.length) {
      flat.push(scalarValue(v, dtype, `${where}${path}`));
      return;
    }
    // The shape was read along the first elements; name that path in the error.
    const first = `${name}${path.replace(/\[\d+\]/g, '[0]')}`;
    if (!Array.isArray(v)) {
      throw new FormatError(`${where}${path}: is ${describe(v)} where ${first} is an array of ${shape[axis]} (the array is not rectangular)`);
    }
    if (v.length !== shape[axis]) {
      throw new FormatError(`${where}${path}: has ${v.length} elements where ${first} has ${shape[axis]} (the array is not rectangular)`);
    }
    v.forEach((item, i) => walk(item, axis + 1, `${path}[${i}]`));
  };
  walk(value, 0, '');
  return Tensor.fromNumbers(dtype, shape, flat);
}

function scalarValue(v: unknown, dtype: DType, where: string): number {
  if (dtype === 'bool' && typeof v === 'boolean') return v ? 1 : 0;
  if (Array.isArray(v)) throw new FormatError(`${where}: expected a number, got an array (the array is not rectangular)`);
  if (typeof v !== 'number') throw new FormatError(`${where}: expected a number, got ${describe(v)}`);
  // JSON has no NaN, but 1e999 parses as Infinity, and 1e39 becomes Infinity in float32.
  if (!Number.isFinite(v)) throw new FormatError(`${where}: a number too large for any float (JSON ${v > 0 ? '' : '-'}1e309 or beyond)`);
  if (dtype === 'float32' && Math.abs(v) > FLOAT32_MAX) throw new FormatError(`${where}: ${v} overflows float32 (largest ${FLOAT32_MAX.toExponential(6)})`);
  if (dtype !== 'float32' && dtype !== 'float64' && !Number.isSafeInteger(v)) {
    throw new FormatError(`${where}: expected an integer for ${dtype}, got ${v}`);
  }
  return v;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? `the string ${JSON.stringify(v.slice(0, 20))}` : `${typeof v} ${String(v)}`;
}

function singleInput(inputs: readonly IoInfo[], path: string, what: string): IoInfo {
  if (inputs.length === 1) return inputs[0];
  throw new TwnnError(
    `${path}: ${what} feeds a model with one input, but this one has ${inputs.length} (${inputs.map((i) => i.name).join(', ')}); ` +
      `use a JSON object {"<input name>": nestedArray, ...}`,
  );
}

function inputDType(input: IoInfo, path: string): DType {
  const dtype = dtypeFromOrt(input.type);
  if (!dtype) throw new TwnnError(`${path}: input '${input.name}' has type ${input.type}, which twnn cannot feed`);
  return dtype;
}

function convertFloat(t: Tensor, input: IoInfo, path: string): Tensor {
  const floats = ['float32', 'float64'];
  if (t.dtype === input.type || !floats.includes(t.dtype) || !floats.includes(input.type)) return t;
  return Tensor.fromNumbers(inputDType(input, path), t.shape, t.toNumbers());
}
