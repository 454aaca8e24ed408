// Building manifest.json (src/contract/manifest.ts says what it holds) from
// the graphs an export built.
import { numel, type DType, type Graph } from '../ir/index.js';
import { irVersionFor, manifestValue, MANIFEST_VERSION, type Manifest, type ManifestFile, type ManifestGraph, type ManifestIterator, type ManifestTask, type ManifestTraining } from '../contract/manifest.js';
import type { ParamInfo } from '../twnn/module.js';
import type { ModelSpec } from '../twnn/spec.js';

/** What `buildManifest` needs besides the spec. */
export interface ManifestInput {
  spec: ModelSpec;
  graph: Graph;
  params: readonly ParamInfo[];
  dtype: DType;
  opset: number;
  seed: number;
  task: ManifestTask;
  training: ManifestTraining;
  /** The exported graphs by file name (model.onnx's gives `inputs`/`outputs`). */
  graphs: Record<string, Graph>;
  files: Record<string, ManifestFile>;
  /** Iterator configs of the model's regions (empty for plain networks). */
  iterators?: ManifestIterator[];
  /** model.onnx's budget inputs and their defaults (src/contract/budget.ts); omitted: none. */
  budget?: Record<string, number>;
}

/**
 * The manifest of an export.
 *
 * @example
 * const manifest = buildManifest({
 *   spec, graph, params, dtype, opset, seed, task, training,
 *   graphs: { 'model.onnx': graph, 'train.onnx': train.graph },
 *   files: { 'model.onnx': fileEntry(bytes), 'train.onnx': fileEntry(trainBytes) },
 * });
 */
export function buildManifest(m: ManifestInput): Manifest {
  const params = m.params.map((p) => ({
    name: p.name,
    shape: [...p.shape],
    dtype: p.dtype,
    trainable: p.trainable,
    numel: numel(p.shape)!,
    ...(p.formerName ? { formerName: p.formerName } : {}),
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
    iterators: m.iterators ?? [],
    ...(m.budget ? { budget: m.budget } : {}),
    backward: m.iterators?.length
      ? Object.fromEntries(m.iterators.map((it) => [it.region, it.backward]))
      : null,
    task: m.task,
    training: m.training,
    graphs: Object.fromEntries(Object.keys(m.graphs).sort().map((k) => [k, manifestGraph(m.graphs[k])])),
    files: Object.fromEntries(Object.keys(m.files).sort().map((k) => [k, m.files[k]])),
  };
}

function manifestGraph(g: Graph): ManifestGraph {
  return { inputs: g.inputs.map(manifestValue), outputs: g.outputs.map(manifestValue) };
}
