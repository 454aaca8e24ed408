// Writing a model's export folder: model.onnx, then manifest.json.
import { join } from 'node:path';
import { numel } from '../ir/index.js';
import { writeFileAtomic } from '../onnx/files.js';
import { DEFAULT_OPSET, serializeModel } from '../onnx/serialize.js';
import type { ModelSpec } from '../twnn/spec.js';
import { buildInferenceGraph, type BuildOptions } from './inference.js';
import { buildManifest, fileEntry, irVersionFor, manifestText, type Manifest } from './manifest.js';

export const MODEL_FILE = 'model.onnx';
export const MANIFEST_FILE = 'manifest.json';

/** What an export wrote. */
export interface ExportResult {
  /** Paths of the written files (`outDir` joined with each file name), manifest last. */
  files: string[];
  manifest: Manifest;
}

/**
 * Export `spec` into `outDir`: `model.onnx` (parameters as initializers,
 * `twnn.*` metadata, the spec's description as doc_string) and
 * `manifest.json`. Each file is written atomically, and the manifest last, so
 * a folder with a manifest holds a complete export. Two exports of the same
 * spec and options are byte-identical.
 *
 * @example
 * const { files, manifest } = await exportModel(sineMlp, 'exported/sine-mlp', { seed: 0 });
 */
export async function exportModel(spec: ModelSpec, outDir: string, options: BuildOptions = {}): Promise<ExportResult> {
  const dtype = options.dtype ?? 'float32';
  const opset = options.opset ?? DEFAULT_OPSET;
  const seed = options.seed ?? 0;
  const { graph, params } = buildInferenceGraph(spec, { ...options, dtype, opset, seed });

  const parameterCount = params.reduce((s, p) => s + numel(p.shape)!, 0);
  const model = serializeModel(graph, {
    opset,
    irVersion: irVersionFor(opset),
    ...(spec.description ? { docString: spec.description } : {}),
    metadata: {
      'twnn.model': spec.name,
      'twnn.dtype': dtype,
      'twnn.seed': String(seed),
      'twnn.params': String(params.length),
      'twnn.parameterCount': String(parameterCount),
    },
  });
  const manifest = buildManifest({ spec, graph, params, dtype, opset, seed, files: { [MODEL_FILE]: fileEntry(model) } });

  const modelPath = join(outDir, MODEL_FILE);
  const manifestPath = join(outDir, MANIFEST_FILE);
  await writeFileAtomic(modelPath, model);
  await writeFileAtomic(manifestPath, manifestText(manifest));
  return { files: [modelPath, manifestPath], manifest };
}
