// manifest.json: the model card written beside the exported .onnx files.
// Deterministic by construction: no timestamps, no absolute paths, keys in a
// fixed order, so two exports of the same spec and seed are byte-identical.
import { createHash } from 'node:crypto';
import { numel, type DType, type Dim, type Graph, type Value } from '../ir/index.js';
import type { ParamInfo } from '../twnn/module.js';
import type { ModelSpec } from '../twnn/spec.js';

/** Bumped when the manifest's layout changes incompatibly. */
export const MANIFEST_VERSION = 1;

/** A graph input or output as the manifest lists it. */
export interface ManifestValue {
  name: string;
  dtype: DType;
  /** Symbols (`'B'`) for dimensions known only at run time. */
  shape: Dim[];
}

export interface ManifestParam {
  name: string;
  shape: number[];
  dtype: DType;
  trainable: boolean;
  numel: number;
}

export interface ManifestFile {
  bytes: number;
  sha256: string;
}

/** The model card (DESIGN §3). */
export interface Manifest {
  format: 'twnn.manifest';
  version: number;
  name: string;
  description: string;
  dtype: DType;
  opset: number;
  irVersion: number;
  seed: number;
  inputs: ManifestValue[];
  outputs: ManifestValue[];
  params: ManifestParam[];
  /** Total elements over all params (buffers included). */
  parameterCount: number;
  /** Total elements over trainable params only. */
  trainableParameterCount: number;
  /** Fixed-point iterator configs (filled once regions are lowered). */
  iterators: unknown[];
  /** Backward mode of grad.onnx/train.onnx; null while only model.onnx is exported. */
  backward: unknown;
  /** Every exported file by its name in the export folder. */
  files: Record<string, ManifestFile>;
}

/**
 * The IR version that goes with an opset (onnx's release table): IR 8 up to
 * opset 18, 9 for 19-20, 10 for 21-22, 11 from 23.
 *
 * @example irVersionFor(17) // 8
 */
export function irVersionFor(opset: number): number {
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  if (opset <= 22) return 10;
  return 11;
}

/**
 * Size and sha256 of a file's bytes.
 *
 * @example fileEntry(bytes) // { bytes: 1234, sha256: '9f86d0…' }
 */
export function fileEntry(bytes: Uint8Array): ManifestFile {
  return { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** What `buildManifest` needs besides the spec. */
export interface ManifestInput {
  spec: ModelSpec;
  graph: Graph;
  params: readonly ParamInfo[];
  dtype: DType;
  opset: number;
  seed: number;
  files: Record<string, ManifestFile>;
}

/**
 * The manifest of an export.
 *
 * @example const manifest = buildManifest({ spec, graph, params, dtype, opset, seed, files: { 'model.onnx': fileEntry(bytes) } });
 */
export function buildManifest(m: ManifestInput): Manifest {
  const params = m.params.map((p) => ({
    name: p.name,
    shape: [...p.shape],
    dtype: p.dtype,
    trainable: p.trainable,
    numel: numel(p.shape)!,
  }));
  return {
    format: 'twnn.manifest',
    version: MANIFEST_VERSION,
    name: m.spec.name,
    description: m.spec.description ?? '',
    dtype: m.dtype,
    opset: m.opset,
    irVersion: irVersionFor(m.opset),
    seed: m.seed,
    inputs: m.graph.inputs.map(manifestValue),
    outputs: m.graph.outputs.map(manifestValue),
    params,
    parameterCount: params.reduce((s, p) => s + p.numel, 0),
    trainableParameterCount: params.filter((p) => p.trainable).reduce((s, p) => s + p.numel, 0),
    iterators: [],
    backward: null,
    files: Object.fromEntries(Object.keys(m.files).sort().map((k) => [k, m.files[k]])),
  };
}

/**
 * The manifest as file text: two-space JSON and a final newline.
 *
 * @example await writeFileAtomic(join(outDir, 'manifest.json'), manifestText(manifest));
 */
export function manifestText(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

function manifestValue(v: Value): ManifestValue {
  return { name: v.name, dtype: v.dtype, shape: [...v.shape] };
}
