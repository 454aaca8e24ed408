// The inference graph of a model spec: input `x`, outputs `y`, `iterations`,
// `residual`, parameters as initializers (model.onnx); and the network build
// that the training graphs (training.ts) start from.
import { Graph, SpecError, type DType, type Node, type Tensor, type Value } from '../ir/index.js';
import { DEFAULT_OPSET } from '../onnx/serialize.js';
import { BuildContext, type ParamInfo, type ParamMode, type RegionOverrides } from '../twnn/module.js';
import type { ModelSpec } from '../twnn/spec.js';
import { lowerFixedPoint } from './fixed-point.js';
import { iterationOutputs } from './iterations.js';
import { skipGateOutputs, skipGateThresholds } from './skip-gates.js';

/** Build settings shared by every graph made from a spec. */
export interface BuildOptions {
  /** Float type of parameters and activations (default float32). */
  dtype?: DType;
  /** Default-domain opset (default 17). */
  opset?: number;
  /** Model seed for parameter initialisation (default 0). */
  seed?: number;
  /** Parameter values that replace the drawn ones, by name (trained weights). */
  weights?: ReadonlyMap<string, Tensor>;
  /** Settings that replace every region's own (e.g. `{ tol: 1e-10, backwardTol: 1e-10 }` for an exact gradient check). */
  regionOverrides?: RegionOverrides;
  /** Inference graphs: `off` runs every sample through its skip-gated blocks (a closed gate's branch times 0, as in training) instead of skipping: the same function, without the savings (default `on`). */
  blockSkipping?: 'on' | 'off';
  /** Inference graphs: each region's tol and maxIter are graph inputs (`tol.<region>`, `max_iter.<region>`) instead of constants, as in model.onnx (default false; src/lower/budget.ts). */
  budgetInputs?: boolean;
  /** How float32 GroupNorms that leave `fused` unset are lowered: the fused kernel (default) or the composite (to measure one against the other). */
  groupNorm?: 'fused' | 'composite';
  /** @internal train.onnx with a fixed-point correction: the intermediate iterates each region keeps (src/lower/fp-correction.ts). */
  correctionTerms?: number;
}

/** A built graph with the parameters it declared, in declaration order. */
export interface BuiltGraph {
  graph: Graph;
  params: ParamInfo[];
  /** Each skip-gated block's threshold, by block scope (what its `skip_gate.<block>` output is compared with); absent without such blocks. */
  skipThresholds?: Record<string, number>;
}

/** The lowest opset twnn emits: Softmax and Reduce* semantics are those of opset 13+, BatchNormalization of 15+. */
export const MIN_OPSET = 17;

/**
 * Build `spec`'s inference graph: input `x` (`spec.input.shape`, batch `B`),
 * outputs `y`, `iterations` (int64 [B]) and `residual` ([B]) as docs/DESIGN.md §3's
 * model contract says, parameters as initializers.
 *
 * @example
 * const { graph, params } = buildInferenceGraph(spec, { seed: 1 });
 * params.map((p) => p.name); // the parameters it declared, in order
 */
export function buildInferenceGraph(spec: ModelSpec, options: BuildOptions = {}): BuiltGraph {
  return buildForward(spec, options, 'initializer');
}

/**
 * The forward network of `spec` in a fresh graph, parameters entering as
 * `mode` says, with the model contract's outputs: `y`, `iterations`,
 * `residual` (and per-region ones when there are several regions).
 *
 * @example const { graph, params } = buildForward(spec, { dtype: 'float64' }, 'input');
 */
export function buildForward(spec: ModelSpec, options: BuildOptions, mode: ParamMode): BuiltGraph {
  const net = buildNetwork(spec, options, mode);
  net.graph.output('y', net.y);
  for (const [name, v] of iterationOutputs(net.graph, net.x, net.context.iterators)) net.graph.output(name, v);
  const gates = skipGateOutputs(net.context);
  for (const [name, v] of gates) net.graph.output(name, v);
  return { graph: net.graph, params: net.params, ...(gates.length > 0 ? { skipThresholds: skipGateThresholds(net.context) } : {}) };
}

/** The network built into a fresh graph, before any output is declared. */
export interface BuiltNetwork extends BuiltGraph {
  /** The graph input `x`. */
  x: Value;
  /** The network's output (not yet a graph output). */
  y: Value;
  /** The context it was built with: iterator reports, buffer updates. */
  context: BuildContext;
}

/**
 * Build `spec`'s network into a fresh graph with input `x` and no outputs
 * yet: the common start of the inference and the training graphs.
 * `training` builds train-mode layers (BatchNorm on batch statistics, reporting
 * its running-statistics updates in `context.bufferUpdates`).
 *
 * @example const { graph, x, y, context } = buildNetwork(spec, { dtype: 'float64' }, 'input', true);
 */
export function buildNetwork(spec: ModelSpec, options: BuildOptions, mode: ParamMode, training = false): BuiltNetwork {
  const dtype = options.dtype ?? 'float32';
  const opset = options.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET) throw new SpecError(`model '${spec.name}': opset must be an integer >= ${MIN_OPSET}, got ${opset}`);
  const graph = new Graph(spec.name, undefined, opset);
  if (spec.description) graph.docString = spec.description;
  const context = new BuildContext(graph, {
    dtype,
    seed: options.seed ?? 0,
    mode,
    weights: options.weights,
    training,
    lowerRegion: options.budgetInputs && !training ? (sweeps, config) => lowerFixedPoint(sweeps, config, { budgetInputs: true }) : lowerFixedPoint,
    ...(options.regionOverrides ? { regionOverrides: options.regionOverrides } : {}),
    ...(options.blockSkipping ? { blockSkipping: options.blockSkipping } : {}),
    ...(options.groupNorm ? { groupNorm: options.groupNorm } : {}),
    ...(options.correctionTerms ? { correctionTerms: options.correctionTerms } : {}),
  });
  const x = graph.input('x', dtype, spec.input.shape);
  const y = spec.net.build(context, x);
  if (y.dtype !== dtype) throw new SpecError(`model '${spec.name}': the network's output has dtype ${y.dtype}, expected ${dtype}`);

  const unused = context.unusedWeights();
  if (unused.length > 0) {
    throw new SpecError(`model '${spec.name}': given weights match no parameter: ${unused.join(', ')} (parameters: ${context.params.map((p) => p.name).join(', ')})`);
  }
  if (dtype === 'float64') checkFloat64Kernels(spec.name, graph);
  return { graph, params: context.params, x, y, context };
}

/**
 * onnxruntime's CPU EP has no float64 kernel for some ops (Conv, ConvTranspose,
 * AveragePool, GlobalAveragePool: docs/DESIGN.md §7), and session creation would fail
 * with an opaque message; say so at build time instead. The training graphs
 * run this check again: backward rules may emit such ops too.
 *
 * @example checkFloat64Kernels(spec.name, gradGraph); // throws for a float64 conv network
 */
export function checkFloat64Kernels(model: string, graph: Graph): void {
  const node = firstNode(graph, (n) => n.op.float64Kernel === false);
  if (node) {
    throw new SpecError(
      `model '${model}': node '${node.name}' (${node.opType}) has no float64 kernel in onnxruntime's CPU execution provider; ` +
        'conv networks must be built in float32 (--dtype float32)',
    );
  }
}

function firstNode(graph: Graph, test: (n: Node) => boolean): Node | undefined {
  for (const n of graph.nodes) {
    if (test(n)) return n;
    for (const sub of n.subgraphs()) {
      const hit = firstNode(sub, test);
      if (hit) return hit;
    }
  }
  return undefined;
}
