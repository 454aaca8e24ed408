// manifest.json: the model card written beside the exported .onnx files
// (src/lower/manifest.ts builds it). Deterministic by construction: no
// timestamps, no absolute paths, keys in a fixed order, so two exports of the
// same spec and seed are byte-identical.
import { createHash } from 'node:crypto';
import type { DType, Dim, Value } from '../ir/index.js';
import type { OptimizerSettings, StateSlot } from '../autodiff/optimizers.js';
import type { DataSpec, LossKind } from '../twnn/task.js';
import type { IteratorSettingsRecord } from './iterator-record.js';

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
  /** Its name before its scope was renamed (wormholes were `wormhole_3_1`): runs saved then key its weight by it. */
  formerName?: string;
}

export interface ManifestFile {
  bytes: number;
  sha256: string;
}

/** One exported graph's inputs and outputs, in file order: exactly the names a session takes and returns. */
export interface ManifestGraph {
  inputs: ManifestValue[];
  outputs: ManifestValue[];
}

/** What the model is trained on. */
export interface ManifestTask {
  /** `mse`: target is a float tensor shaped like `y`; `cross_entropy`: int64 class labels `[B]`. */
  loss: LossKind;
  /** The spec's data set, or null when it names none. */
  data: DataSpec | null;
  /** The `target` input of grad.onnx, train.onnx (train_steps.onnx stacks it: `[K, ...]`). */
  target: ManifestValue;
}

/**
 * How train.onnx and train_steps.onnx are driven. A trainer feeds `x`,
 * `target`, `lr` (build-dtype scalar, default `optimizer.lr`), `step` (int64
 * scalar, 1 on the first step; train_steps.onnx takes the first of its K),
 * every name in `trainable` and `buffers` (initial values: model.onnx's
 * initializers) and `<param>.<slot>` for each slot in `state[param]` (zeros at
 * the start), and reads back `<name>.new` for each of them.
 */
export interface ManifestTraining {
  /** Every hyperparameter baked into train.onnx (lr is only the default feed). */
  optimizer: OptimizerSettings;
  /** Parameters the optimizer updates, in declaration order. */
  trainable: string[];
  /** Non-trainable buffers (BatchNorm running statistics), updated by train mode's `<buffer>.new`. */
  buffers: string[];
  /** Optimizer state slots per trainable parameter: `{ '0.weight': ['m', 'v'] }`; `[]` for plain SGD. */
  state: Record<string, StateSlot[]>;
  /**
   * With task.train.fpCorrection: train.onnx minimises `loss` + Σ_k weights[k]·fp_correction[k],
   * its output `fp_correction` [terms] holding each term's task loss (src/lower/fp-correction.ts).
   * Absent without one (and in manifests written before it existed).
   */
  fpCorrection?: { terms: number; gamma: number; phantomSteps: number; weights: number[] };
}

/** A region's forward iterator as the manifest lists it: model.onnx's `twnn.loop:` record of its Loop (src/contract/iterator-record.ts reads it back). */
export type ManifestIterator = { role: 'iterate'; region: string } & IteratorSettingsRecord & { node: string };

/**
 * The model card (docs/DESIGN.md §3).
 *
 * Iteration counts, per sample (int64 `[B]`): model.onnx's `iterations` and
 * train.onnx's `iterations` count forward sweeps, `iterations_backward`
 * reverse (adjoint) sweeps. A network without fixed-point regions does one of
 * each per sample, so both are 1 and `residual` is 0; with regions they are
 * summed over the regions (`residual`: the largest), and model.onnx also
 * gives `iterations.<region>` / `residual.<region>` when there are several.
 */
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
  /**
   * Each fixed-point region's iterator, as in model.onnx's `twnn.loop:` metadata:
   * region, Loop node, tol, maxIter, minIter, norm, wormholes, backward mode and its tol/maxIter.
   */
  iterators: ManifestIterator[];
  /**
   * model.onnx's budget inputs (`tol.<region>`, `max_iter.<region>`) and their
   * defaults, the built tol and maxIter (src/contract/budget.ts); `{}` without
   * regions. Absent in exports from before the budget was an input.
   */
  budget?: Record<string, number>;
  /** Backward mode by region (`implicit`, `unrolled`, `phantom:k`); null for a network without regions (plain reverse mode). */
  backward: Record<string, string> | null;
  /** The loss, data set and target of grad.onnx / train.onnx. */
  task: ManifestTask;
  /** How to drive train.onnx / train_steps.onnx. */
  training: ManifestTraining;
  /** Inputs and outputs of every exported .onnx file, by file name. */
  graphs: Record<string, ManifestGraph>;
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

/**
 * The manifest as file text: two-space JSON and a final newline.
 *
 * @example await writeFileAtomic(join(outDir, 'manifest.json'), manifestText(manifest));
 */
export function manifestText(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/**
 * A graph value as the manifest lists it.
 *
 * @example manifestValue(graph.inputs[0]) // { name: 'x', dtype: 'float32', shape: ['B', 16] }
 */
export function manifestValue(v: Value): ManifestValue {
  return { name: v.name, dtype: v.dtype, shape: [...v.shape] };
}
