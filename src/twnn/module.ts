// Modules and the context they build into.
//
// A Module is a description (a layer's sizes and options) that emits its ONNX
// nodes when built. Parameters are declared during the build through
// `ctx.param`, which names them like PyTorch state_dict keys (dot-scoped) and
// decides whether they become initializers (model.onnx) or graph inputs
// (grad.onnx / train.onnx).
import { totalmem } from 'node:os';
import { dtypeBytes, formatBytes, isFloat, SpecError, Tensor, formatShape, type DType, type Graph, type Value } from '../ir/index.js';
import { describeInit, sample, type Init } from './init.js';
import type { IteratorReport, RegionLowering, RegionOverrides } from './iterator.js';
import { Rng } from '../common/rng.js';

export type { IteratorReport, RegionOverrides } from './iterator.js';

/**
 * A network building block. `build` emits the block's nodes into `ctx.graph`
 * and returns its output value.
 *
 * @example
 * const double: Module = { kind: 'double', build: (ctx, x) => ops.add(ctx.graph, x, x) };
 */
export interface Module {
  /** The layer type, e.g. 'dense', 'conv2d', 'sequential' (for messages and introspection). */
  readonly kind: string;
  build(ctx: BuildContext, x: Value): Value;
  /**
   * An upper bound on the module's Lipschitz constant in ℓ2 per sample, from its
   * parameters (declared by an earlier `build` in the same scope): what a
   * contractive region (src/twnn/contractive.ts) scales its wormholes by.
   * Absent: the module cannot be bounded, and such a region refuses it.
   *
   * @example const tanhLayer: Module = { kind: 'tanh', build: (ctx, x) => ops.tanh(ctx.graph, x), lipschitz: () => 1 };
   */
  lipschitz?(ctx: BuildContext): number | Value;
}

/** One declared parameter (or non-trainable buffer) with its initial or given value. */
export interface ParamInfo {
  /** Dot-scoped like a PyTorch state_dict key: `block1.conv1.weight`. */
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** False for buffers such as BatchNorm's running statistics. */
  readonly trainable: boolean;
  /** The initial value (drawn from its init, or taken from `weights`). */
  readonly value: Tensor;
  /** How the value was drawn (`kaimingUniform(fanIn 16, a 2.236…)`), or 'given' when it came from `weights`. */
  readonly init?: string;
  /** The name it had before its scope was renamed (`region1.wormhole_3_1.gate.weight`); absent when unchanged. */
  readonly formerName?: string;
}

/** How parameters enter the graph. */
export type ParamMode = 'initializer' | 'input';

export interface BuildContextOptions {
  /** Float type of every parameter and activation. */
  dtype: DType;
  /** Model seed; each parameter's stream is derived from it and the parameter's name. */
  seed: number;
  /** `initializer`: values ship in the file (model.onnx); `input`: plain graph inputs. */
  mode: ParamMode;
  /** Values that replace the drawn initial values, by parameter name (trained weights). */
  weights?: ReadonlyMap<string, Tensor>;
  /**
   * Training graphs: layers with train/eval differences (BatchNorm) use batch
   * statistics and report buffer updates. Default false.
   */
  training?: boolean;
  /**
   * Settings that replace every region's own (tolerances, solvers, backward
   * mode): what gradient checks and benchmarks vary without editing a graph file.
   */
  regionOverrides?: RegionOverrides;
  /**
   * @internal How regions lower to ONNX Loops: twnn's graph builders
   * (buildInferenceGraph, exportModel) supply it. A context made by hand, to
   * test a custom layer, builds layers but not regions.
   */
  lowerRegion?: RegionLowering;
  /**
   * Inference graphs: `on` (default) lets a skip-gated block skip the samples
   * whose gate is below its threshold; `off` computes the same function
   * densely, every sample through the branch and a closed gate's times 0, as
   * training does (to measure what skipping saves). Training graphs are always `off`.
   */
  blockSkipping?: 'on' | 'off';
  /** How float32 GroupNorms that leave `fused` unset are lowered: the fused kernel (default) or the composite, to measure one against the other (tools/bench-norm.ts). */
  groupNorm?: 'fused' | 'composite';
  /** @internal Training graphs with a fixed-point correction: how many intermediate iterates each region keeps (default 0). */
  correctionTerms?: number;
}

/** @internal Which fixed-point correction term a build of the network is (BuildContext.correctionTerm). */
export interface CorrectionTerm {
  /** 1-based: the region's `correctionIterates[term - 1]`. */
  readonly term: number;
  /** Sweeps from the detached iterate. */
  readonly phantomSteps: number;
}

/** A skip-gated block's gate as one build of the block emitted it (src/twnn/skip-gate.ts). */
export interface SkipGateReport {
  /** The block's scope, e.g. `region2.B4`. */
  readonly block: string;
  /** Its per-sample gate s, [B] in the build dtype. */
  readonly gate: Value;
  readonly threshold: number;
  /** γ of the training loss's cost term γ·mean(s). */
  readonly cost: number;
}

/** The most elements one parameter may hold: V8's typed arrays stop at 2^32 - 1, and ONNX's raw tensor data at 2 GiB a tensor. */
const MAX_PARAM_ELEMENTS = 2 ** 31 - 1;

/** Parameter options. */
export interface ParamOptions {
  /** Default true; false for buffers the optimizer must not touch (running statistics). */
  trainable?: boolean;
}

const SCOPE_NAME = /^[A-Za-z0-9_-]+$/;

/**
 * What modules build into: the graph, the build dtype, and parameter
 * bookkeeping. `scope` nests both names at once: parameters get
 * `block1.conv1.weight`, nodes `block1/conv1/Conv_3`.
 *
 * @example
 * const ctx = new BuildContext(graph, { dtype: 'float32', seed: 0, mode: 'initializer' });
 * const y = ctx.scope('head', () => dense(64, 10).build(ctx, x));
 * ctx.params.map((p) => p.name); // ['head.weight', 'head.bias']
 */
export class BuildContext {
  readonly dtype: DType;
  readonly seed: number;
  readonly mode: ParamMode;
  readonly weights?: ReadonlyMap<string, Tensor>;
  /** Training graphs: layers with train/eval differences use batch statistics and `updateBuffer`. */
  readonly training: boolean;
  /** Parameters in declaration order (the order of initializers and of the manifest). */
  readonly params: ParamInfo[] = [];
  /** @internal Region settings the build overrides (tolerances, solvers, backward mode). */
  readonly regionOverrides: RegionOverrides;
  /** @internal How regions lower (supplied by the graph builders). */
  readonly lowerRegion?: RegionLowering;
  /** @internal Fixed-point regions built so far, in build order. */
  readonly iterators: IteratorReport[] = [];
  /** Whether skip-gated blocks skip samples in this (inference) build. */
  readonly blockSkipping: 'on' | 'off';
  /** How float32 GroupNorms that leave `fused` unset are lowered. */
  readonly groupNorm: 'fused' | 'composite';
  /** @internal Intermediate iterates each region keeps for a fixed-point correction (0: none). */
  readonly correctionTerms: number;
  private term?: CorrectionTerm;
  /** Modules building now may see a batch of zero rows (a skip-gated block's branch): they must not infer sizes from the element count. */
  get batchMayBeEmpty(): boolean {
    return this.emptyBatchDepth > 0;
  }
  /** @internal Every build of a skip-gated block (a region's block builds once per sweep it emits), in build order. */
  readonly skipGates: SkipGateReport[] = [];
  /** @internal New values of non-trainable buffers (BatchNorm running statistics) in training graphs, by buffer name. */
  readonly bufferUpdates = new Map<string, Value>();
  private current: Graph;
  private readonly path: string[] = [];
  /** `path` with each scope's former name where it had one (scopeFormerly): where streams and old weights are keyed. */
  private readonly formerPath: string[] = [];
  private readonly paramValues = new Map<string, Value>();
  private rebuilding = 0;
  private replaying = 0;
  private readonly usedWeights = new Set<string>();
  private paramBytes = 0;
  private emptyBatchDepth = 0;

  constructor(graph: Graph, options: BuildContextOptions) {
    if (!isFloat(options.dtype)) throw new SpecError(`build dtype must be float32 or float64, got ${options.dtype}`);
    if (!Number.isSafeInteger(options.seed)) throw new SpecError(`seed must be an integer, got ${options.seed}`);
    this.current = graph;
    this.dtype = options.dtype;
    this.seed = options.seed;
    this.mode = options.mode;
    this.weights = options.weights;
    this.training = options.training ?? false;
    this.regionOverrides = options.regionOverrides ?? {};
    this.lowerRegion = options.lowerRegion;
    this.blockSkipping = options.blockSkipping ?? 'on';
    this.groupNorm = options.groupNorm ?? 'fused';
    this.correctionTerms = options.correctionTerms ?? 0;
  }

  /** The graph modules emit into: the model's main graph, or a Loop body while a region builds a sweep. */
  get graph(): Graph {
    return this.current;
  }

  /** The current dot-scoped prefix, e.g. `block1.conv1` ('' at the top). */
  get scopeName(): string {
    return this.path.join('.');
  }

  /**
   * Run `fn` with `name` appended to the parameter scope (`.`) and the node
   * scope (`/`).
   *
   * @example ctx.scope('conv1', () => conv.build(ctx, x));
   */
  scope<T>(name: string, fn: () => T): T {
    if (!SCOPE_NAME.test(name)) {
      throw new SpecError(`scope name '${name}' under '${this.scopeName || '<top>'}' must be letters, digits, '_' or '-'`);
    }
    this.path.push(name);
    this.formerPath.push(name);
    try {
      return this.graph.scope(name, fn);
    } finally {
      this.path.pop();
      this.formerPath.pop();
    }
  }

  /**
   * Declare a parameter named `name` in the current scope and return its
   * graph value. Its initial value is drawn from `init` on the parameter's own
   * stream, unless `weights` holds a value for it.
   *
   * @example const w = ctx.param('weight', [out, inF], init.kaimingUniform(inF));
   */
  param(name: string, shape: readonly number[], init: Init, options: ParamOptions = {}): Value {
    if (!SCOPE_NAME.test(name)) throw new SpecError(`parameter name '${name}' under '${this.scopeName || '<top>'}' must be letters, digits, '_' or '-'`);
    const full = this.scopeName ? `${this.scopeName}.${name}` : name;
    const existing = this.paramValues.get(full);
    if (existing && this.rebuilding > 0) {
      if (existing.shape.length !== shape.length || existing.shape.some((d, i) => d !== shape[i])) {
        throw new SpecError(`parameter '${full}' is rebuilt with shape ${formatShape(shape)}, but was declared ${formatShape(existing.shape)}`);
      }
      return existing;
    }
    if (existing) throw new SpecError(`parameter '${full}' is declared twice`);
    if (this.replaying > 0) throw new SpecError(`parameter '${full}' is declared while replaying a built sweep (a module built differently the second time?)`);
    if (!shape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new SpecError(`parameter '${full}': shape ${formatShape(shape)} must have positive integer dimensions`);
    }
    this.checkFits(full, shape);
    // A renamed scope keeps its parameters' random streams and still reads weights saved under the old name.
    const former = [...this.formerPath, name].join('.');
    const givenAs = this.weights?.has(full) ? full : this.weights?.has(former) ? former : undefined;
    const given = givenAs === undefined ? undefined : this.weights!.get(givenAs)!;
    const value = given ? this.given(givenAs!, shape, given) : sample(init, shape, this.dtype, Rng.forParam(this.seed, former));
    this.params.push({
      name: full,
      shape: [...shape],
      dtype: this.dtype,
      trainable: options.trainable ?? true,
      value,
      init: given ? 'given' : describeInit(init),
      ...(former !== full ? { formerName: former } : {}),
    });
    // Parameters always live in the main graph; a Loop body reads them as outer-scope values.
    const root = this.graph.root;
    const v = this.mode === 'initializer' ? root.initializer(full, value) : root.input(full, this.dtype, shape);
    this.paramValues.set(full, v);
    return v;
  }

  /**
   * Record the new value of buffer `name` (declared with `trainable: false`)
   * computed by a training graph; train.onnx outputs it as `<name>.new`.
   *
   * @example ctx.updateBuffer(`${ctx.scopeName}.running_mean`, newMean);
   */
  updateBuffer(name: string, value: Value): void {
    // A correction term's build normalises with its own batch statistics; the running ones follow the task's pass alone.
    if (this.term) return;
    const p = this.params.find((q) => q.name === name);
    if (!p || p.trainable) throw new SpecError(`updateBuffer: '${name}' is not a declared buffer`);
    if (this.bufferUpdates.has(name)) throw new SpecError(`updateBuffer: '${name}' is updated twice`);
    this.bufferUpdates.set(name, value);
  }

  // What follows serves twnn's own regions and graph builders (src/twnn/region-sweeps.ts,
  // src/lower/inference.ts), not layer authors: `@internal` keeps it out of the published
  // declarations (tsconfig.build.json strips it).

  /**
   * @internal Register a fixed-point region's iterator (regions do, as they build).
   *
   * @example ctx.reportIterator({ region: 'region1', iterations, residual, config });
   */
  reportIterator(report: IteratorReport): void {
    if (this.iterators.some((r) => r.region === report.region)) throw new SpecError(`region '${report.region}' is built twice`);
    this.iterators.push(report);
  }

  /**
   * @internal Record a skip-gated block's gate (skip-gate.ts does, each time it builds).
   *
   * @example ctx.reportSkipGate({ block: ctx.scopeName, gate, threshold: 0.5, cost: 0.01 });
   */
  reportSkipGate(report: SkipGateReport): void {
    // The gates of a correction term's build pay no skip cost and are no output.
    if (this.term) return;
    this.skipGates.push(report);
  }

  /**
   * @internal Build `fn`'s modules for a batch that may hold no rows (see `batchMayBeEmpty`).
   *
   * @example const h = ctx.withPossiblyEmptyBatch(() => branch(ctx, rows));
   */
  withPossiblyEmptyBatch<T>(fn: () => T): T {
    this.emptyBatchDepth++;
    try {
      return fn();
    } finally {
      this.emptyBatchDepth--;
    }
  }

  /**
   * @internal Each skip-gated block's gate as the graph outputs read it: the
   * last one emitted into the main graph (a region's gate at its fixed point,
   * which the region's lowering reports after its Loop), in first-build order.
   *
   * @example for (const r of ctx.settledSkipGates()) graph.output(`skip_gate.${r.block}`, r.gate);
   */
  settledSkipGates(): SkipGateReport[] {
    const last = new Map<string, SkipGateReport>();
    for (const r of this.skipGates) if (r.gate.graph === r.gate.graph.root) last.set(r.block, r);
    return [...last.values()];
  }

  /**
   * @internal Build again modules that were already built (a region's sweep,
   * emitted once per graph that needs it): their `param` calls return the
   * parameters declared the first time instead of declaring new ones.
   *
   * @example const h = ctx.rebuild(() => ctx.withGraph(body, () => block.build(ctx, u)));
   */
  rebuild<T>(fn: () => T): T {
    this.rebuilding++;
    try {
      return fn();
    } finally {
      this.rebuilding--;
    }
  }

  /**
   * @internal Replay modules built before, from a VJP rule running after the
   * build (the unrolled backward recomputes sweeps): restores the parameter
   * scope `path` they were built under, and every `param` call must find its
   * parameter.
   *
   * @example ctx.replay(regionPath, () => sweep(sOld));
   */
  replay<T>(path: readonly string[], fn: () => T): T {
    // formerPath may disagree with `path` here: it only names new parameters, which a replay cannot declare.
    const saved = this.path.splice(0, this.path.length, ...path);
    this.replaying++;
    this.rebuilding++;
    try {
      return fn();
    } finally {
      this.rebuilding--;
      this.replaying--;
      this.path.splice(0, this.path.length, ...saved);
    }
  }

  /**
   * @internal `scope(name, fn)` for a scope whose parameters were once named
   * under `former` (wormholes were `wormhole_2_1` before they were named from
   * their blocks): they keep drawing from the streams of their old names, so
   * every model's initial values are unchanged, and `weights` saved under the
   * old names still load.
   *
   * @example ctx.scopeFormerly('wormhole_b2_b1', 'wormhole_2_1', () => term());
   */
  scopeFormerly<T>(name: string, former: string, fn: () => T): T {
    return this.scope(name, () => {
      this.formerPath[this.formerPath.length - 1] = former;
      return fn();
    });
  }

  /**
   * @internal Build the network again as fixed-point correction term `term`
   * (src/lower/fp-correction.ts): every parameter is the one declared before,
   * each region returns the output of `phantomSteps` sweeps from its detached
   * iterate of that term (src/twnn/region-sweeps.ts), and buffer updates and
   * skip gates are not recorded.
   *
   * @example const yK = ctx.correctionTerm({ term: 1, phantomSteps: 1 }, () => net.build(ctx, x));
   */
  correctionTerm<T>(term: CorrectionTerm, fn: () => T): T {
    if (this.term) throw new SpecError(`correction term ${term.term} is built inside term ${this.term.term}`);
    this.term = term;
    try {
      return this.rebuild(fn);
    } finally {
      this.term = undefined;
    }
  }

  /** @internal The correction term being built, if any. */
  get correction(): CorrectionTerm | undefined {
    return this.term;
  }

  /** @internal The current parameter scope as a list of names (for `replay`). */
  get scopePath(): readonly string[] {
    return [...this.path];
  }

  /**
   * @internal Emit into `graph` (a Loop body) while `fn` runs.
   *
   * @example ctx.withGraph(body, () => sweep(ctx, a, sOld));
   */
  withGraph<T>(graph: Graph, fn: () => T): T {
    const saved = this.current;
    this.current = graph;
    try {
      return fn();
    } finally {
      this.current = saved;
    }
  }

  /** @internal Names in `weights` that no parameter claimed (a renamed layer, a weights file of another model). */
  unusedWeights(): string[] {
    return [...(this.weights?.keys() ?? [])].filter((k) => !this.usedWeights.has(k));
  }

  /** Say so before allocating a parameter that cannot exist: past a typed array's length, or the machine's memory with those before it. */
  private checkFits(name: string, shape: readonly number[]): void {
    const count = shape.reduce((a, d) => a * d, 1);
    const bytes = count * dtypeBytes(this.dtype);
    const total = this.paramBytes + bytes;
    const memory = totalmem();
    const size = `${formatShape(shape)} ${this.dtype} (${formatBytes(bytes)})`;
    if (count > MAX_PARAM_ELEMENTS) throw new SpecError(`parameter '${name}' ${size} is too large: one tensor holds at most ${MAX_PARAM_ELEMENTS} elements`);
    if (total > memory) {
      throw new SpecError(`parameter '${name}' ${size} does not fit: the parameters so far need ${formatBytes(total)}, more than this machine's ${formatBytes(memory)} of memory`);
    }
    this.paramBytes = total;
  }

  private given(name: string, shape: readonly number[], t: Tensor): Tensor {
    this.usedWeights.add(name);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new SpecError(`weight '${name}' has shape ${formatShape(t.shape)}, but the model declares ${formatShape(shape)}`);
    }
    if (!isFloat(t.dtype)) throw new SpecError(`weight '${name}' has dtype ${t.dtype}; parameters are float`);
    // float32 weights into a float64 build (or back) convert; the shape is what must match.
    return t.dtype === this.dtype ? t : Tensor.fromNumbers(this.dtype, t.shape, t.data as Float32Array | Float64Array);
  }
}

/**
 * The values of `params` as a `weights` map, e.g. to rebuild a model with the
 * same numbers in another dtype or as a training graph.
 *
 * @example const again = buildInferenceGraph(spec, { weights: paramWeights(params), dtype: 'float64' });
 */
export function paramWeights(params: readonly ParamInfo[]): Map<string, Tensor> {
  return new Map(params.map((p) => [p.name, p.value]));
}
