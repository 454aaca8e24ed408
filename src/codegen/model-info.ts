// What a generated wrapper needs to know about a model: its name, typed
// inputs and outputs, and for twnn exports the fixed-point regions and
// whether the `predict(x)` convenience applies. Read from the .onnx file and,
// for twnn exports, the manifest.json beside it.
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { FormatError, TwnnError } from '../common/errors.js';
import { iteratorRecords, type IteratorRecord } from '../contract/iterator-record.js';
import { outputMeaning } from '../contract/outputs.js';
import { BUDGET_KEY, budgetFromMetadata, decodeBudget, type RegionBudget } from '../contract/budget.js';
import { manifestBeside } from '../contract/read-manifest.js';
import { MANIFEST_FILE } from '../contract/files.js';
import type { Manifest, ManifestValue } from '../contract/manifest.js';
import { inspectModel, type InspectReport, type InspectValue } from '../contract/inspect.js';
import { readModelFile } from '../onnx/load.js';
import { arrayTypeFor, SUPPORTED_DTYPES } from './dtypes.js';
import { className, kebabCase } from './naming.js';
import { verifyModelBytes } from '../contract/verify.js';

/** A declared dimension: a fixed size, a symbol bound at run time (`'B'`), or null when the model leaves it open. */
export type WrapperDim = number | string | null;

/** A model input or output as the wrapper types it. */
export interface WrapperValue {
  name: string;
  /** onnxruntime's element type name (`float32`, `int64`, ...). */
  dtype: string;
  /** The JS typed array holding it (`Float32Array`, `BigInt64Array`, ...). */
  arrayType: string;
  /** Declared dims; null when the model declares no shape at all. */
  shape: WrapperDim[] | null;
  /** What the value means, where twnn's contract says (docs/DESIGN.md §3). */
  meaning?: string;
}

/** A wormhole as twnn records it: block `from`'s output feeds block `to`'s input on the next sweep. */
export interface WrapperWormhole {
  from: number;
  to: number;
  gateBias?: number;
}

/** A fixed-point region's iterator settings, from the manifest or the model's `twnn.loop:` metadata. */
export interface WrapperRegion {
  region: string;
  tol?: number;
  maxIter?: number;
  norm?: string;
  wormholes: WrapperWormhole[];
  backward?: string;
}

/** The `predict(x)` convenience of a twnn inference model. */
export interface WrapperPredict {
  input: WrapperValue;
  /** Elements per sample when `x` is `[B, ...fixed]`, so a flat array's batch size follows from its length; else null. */
  sampleSize: number | null;
  sampleShape: number[] | null;
  /** Whether the model has a `residual` output to guard against divergence. */
  residual: boolean;
}

/** A region's budget inputs (src/contract/budget.ts): the wrapper feeds them, from its `budget` argument or these defaults. */
export interface WrapperBudget {
  region: string;
  tolInput: string;
  maxIterInput: string;
  /** The built tolerance and sweep budget: the defaults. */
  tol: number;
  maxIter: number;
  /** The tol input's element type (`float32` or `float64`). */
  tolType: string;
}

/** Everything the emitter needs. */
export interface WrapperModel {
  /** The model's name (`mnist-mlp`, `mnist-mlp-train`, `conv-net`). */
  name: string;
  className: string;
  /** The default output file's stem. */
  fileStem: string;
  /** The .onnx file's base name. */
  modelFile: string;
  /** The model's description (the manifest's, else the model doc_string); may be empty. */
  description: string;
  /** Where the model comes from, for the doc comment. */
  origin: string;
  twnn: boolean;
  /** The inputs a caller feeds (the budget inputs are `budget`'s). */
  inputs: WrapperValue[];
  outputs: WrapperValue[];
  regions: WrapperRegion[];
  /** Each region's budget inputs, for a model that has them; `[]` otherwise. */
  budget: WrapperBudget[];
  predict?: WrapperPredict;
}

/** How to read a model for codegen. */
export interface DescribeOptions {
  /** Overrides the model name (class and default file name). */
  name?: string;
  /** Read manifest.json beside the model when there is one (default true). */
  manifest?: boolean;
  /** Check the model against the sha256 that the manifest beside it records, refusing a mismatch (default true). */
  verify?: boolean;
}

/**
 * Read a model for codegen. A missing, corrupt or non-ONNX file is a
 * FormatError naming it; an input or output a typed array cannot hold
 * (float16, strings, sequences) is a TwnnError naming the value; a manifest
 * beside a twnn export that does not describe the file is a FormatError.
 *
 * @example
 * const model = await describeModel('exported/mnist-mlp/model.onnx');
 * model.className // 'MnistMlp'
 * model.inputs[0] // { name: 'x', dtype: 'float32', arrayType: 'Float32Array', shape: ['B', 784] }
 */
export async function describeModel(path: string, options: DescribeOptions = {}): Promise<WrapperModel> {
  const report = inspectModel(await readModelFile(path));
  const manifest = options.manifest === false ? undefined : await manifestBeside(path, 'fix or remove it, or pass --no-manifest');
  const meta = new Map(report.metadata.map((m) => [m.key, m.value]));
  const modelFile = basename(path);
  const twnn = manifest !== undefined || report.producer.name === 'twnn';
  const role = meta.get('twnn.role');

  const declared = manifest ? manifestIo(manifest, modelFile, report, path) : { inputs: report.inputs.map(fromInspect), outputs: report.outputs.map(fromInspect) };
  // After the I/O check: a manifest of another model says so more usefully than a sha256 mismatch.
  if (manifest && options.verify !== false) await verifyModelBytes(path, new Uint8Array(await readFile(path)));
  const inferenceModel = twnn && role === undefined;
  const budget = inferenceModel ? budgetOf(manifest ? decodeBudget(manifest.budget, path) : budgetFromMetadata(meta.get(BUDGET_KEY), path), declared.inputs) : [];
  const budgetNames = new Set(budget.flatMap((b) => [b.tolInput, b.maxIterInput]));
  const inputs = declared.inputs.filter((v) => !budgetNames.has(v.name)).map((v) => typed(v, 'input', path));
  const outputs = declared.outputs.map((v) => typed(v, 'output', path, inferenceModel ? outputMeaning(v.name) : undefined));

  const baseName = manifest?.name ?? meta.get('twnn.model') ?? (twnn && report.graphName ? report.graphName : basename(modelFile, extname(modelFile)));
  const name = options.name ?? (role ? `${baseName}-${role}` : baseName);
  return {
    name,
    className: className(name),
    fileStem: kebabCase(name),
    modelFile,
    description: manifest?.description || report.docString,
    origin: twnn
      ? `the twnn export of '${baseName}'${role ? ` (${role} graph)` : ''}, ${modelFile}`
      : `${modelFile} (producer ${[report.producer.name, report.producer.version].filter(Boolean).join(' ') || 'unknown'}, graph '${report.graphName}', opset ${report.opsets.map((o) => (o.domain === 'ai.onnx' ? o.version : `${o.domain} ${o.version}`)).join(', ')})`,
    twnn,
    inputs,
    outputs,
    regions: inferenceModel ? regionsOf(manifest, report) : [],
    budget,
    ...(inferenceModel ? predictOf(inputs, outputs) : {}),
  };
}

interface DeclaredValue {
  name: string;
  dtype: string;
  shape: WrapperDim[] | null;
}

/** inspect reports an open dimension as '?'. */
function fromInspect(v: InspectValue): DeclaredValue {
  return { name: v.name, dtype: v.dtype, shape: v.shape === null ? null : v.shape.map((d) => (d === '?' ? null : d)) };
}

function typed(v: DeclaredValue, kind: 'input' | 'output', where: string, meaning?: string): WrapperValue {
  const arrayType = arrayTypeFor(v.dtype);
  if (arrayType === undefined) {
    const what = /^(sequence|optional|map)</.test(v.dtype) || v.dtype === 'unknown'
      ? `is a ${v.dtype} value, not a tensor`
      : `has element type ${v.dtype}, which no JS typed array holds`;
    throw new TwnnError(`${where}: ${kind} '${v.name}' ${what}; codegen wraps tensors of ${SUPPORTED_DTYPES.join(', ')}`);
  }
  return { name: v.name, dtype: v.dtype, arrayType, shape: v.shape, ...(meaning ? { meaning } : {}) };
}

/**
 * The manifest's inputs and outputs for this file (its `graphs` entry; the
 * top-level ones for a renamed model.onnx), checked against the file itself:
 * a stale manifest must not give the wrapper wrong names or shapes.
 */
function manifestIo(manifest: Manifest, modelFile: string, report: InspectReport, where: string): { inputs: DeclaredValue[]; outputs: DeclaredValue[] } {
  const entry = manifest.graphs?.[modelFile] ?? { inputs: manifest.inputs ?? [], outputs: manifest.outputs ?? [] };
  const fromManifest = (v: ManifestValue): DeclaredValue => ({ name: v.name, dtype: v.dtype, shape: [...v.shape] });
  const io = { inputs: entry.inputs.map(fromManifest), outputs: entry.outputs.map(fromManifest) };
  const inFile = { inputs: report.inputs.map(fromInspect), outputs: report.outputs.map(fromInspect) };
  for (const kind of ['inputs', 'outputs'] as const) {
    const a = io[kind].map(describeDeclared).join(', ');
    const b = inFile[kind].map(describeDeclared).join(', ');
    if (a !== b) {
      throw new FormatError(
        `${where}: the ${MANIFEST_FILE} beside it does not describe this file (${kind}: ${a || 'none'} in the manifest, ${b || 'none'} in the file); re-export the model, or pass --no-manifest`,
      );
    }
  }
  return io;
}

function describeDeclared(v: DeclaredValue): string {
  return `${v.name} ${v.dtype}${v.shape ? `[${v.shape.map((d) => d ?? '?').join(',')}]` : ''}`;
}

/** The budget entries whose inputs the file declares (a budget record without its inputs is a stale manifest, refused earlier). */
function budgetOf(regions: readonly RegionBudget[], inputs: readonly DeclaredValue[]): WrapperBudget[] {
  return regions.flatMap((r) => {
    const tol = inputs.find((v) => v.name === r.tolInput);
    if (!tol || !inputs.some((v) => v.name === r.maxIterInput)) return [];
    return [{ ...r, tolType: tol.dtype }];
  });
}

function regionsOf(manifest: Manifest | undefined, report: InspectReport): WrapperRegion[] {
  const records = manifest ? manifest.iterators : report.loops.filter((l) => l.depth === 0 && l.config !== undefined).map((l) => l.config);
  return iteratorRecords(records).map(regionOf);
}

function regionOf(r: IteratorRecord): WrapperRegion {
  return {
    region: r.region,
    wormholes: r.wormholes.map(({ from, to, gateBias }) => ({ from, to, ...(gateBias !== undefined ? { gateBias } : {}) })),
    tol: r.tol,
    maxIter: r.maxIter,
    ...(r.norm ? { norm: r.norm } : {}),
    ...(r.backward ? { backward: r.backward } : {}),
  };
}

/** `predict(x)` applies to a twnn inference model: one float input `x`, a float `y` and int64 `iterations`. */
function predictOf(inputs: WrapperValue[], outputs: WrapperValue[]): { predict?: WrapperPredict } {
  const isFloat = (v: WrapperValue | undefined) => v !== undefined && (v.dtype === 'float32' || v.dtype === 'float64');
  const [x] = inputs;
  const y = outputs.find((o) => o.name === 'y');
  const iterations = outputs.find((o) => o.name === 'iterations');
  if (inputs.length !== 1 || x!.name !== 'x' || !isFloat(x) || !isFloat(y) || iterations?.dtype !== 'int64') return {};
  const shape = x!.shape;
  const rest = shape?.slice(1) ?? [];
  const flat = shape !== null && shape.length >= 1 && typeof shape[0] === 'string' && rest.every((d): d is number => typeof d === 'number');
  const sampleSize = flat ? (rest as number[]).reduce((a, b) => a * b, 1) : 0;
  return {
    predict: {
      input: x!,
      // A zero-size sample cannot give a batch size from a length.
      sampleSize: sampleSize > 0 ? sampleSize : null,
      sampleShape: sampleSize > 0 ? (rest as number[]) : null,
      residual: outputs.some((o) => o.name === 'residual' && isFloat(o)),
    },
  };
}
