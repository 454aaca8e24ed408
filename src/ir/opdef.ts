import type { AttrSpec } from './attrs.js';
import type { DType } from './dtype.js';
import type { Node } from './node.js';
import type { Shape } from './shape.js';
import type { Value } from './value.js';

/** An input slot of an op. `nondiff` marks inputs that have no gradient (indices, shapes, masks). */
export interface InputSpec {
  name: string;
  optional?: boolean;
  /** Takes all remaining inputs (Concat, Loop's carried values). */
  variadic?: boolean;
  nondiff?: boolean;
}

/** Type and shape of one output, as a shape rule returns it. */
export interface ValueInfo {
  dtype: DType;
  shape: Shape;
}

/** What a shape rule sees: the inputs, typed attributes, and a way to fail with context. */
export interface InferContext {
  readonly opType: string;
  /** Scoped node name, for messages. */
  readonly nodeName: string;
  readonly inputs: readonly (Value | undefined)[];
  /** An attribute's value (its default when absent). */
  attr<T>(name: string): T;
  /** Whether the attribute was given explicitly. */
  hasAttr(name: string): boolean;
  /** Throw a ShapeError that names the op, the node and every input's shape. */
  fail(message: string): never;
  /** A fresh symbolic dimension for sizes only known at run time. */
  freshDim(hint?: string): string;
}

/**
 * An operator as data: its ONNX type, input and attribute schema, shape rule,
 * and its VJP rule (here, or in src/ops' VJP table for the families the gradient
 * helpers build on). Each family of ops lives in one file under src/ops/.
 */
export interface OpDef {
  opType: string;
  /** ONNX domain; '' is the default domain. */
  domain?: string;
  inputs: readonly InputSpec[];
  /** Number of outputs; a function for ops whose count depends on inputs or attributes. */
  outputs: number | ((node: { inputs: readonly (Value | undefined)[]; attr<T>(name: string): T }) => number);
  /**
   * Optional trailing outputs, beyond `outputs`, that a node has only when it asks
   * for them (`NodeOptions.outputs`); the shape rule describes them all (MaxPool's Indices).
   */
  optionalOutputs?: number;
  attrs?: Readonly<Record<string, AttrSpec>>;
  /** Element types input 0 accepts. Defaults to float32 and float64. */
  dtypes?: readonly DType[];
  /** False where ONNX Runtime's CPU EP has no float64 kernel (docs/DESIGN.md §7). */
  float64Kernel?: boolean;
  /** One line for doc_string and the coverage report. */
  doc?: string;
  infer(ctx: InferContext): ValueInfo[];
  /**
   * Reverse-mode rule, `'none'` for ops with no derivative. Absent for an op whose rule is in
   * src/ops/vjp-table.ts, or that a lowering differentiates; read it with `vjpRuleOf`.
   */
  vjp?: VjpRule | 'none';
}

/**
 * A VJP rule: given output cotangents, emit nodes computing input cotangents.
 * Returns one entry per input, then one per captured outer value (subgraph
 * ops only); undefined where the input gets no gradient.
 */
export type VjpRule = (ctx: VjpContext) => readonly (Value | undefined)[];

/** What a VJP rule sees. The graph it emits into is `ctx.graph`. */
export interface VjpContext {
  readonly node: Node;
  /** Forward inputs, as seen from the graph the backward nodes go into. */
  readonly inputs: readonly (Value | undefined)[];
  /** Outer values read inside the node's subgraphs; the rule returns their cotangents after the inputs'. */
  readonly captures: readonly Value[];
  /** Forward outputs, likewise. */
  readonly outputs: readonly Value[];
  /** Cotangent of each output; undefined where the output does not reach the loss. */
  readonly gradOutputs: readonly (Value | undefined)[];
  /** Which inputs (then captures) need a cotangent: a rule may skip the work for the others. */
  readonly wants: readonly boolean[];
  readonly graph: import('./graph.js').Graph;
  /**
   * Reverse mode through other nodes, for rules of subgraph ops (If differentiates a copy
   * of each branch): cotangents of `wrt` given `seeds` (value -> cotangent) flowing back
   * through `nodes`, emitted into `into`; undefined where none flows. Supplied by the
   * transform (src/autodiff), so op families need not import it.
   */
  readonly reverse?: (
    nodes: readonly Node[],
    seeds: ReadonlyMap<Value, Value>,
    wrt: readonly Value[],
    into: import('./graph.js').Graph,
  ) => (Value | undefined)[];
  /**
   * The seeds a reverse pass holds for a deferral (src/autodiff/vjp-through.ts `DeferredGradients`):
   * the cotangents that reached its nodes' values from outside them, for the rule to add to its own
   * VJP through those nodes; undefined when this pass met none of them. Taking them is a promise to
   * differentiate the deferral's operands with them.
   */
  readonly takeDeferred?: (deferred: DeferredGradients) => Map<Value, Value> | undefined;
}

/**
 * Forward nodes (a region's sweep at its fixed point) whose cotangents towards
 * `operands` (the parameters and inputs they read) the VJP rule of `taker` (the
 * region's Loop) computes, in one VJP with its own seeds and those that reached
 * the nodes from outside them (src/autodiff/vjp-through.ts `deferGradients`).
 */
export interface DeferredGradients {
  readonly nodes: readonly Node[];
  readonly operands: ReadonlySet<Value>;
  readonly taker: Node;
}
