// What a generated wrapper needs to know about a model: its name, typed
// inputs and outputs, and for twnn exports the fixed-point regions and
// whether the `predict(x)` convenience applies. Read from the .onnx file and,
// for twnn exports, the manifest.json beside it.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { FormatError, TwnnError } from '../ir/errors.js';
import { MANIFEST_FILE } from '../lower/artifacts.js';
import type { Manifest, ManifestValue } from '../lower/manifest.js';
import { inspectModel, type InspectReport, type InspectValue } from '../onnx/inspect.js';
import { readModelFile } from '../onnx/load.js';
import { arrayTypeFor, SUPPORTED_DTYPES } from './dtypes.js';
import { className, kebabCase } from './naming.js';
import { verifyModelBytes } from '../lower/verify.js';

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
  inputs: WrapperValue[];
  outputs: WrapperValue[];
  regions: WrapperRegion[];
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
  const manifest = options.manifest === false ? undefined : await readManifest(path);
  const meta = new Map(report.metadata.map((m) => [m.key, m.value]));
  const modelFile = basename(path);
  const twnn = manifest !== undefined || report.producer.name === 'twnn';
  const role = meta.get('twnn.role');

  const declared = manifest ? manifestIo(manifest, modelFile, report, path) : { inputs: report.inputs.map(fromInspect), outputs: report.outputs.map(fromInspect) };
  // After the I/O check: a manifest of another model says so more usefully than a sha256 mismatch.
  if (manifest && options.verify !== false) await verifyModelBytes(path, new Uint8Array(await readFile(path)));
  const inferenceModel = twnn && role === undefined;
  const inputs = declared.inputs.map((v) => typed(v, 'input', path));
  const outputs = declared.outputs.map((v) => typed(v, 'output', path, inferenceModel ? twnnOutputMeaning(v.name) : undefined));

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
 * The manifest beside `modelPath`, when it is a twnn manifest. A file that
 * is not JSON is an error (it sits where twnn writes its model card); JSON
 * of another format is someone else's file and ignored.
 */
async function readManifest(modelPath: string): Promise<Manifest | undefined> {
  const path = join(dirname(modelPath), MANIFEST_FILE);
  if (!existsSync(path)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new FormatError(`${path}: not valid JSON (${(err as Error).message}); fix or remove it, or pass --no-manifest`);
  }
  const isTwnn = typeof parsed === 'object' && parsed !== null && (parsed as { format?: unknown }).format === 'twnn.manifest';
  return isTwnn ? (parsed as Manifest) : undefined;
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

/** twnn's output contract (docs/DESIGN.md §3), for the outputs' doc comments. */
function twnnOutputMeaning(name: string): string | undefined {
  if (name === 'y') return "the model's output";
  if (name === 'iterations') return 'forward sweeps per sample, summed over the fixed-point regions (1 for a network without regions)';
  if (name === 'residual') return "per sample, the last sweep's change max|S_new - S_old| (the largest over the regions; 0 without regions)";
  const region = /^(iterations|residual)\.(.+)$/.exec(name);
  if (region) return region[1] === 'iterations' ? `forward sweeps per sample in region ${region[2]}` : `per sample, region ${region[2]}'s last change`;
  return undefined;
}

function regionsOf(manifest: Manifest | undefined, report: InspectReport): WrapperRegion[] {
  const configs = manifest
    ? manifest.iterators
    : report.loops.filter((l) => l.depth === 0 && l.config !== undefined).map((l) => l.config as Record<string, unknown>);
  return configs.filter((c) => c.role === undefined || c.role === 'iterate' || c.role === 'forward').map(regionOf);
}

function regionOf(c: Record<string, unknown>): WrapperRegion {
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const wormholes = Array.isArray(c.wormholes) ? (c.wormholes as Record<string, unknown>[]) : [];
  const region: WrapperRegion = {
    region: str(c.region) ?? str(c.node) ?? 'region',
    wormholes: wormholes
      .filter((w) => typeof w.from === 'number' && typeof w.to === 'number')
      .map((w) => ({ from: w.from as number, to: w.to as number, ...(typeof w.gateBias === 'number' ? { gateBias: w.gateBias } : {}) })),
  };
  const tol = num(c.tol);
  const maxIter = num(c.maxIter);
  const norm = str(c.norm);
  const backward = str(c.backward);
  return { ...region, ...(tol !== undefined ? { tol } : {}), ...(maxIter !== undefined ? { maxIter } : {}), ...(norm ? { norm } : {}), ...(backward ? { backward } : {}) };
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
