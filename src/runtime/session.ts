import * as ort from 'onnxruntime-node';
import { FormatError, TwnnError } from '../common/errors.js';
import type { Tensor } from '../ir/tensor.js';
import { parseModel, readModelBytes } from '../onnx/load.js';
import { onnx, type OnnxTypes } from '../onnx/proto.js';
import { withBlockedConvolutions } from '../onnx/blocked-conv.js';
import { nchwcBlockSize } from './blocked-conv-probe.js';
import { printable } from '../ir/text.js';
import {
  applyTf32Setting,
  assertDeviceAvailable,
  formatDevice,
  oneLine,
  parseDevice,
  sessionOptionsFor,
  threadsFromEnvironment,
  type Device,
} from './device.js';
import { sessionCreationError } from './session-error.js';
import { validateFeeds, type IoInfo } from './feeds.js';
import { budgetFeeds, modelBudget, resolveBudget, type BudgetSetting } from './budget.js';
import type { RegionBudget } from '../contract/budget.js';
import { fromOrtTensor, toOrtTensor } from './ort-tensor.js';
import { verifyModelBytes } from '../contract/verify.js';

/** How to open a session. */
export interface OpenOptions {
  /** `cpu` (default), `cuda`, `cuda:N`, or a parsed Device. */
  device?: Device | string;
  /** Allow TF32 matmuls on the GPU (default: the CUDA EP's own default, on). */
  tf32?: boolean;
  /** Names the model in messages when it is given as bytes (default `model`). */
  where?: string;
  /** onnxruntime-node's native directory, where the CUDA EP libraries are looked for (tests inject one). */
  nativeDir?: string;
  /**
   * Check a model file against the sha256 that the manifest.json beside it
   * records, and refuse it when they differ (default true; a file without a
   * manifest is not checked).
   */
  verify?: boolean;
  /**
   * onnxruntime's graph optimisation level (default `all`, onnxruntime's own
   * default): tools/ort-levels.ts measures what each level pays on our Loops.
   */
  graphOptimization?: GraphOptimization;
  /**
   * Each fixed-point region's tol and maxIter for every run of this session,
   * instead of the built ones (src/runtime/budget.ts): the model's budget
   * inputs are fed from it where a run does not feed them itself. A model
   * exported before the budget was an input refuses any setting.
   */
  budget?: BudgetSetting;
  /**
   * On the CPU, run the convolutions whose weights are graph inputs (every
   * training graph's) on onnxruntime's blocked NCHWc kernels, as it does by
   * itself for weights that are initializers (src/onnx/blocked-conv.ts).
   * Default true; `TWNN_BLOCKED_CONV=0` in the environment turns it off, for
   * comparisons. The model file is not changed.
   */
  blockedConvolutions?: boolean;
  /**
   * onnxruntime's intra-op threads on the CPU (default: one per physical core;
   * `TWNN_THREADS=n` in the environment sets it for every session). Small
   * models can run faster on one thread, as PyTorch's can.
   */
  threads?: number;
}

/** onnxruntime's graph optimisation levels, least to most. */
export const GRAPH_OPTIMIZATIONS = ['disabled', 'basic', 'extended', 'all'] as const;
export type GraphOptimization = (typeof GRAPH_OPTIMIZATIONS)[number];

/**
 * An onnxruntime-node session that speaks twnn Tensors and checks every feed
 * against the model first (onnxruntime silently ignores unknown feed names).
 *
 * @example
 * const session = await openSession('exported/sine-mlp/model.onnx', { device: 'cpu' });
 * const { y } = await session.run({ x: Tensor.fromNumbers('float32', [1, 16], new Array(16).fill(0.5)) });
 * await session.close();
 */
export class TwnnSession {
  constructor(
    private readonly session: ort.InferenceSession,
    readonly device: Device,
    /** The model's feedable inputs, in model order. */
    readonly inputs: readonly IoInfo[],
    readonly outputs: readonly IoInfo[],
    /** The model file (or `where`), for messages. */
    readonly where: string,
    /** Each region's budget inputs and what a run feeds them unless it feeds them itself (the built values, or OpenOptions.budget); `[]` for a model without. */
    readonly budget: readonly RegionBudget[] = [],
  ) {}

  get inputNames(): string[] {
    return this.inputs.map((i) => i.name);
  }

  get outputNames(): string[] {
    return this.outputs.map((o) => o.name);
  }

  /** The inputs a caller feeds: all but the budget inputs, which a run fills from `budget`. */
  get dataInputs(): IoInfo[] {
    const budget = new Set(this.budget.flatMap((b) => [b.tolInput, b.maxIterInput]));
    return this.inputs.filter((i) => !budget.has(i.name));
  }

  /** The declared input `name`, or undefined. */
  input(name: string): IoInfo | undefined {
    return this.inputs.find((i) => i.name === name);
  }

  /**
   * Run the model. Budget inputs not fed are fed from `budget`; feeds are
   * validated first (names, dtypes, ranks, sizes, budget values); returns
   * every output by name.
   */
  async run(given: Readonly<Record<string, Tensor>>): Promise<Record<string, Tensor>> {
    const feeds = { ...given, ...budgetFeeds(this.budget, this.inputs, given, this.where) };
    validateFeeds(this.inputs, feeds, this.where);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrtTensor(t);
    let out: ort.InferenceSession.ReturnType;
    try {
      out = await this.session.run(ortFeeds);
    } catch (err) {
      throw new TwnnError(`${this.where}: onnxruntime failed to run on ${formatDevice(this.device)}: ${oneLine(String((err as Error).message ?? err))}`);
    }
    const result: Record<string, Tensor> = {};
    for (const name of this.outputNames) result[name] = fromOrtTensor(out[name], name);
    return result;
  }

  /** Release the native session. */
  async close(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Open `model` (a path or the `.onnx` bytes) on a device. A missing, empty or
 * non-ONNX file is a FormatError naming it; a cuda device without the CUDA EP,
 * or whose session cannot be created, is a one-line TwnnError saying how to
 * set it up. There is never a CPU fallback for a cuda device. A file that
 * no longer matches the manifest.json beside it is refused (`verify: false`
 * skips the check).
 *
 * @example
 * const session = await openSession(bytes, { device: 'cuda:0', where: 'sine-mlp' });
 */
export async function openSession(model: string | Uint8Array, options: OpenOptions = {}): Promise<TwnnSession> {
  const device = typeof options.device === 'string' ? parseDevice(options.device) : (options.device ?? { kind: 'cpu' });
  const where = typeof model === 'string' ? model : (options.where ?? 'model');
  assertDeviceAvailable(device, options.nativeDir);
  const bytes = typeof model === 'string' ? await readModelBytes(model) : model;
  if (typeof model === 'string' && options.verify !== false) await verifyModelBytes(model, bytes);
  const proto = parseModel(bytes, where);
  const declared = declaredShapes(proto);
  // Before the native session exists: a bad budget leaks nothing.
  const budget = resolveBudget(modelBudget(proto, where), options.budget ?? {}, where);
  if (device.kind === 'cuda') applyTf32Setting(options.tf32);
  let session: ort.InferenceSession;
  try {
    const level = options.graphOptimization ? { graphOptimizationLevel: options.graphOptimization } : {};
    // onnxruntime logs straight to stderr, quoting the model's names as they are: a name with escape
    // codes would reach the terminal raw (issue 23, item 11). For such a model its log is silenced
    // (fatal only); every other model keeps onnxruntime's warnings.
    const quiet = hasUnprintableName(proto) ? { logSeverityLevel: 4 as const } : {};
    session = await ort.InferenceSession.create(await cpuKernelBytes(proto, bytes, device, options), { ...sessionOptionsFor(device, options.threads ?? threadsFromEnvironment()), ...level, ...quiet });
  } catch (err) {
    throw sessionCreationError(err, device, where);
  }
  const info = (m: ort.InferenceSession.ValueMetadata): IoInfo => {
    if (!m.isTensor) return { name: m.name, type: 'non-tensor' };
    // onnxruntime reports an undeclared shape as [], like a scalar's; the proto tells them apart.
    return declared.has(m.name) ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name, type: m.type };
  };
  return new TwnnSession(session, device, session.inputMetadata.map(info), session.outputMetadata.map(info), where, budget);
}


/**
 * The bytes onnxruntime opens: on the CPU with blocked convolutions on, the model with its input-weight convolutions on NCHWc kernels, when it has any.
 *
 * @example const bytes = await cpuKernelBytes(parseModel(raw, 'grad.onnx'), raw, { kind: 'cpu' }, {});
 */
export async function cpuKernelBytes(proto: OnnxTypes.IModelProto, bytes: Uint8Array, device: Device, options: OpenOptions): Promise<Uint8Array> {
  const wanted = options.blockedConvolutions ?? process.env.TWNN_BLOCKED_CONV !== '0';
  if (device.kind !== 'cpu' || !wanted) return bytes;
  const rewrite = withBlockedConvolutions(proto, await nchwcBlockSize());
  return rewrite.convs + rewrite.transposed > 0 ? onnx.ModelProto.encode(rewrite.model).finish() : bytes;
}

/**
 * Names of the graph inputs and outputs that declare a shape. Parsing the
 * model first also turns an empty, truncated or foreign file into a
 * FormatError before onnxruntime sees it.
 */
function declaredShapes(model: OnnxTypes.IModelProto): Set<string> {
  const graph = model.graph!;
  const names = new Set<string>();
  for (const v of [...(graph.input ?? []), ...(graph.output ?? [])]) {
    if (v.name && v.type?.tensorType?.shape) names.add(v.name);
  }
  return names;
}

/** Whether any name onnxruntime may quote in its log (graphs, nodes, values, initializers, op types, domains), in any subgraph, holds a control character. */
function hasUnprintableName(model: OnnxTypes.IModelProto): boolean {
  const unprintable = (text: string | null | undefined) => !!text && printable(text) !== text;
  const visit = (g: OnnxTypes.IGraphProto): boolean =>
    unprintable(g.name) ||
    [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? []), ...(g.initializer ?? [])].some((v) => unprintable(v.name)) ||
    (g.node ?? []).some(
      (n) =>
        [n.name, n.opType, n.domain, ...(n.input ?? []), ...(n.output ?? [])].some(unprintable) ||
        (n.attribute ?? []).some((a) => unprintable(a.name) || [...(a.g ? [a.g] : []), ...(a.graphs ?? [])].some(visit)),
    );
  return visit(model.graph ?? {}) || (model.opsetImport ?? []).some((o) => unprintable(o.domain));
}

