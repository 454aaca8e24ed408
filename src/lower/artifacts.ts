// Writing a model's export folder: model.onnx, grad.onnx, train.onnx,
// train_steps.onnx (jvp.onnx and spectral.onnx on request), then manifest.json.
import { join } from 'node:path';
import { numel, type Graph, type Tensor } from '../ir/index.js';
import { writeFilesAtomic } from '../common/files.js';
import { withFolderLock } from '../common/folder-lock.js';
import { DEFAULT_OPSET, serializeModel } from '../onnx/serialize.js';
import type { OnnxTypes } from '../onnx/proto.js';
import { withInitializers } from '../onnx/reweight.js';
import type { ModelSpec } from '../twnn/spec.js';
import { GRAD_FILE, JVP_FILE, MANIFEST_FILE, MODEL_FILE, SPECTRAL_FILE, TRAIN_FILE, TRAIN_STEPS_FILE } from '../contract/files.js';
import { fileEntry, irVersionFor, manifestText, manifestValue, type Manifest, type ManifestFile } from '../contract/manifest.js';
import { DTYPE_KEY, LOSS_KEY, MODEL_NAME_KEY, OPTIMIZER_KEY, PARAMETER_COUNT_KEY, PARAMS_KEY, ROLE_KEY, SEED_KEY, SKIP_GATES_KEY } from '../contract/metadata-keys.js';
import { BUDGET_KEY, encodeBudget } from '../contract/budget.js';
import { iteratorRecordsOf, loopMetadata } from './fixed-point.js';
import { correctionWeights } from './fp-correction.js';
import { buildInferenceGraph } from './inference.js';
import { buildJvpGraph } from './jvp.js';
import { buildManifest } from './manifest.js';
import { buildSpectralGraph } from './spectral.js';
import { buildGradGraph, buildTrainGraph, buildTrainStepsGraph, type TrainingBuildOptions } from './training.js';

/** Export options: the build settings, the loss and the optimizer baked into train.onnx. */
export interface ExportOptions extends TrainingBuildOptions {
  /** Also write jvp.onnx, the forward-mode graph (inputs x, x_dot; outputs y, y_dot, ...). Default false. */
  jvp?: boolean;
  /** Also write spectral.onnx (src/lower/spectral.ts: inputs x, power_steps and the parameters; output spectral_radius). Default false. */
  spectral?: boolean;
}

/** What an export wrote. */
export interface ExportResult {
  /** Paths of the written files (`outDir` joined with each file name), manifest last. */
  files: string[];
  manifest: Manifest;
}

/**
 * Export `spec` into `outDir`: `model.onnx` (parameters as initializers,
 * `twnn.*` metadata, the spec's description as doc_string), `grad.onnx`,
 * `train.onnx`, `train_steps.onnx` (parameters as inputs, docs/DESIGN.md §3), with
 * `options.jvp` also `jvp.onnx` (src/lower/jvp.ts: parameters as
 * initializers), with `options.spectral` also `spectral.onnx`
 * (src/lower/spectral.ts: parameters as inputs), and `manifest.json`. Every graph is built before anything
 * is written, and the files are written all or nothing (a full disk or a
 * read-only folder leaves it as it was, with an error naming the path and the
 * cause). The folder is locked while it is written: another twnn writing
 * there is refused (src/common/folder-lock.ts). Two exports of the same spec and options are
 * byte-identical. The optimizer comes from `options.optimizer`, then the
 * spec's `task.train`, then Adam with lr 1e-3.
 *
 * @example
 * const { files, manifest } = await exportModel(sineMlp, 'exported/sine-mlp', { seed: 0, optimizer: { kind: 'sgd', momentum: 0.9 } });
 */
export async function exportModel(spec: ModelSpec, outDir: string, options: ExportOptions = {}): Promise<ExportResult> {
  return withFolderLock(outDir, 'build', () => writeExport(stageExport(spec, options), outDir));
}

/** An export built in memory, nothing written yet: each file's name and bytes (manifest.json excluded), and the manifest. */
export interface StagedExport {
  files: [name: string, bytes: Uint8Array][];
  manifest: Manifest;
}

/**
 * Build everything `exportModel` writes, writing nothing: a caller can check
 * the export (a trainer, its checkpoint against the manifest) or put other
 * weights into model.onnx (`reweightExport`) before `writeExport`.
 *
 * @example
 * const staged = stageExport(sineMlp, { seed: 0 });
 * await writeExport(staged, 'exported/sine-mlp');
 */
export function stageExport(spec: ModelSpec, options: ExportOptions = {}): StagedExport {
  const dtype = options.dtype ?? 'float32';
  const opset = options.opset ?? DEFAULT_OPSET;
  const seed = options.seed ?? 0;
  const build = { ...options, dtype, opset, seed };
  // model.onnx takes each region's tol and maxIter as inputs (src/lower/budget.ts); the training graphs keep them built in.
  const { graph, params, skipThresholds } = buildInferenceGraph(spec, { ...build, budgetInputs: true });
  const iterators = iteratorRecordsOf(graph);
  const budget = encodeBudget(iterators);
  const grad = buildGradGraph(spec, build);
  const train = buildTrainGraph(spec, build);
  const steps = buildTrainStepsGraph(spec, build, train);
  const jvp = options.jvp ? buildJvpGraph(spec, build) : undefined;
  const spectral = options.spectral ? buildSpectralGraph(spec, build) : undefined;

  const parameterCount = params.reduce((s, p) => s + numel(p.shape)!, 0);
  const common = {
    [MODEL_NAME_KEY]: spec.name,
    [DTYPE_KEY]: dtype,
    [SEED_KEY]: String(seed),
    [PARAMS_KEY]: String(params.length),
    [PARAMETER_COUNT_KEY]: String(parameterCount),
  };
  const serialize = (g: Graph, role?: { name: string; doc: string }) => {
    const docString = [spec.description, role && `${role.name}: ${role.doc}`].filter(Boolean).join('\n');
    return serializeModel(g, {
      opset,
      irVersion: irVersionFor(opset),
      ...(docString ? { docString } : {}),
      metadata: role
        ? { ...common, [ROLE_KEY]: role.name, [LOSS_KEY]: train.loss, [OPTIMIZER_KEY]: JSON.stringify(train.optimizer), ...loopMetadata(g) }
        : {
            ...common,
            ...loopMetadata(g),
            ...(skipThresholds ? { [SKIP_GATES_KEY]: JSON.stringify(skipThresholds) } : {}),
            ...(iterators.length > 0 ? { [BUDGET_KEY]: JSON.stringify(budget) } : {}),
          },
    });
  };
  const bytes: StagedExport['files'] = [
    [MODEL_FILE, serialize(graph)],
    [GRAD_FILE, serialize(grad.graph, { name: 'grad', doc: 'the loss of a batch and its gradient for every parameter and the input' })],
    [TRAIN_FILE, serialize(train.graph, { name: 'train', doc: 'one optimizer step' })],
    [TRAIN_STEPS_FILE, serialize(steps.graph, { name: 'train_steps', doc: 'K optimizer steps over a [K, B, ...] stack of batches' })],
  ];
  if (jvp) bytes.push([JVP_FILE, serialize(jvp.graph, { name: 'jvp', doc: 'forward mode: y and y_dot, its derivative along x_dot' })]);
  if (spectral) bytes.push([SPECTRAL_FILE, serialize(spectral.graph, { name: 'spectral', doc: "per sample, each region's spectral radius of dF/dS at its fixed point (power iteration)" })]);
  const files: Record<string, ManifestFile> = Object.fromEntries(bytes.map(([name, b]) => [name, fileEntry(b)]));
  const target = train.graph.inputs.find((v) => v.name === 'target')!;
  const manifest = buildManifest({
    spec,
    graph,
    params,
    dtype,
    opset,
    seed,
    task: { loss: train.loss, data: spec.task?.data ?? null, target: manifestValue(target) },
    training: {
      optimizer: train.optimizer!,
      trainable: train.trainable,
      buffers: train.buffers,
      state: train.state,
      ...(train.fpCorrection ? { fpCorrection: { ...train.fpCorrection, weights: correctionWeights(train.fpCorrection) } } : {}),
    },
    graphs: { [MODEL_FILE]: graph, [GRAD_FILE]: grad.graph, [TRAIN_FILE]: train.graph, [TRAIN_STEPS_FILE]: steps.graph, ...(jvp ? { [JVP_FILE]: jvp.graph } : {}), ...(spectral ? { [SPECTRAL_FILE]: spectral.graph } : {}) },
    files,
    iterators,
    budget,
  });

  return { files: bytes, manifest };
}

/**
 * The staged export with `weights` as model.onnx's initializers (each must
 * name one, with its dtype and shape, src/onnx/reweight.ts) and the manifest's
 * sha256 of the new bytes: what exporting the spec with these weights would
 * write (the other graphs take the parameters as inputs and do not change).
 * `model` is the staged model.onnx decoded; `where` names it in errors.
 *
 * @example const resumed = reweightExport(staged, parseModel(modelBytes, path), checkpoint.params, path);
 */
export function reweightExport(staged: StagedExport, model: OnnxTypes.IModelProto, weights: ReadonlyMap<string, Tensor>, where: string): StagedExport {
  const bytes = withInitializers(model, weights, where);
  return {
    files: staged.files.map(([name, b]): [string, Uint8Array] => [name, name === MODEL_FILE ? bytes : b]),
    manifest: { ...staged.manifest, files: { ...staged.manifest.files, [MODEL_FILE]: fileEntry(bytes) } },
  };
}

/**
 * Write a staged export into `outDir`, all or nothing (a full disk or a
 * read-only folder leaves it as it was), under the folder's lock.
 *
 * @example const { files } = await writeExport(stageExport(sineMlp), 'exported/sine-mlp');
 */
export async function writeExport(staged: StagedExport, outDir: string): Promise<ExportResult> {
  return withFolderLock(outDir, 'build', async () => {
    const paths = staged.files.map(([name]) => join(outDir, name));
    const manifestPath = join(outDir, MANIFEST_FILE);
    // All or nothing: a full disk leaves the folder as it was, not model.onnx without its manifest.
    await writeFilesAtomic([...staged.files.map(([, b], i) => [paths[i], b] as const), [manifestPath, manifestText(staged.manifest)]]);
    return { files: [...paths, manifestPath], manifest: staged.manifest };
  });
}
