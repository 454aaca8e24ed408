// Control flow: ONNX Loop and If, with their bodies as IR subgraphs.
//
// ONNX names are global across a model's subgraphs (no shadowing), so body inputs and
// outputs are named from the scope path of the construct (`region1/iterate/carried_in_0`),
// and body nodes are emitted inside that scope. A body may read any value of an enclosing
// graph; the Graph builder rejects values from sibling subgraphs.
//
// If has a VJP rule (an If over the differentiated branches). Loop has none on purpose: a
// fixed-point Loop is differentiated by its adjoint lowering (src/lower), via Node.customVjp.
import {
  ALL_DTYPES,
  formatShape,
  SpecError,
  Tensor,
  type Dim,
  type DType,
  type Graph,
  type InferContext,
  type Node,
  type OpDef,
  type PlainAttrs,
  type Shape,
  type Value,
  type ValueInfo,
  type VjpRule,
} from '../ir/index.js';
import { filledLike } from './grad-helpers.js';
import { reshapeLike } from './shape.js';


/** Whether `v` is a scalar of `dtype` (ONNX also accepts a one-element 1-D tensor). */
function isScalarOf(v: { dtype: DType; shape: Shape }, dtype: DType): boolean {
  return v.dtype === dtype && (v.shape.length === 0 || (v.shape.length === 1 && v.shape[0] === 1));
}

/** The shape two values share: their dims where they agree, fresh dims where they differ. */
function joinShapes(ctx: InferContext, a: Shape, b: Shape, what: string): Dim[] {
  if (a.length !== b.length) ctx.fail(`${what}: rank differs (${formatShape(a)} vs ${formatShape(b)})`);
  return a.map((d, i) => (d === b[i] ? d : ctx.freshDim()));
}

function inferLoop(ctx: InferContext): ValueInfo[] {
  const [maxTrip, cond, ...initial] = ctx.inputs;
  const body = ctx.attr<Graph>('body');
  if (maxTrip && !isScalarOf(maxTrip, 'int64')) ctx.fail(`trip count M '${maxTrip.name}' must be an int64 scalar, got ${maxTrip.describe()}`);
  if (cond && !isScalarOf(cond, 'bool')) ctx.fail(`cond '${cond.name}' must be a bool scalar, got ${cond.describe()}`);
  const missing = initial.findIndex((v) => !v);
  if (missing >= 0) ctx.fail(`loop-carried input ${missing + 2} is missing`);
  const carried = initial as Value[];
  const n = carried.length;
  if (body.inputs.length !== n + 2) {
    ctx.fail(`body '${body.name}' has ${body.inputs.length} inputs; it needs 2 + ${n} (iteration, cond, one per carried value)`);
  }
  const [iter, condIn] = body.inputs;
  if (iter.dtype !== 'int64' || iter.rank !== 0) ctx.fail(`body input 0 '${iter.name}' must be int64[], got ${iter.describe()}`);
  if (condIn.dtype !== 'bool' || condIn.rank !== 0) ctx.fail(`body input 1 '${condIn.name}' must be bool[], got ${condIn.describe()}`);
  if (body.outputs.length < n + 1) {
    ctx.fail(`body '${body.name}' has ${body.outputs.length} outputs; it needs 1 + ${n} (cond, one per carried value) plus scan outputs`);
  }
  const condOut = body.outputs[0];
  if (!isScalarOf(condOut, 'bool')) ctx.fail(`body output 0 '${condOut.name}' must be a bool scalar, got ${condOut.describe()}`);
  const finals = carried.map((init, i): ValueInfo => {
    const out = body.outputs[i + 1];
    const what = `carried value ${i}: body output '${out.name}' ${out.dtype}${formatShape(out.shape)} vs initial value '${init.name}' ${init.dtype}${formatShape(init.shape)}`;
    if (out.dtype !== init.dtype) ctx.fail(`${what}: dtypes differ`);
    return { dtype: out.dtype, shape: joinShapes(ctx, init.shape, out.shape, what) };
  });
  // Scan outputs stack one slice per executed iteration: a count known only at run time.
  const scans = body.outputs.slice(n + 1).map((s): ValueInfo => ({ dtype: s.dtype, shape: [ctx.freshDim('iter'), ...s.shape] }));
  return [...finals, ...scans];
}

function inferIf(ctx: InferContext): ValueInfo[] {
  const cond = ctx.inputs[0]!;
  if (!isScalarOf(cond, 'bool')) ctx.fail(`cond '${cond.name}' must be a bool scalar, got ${cond.describe()}`);
  const thenG = ctx.attr<Graph>('then_branch');
  const elseG = ctx.attr<Graph>('else_branch');
  if (thenG.outputs.length !== elseG.outputs.length || thenG.outputs.length === 0) {
    ctx.fail(`branches '${thenG.name}' and '${elseG.name}' must have the same, non-zero number of outputs (${thenG.outputs.length} vs ${elseG.outputs.length})`);
  }
  return thenG.outputs.map((t, i): ValueInfo => {
    const e = elseG.outputs[i];
    const what = `output ${i}: then '${t.describe()}' vs else '${e.describe()}'`;
    if (t.dtype !== e.dtype) ctx.fail(`${what}: dtypes differ`);
    return { dtype: t.dtype, shape: joinShapes(ctx, t.shape, e.shape, what) };
  });
}

export const LoopOp: OpDef = {
  opType: 'Loop',
  inputs: [
    { name: 'M', optional: true, nondiff: true },
    { name: 'cond', optional: true, nondiff: true },
    { name: 'v_initial', variadic: true },
  ],
  outputs: (node) => node.attr<Graph>('body').outputs.length - 1,
  attrs: { body: { type: 'graph', required: true } },
  // Input 0 is the trip count, or absent; the carried values may have any dtype.
  dtypes: ALL_DTYPES,
  doc: 'repeat body while cond and iteration < M; outputs final carried values, then stacked scan outputs',
  infer: inferLoop,
};

export const IfOp: OpDef = {
  opType: 'If',
  inputs: [{ name: 'cond', nondiff: true }],
  outputs: (node) => node.attr<Graph>('then_branch').outputs.length,
  attrs: { then_branch: { type: 'graph', required: true }, else_branch: { type: 'graph', required: true } },
  dtypes: ['bool'],
  doc: 'outputs of then_branch if cond, else of else_branch',
  infer: inferIf,
  vjp: (ctx) => ifVjp(ctx),
};

/**
 * d If(c, T, E) = If(c, T', E'): each backward branch recomputes its forward branch (a
 * copy; the forward branch's values are not visible from a sibling subgraph), then
 * differentiates the copy with respect to the captured outer values. Both branches
 * return one cotangent per wanted capture, zeros where the branch does not read it.
 */
const ifVjp: VjpRule = ({ graph: g, node, captures, gradOutputs, wants, reverse }) => {
  if (!reverse) throw new SpecError(`If '${node.name}': its VJP differentiates the branches, so it needs the reverse-mode transform's VjpContext.reverse`);
  const first = node.inputs.length;
  const wanted = captures.filter((_, k) => wants[first + k]);
  const backwardBranch = (forward: Graph) => (b: Graph): Value[] => {
    const copies = new Map<Value, Value>();
    cloneNodes(b, forward, copies);
    const seeds = new Map<Value, Value>();
    forward.outputs.forEach((out, i) => {
      const gy = gradOutputs[i];
      const copy = copies.get(out)!;
      // The If's output joins both branches' shapes; reshape keeps this branch's own.
      if (gy) seeds.set(copy, reshapeLike(b, gy, copy));
    });
    const grads = reverse([...b.nodes], seeds, wanted, b);
    return grads.map((gr, k) => gr ?? filledLike(b, wanted[k], 0));
  };
  const grads = ifThenElse(g, node.inputs[0]!, backwardBranch(node.attr<Graph>('then_branch')), backwardBranch(node.attr<Graph>('else_branch')), {
    doc: `VJP of ${node.name}`,
  });
  let next = 0;
  return [undefined, ...captures.map((_, k) => (wants[first + k] ? grads[next++] : undefined))];
};

/** This family's ops, for the registry's table (./table.ts). */
export const CONTROL_OPS: readonly OpDef[] = [LoopOp, IfOp];

/** What a Loop body sees in one iteration. */
export interface LoopIteration {
  /** int64[]: 0, 1, 2, ... */
  iteration: Value;
  /** bool[]: the condition this iteration was entered with. */
  cond: Value;
  /** The carried values as this iteration receives them (shapes of the initial values). */
  carried: Value[];
}

/** What a Loop body returns. */
export interface LoopBodyResult {
  /** bool[]: keep going (default: the incoming cond, so only the trip count stops the loop). */
  cond?: Value;
  /** Next carried values, one per initial value, with the same dtypes. */
  carried: readonly Value[];
  /** Per-iteration values, stacked along a new leading axis in the Loop's outputs. */
  scans?: readonly Value[];
}

export interface LoopSpec {
  /** Scope name: body nodes go under `<scope>/<name>/`, body I/O names start with it. */
  name: string;
  /**
   * The Loop node's full name, used instead of `<scope>/<name>` for the node, its
   * body's nodes and its body's I/O (`region1/adjoint`): a Loop named after what it
   * is, wherever it is emitted. Must be unique in the model.
   */
  fixedName?: string;
  /** Trip count: an int64 scalar value or a literal. Absent: only cond stops the loop. */
  maxTrip?: Value | number;
  /** Initial condition (bool scalar). Absent: true. */
  cond?: Value;
  carried: readonly Value[];
  /**
   * What each carried value is (`B2.h`, `w.B2.h`, `done`), so that the body's
   * inputs read `<loop>/<name>` and its outputs `<loop>/<name>.next` in Netron;
   * unnamed ones are `carried_in_i` / `carried_out_i`. Unique, without '/'.
   */
  carriedNames?: readonly string[];
  /** Likewise for scan outputs: `<loop>/<name>` (default `scan_i`). */
  scanNames?: readonly string[];
  body: (b: Graph, it: LoopIteration) => LoopBodyResult;
  /** doc_string for the Loop node. */
  doc?: string;
}

/**
 * Emit an ONNX Loop whose body is built by `spec.body` in a fresh subgraph.
 * Returns the final carried values and the scan outputs (`[iterations, ...]`).
 *
 * @example
 * // running sum of x[0..4], with every partial sum as a scan output
 * const { carried: [total], scans: [partials] } = loop(g, {
 *   name: 'cumsum',
 *   maxTrip: 5,
 *   carried: [zero],
 *   body: (b, it) => {
 *     const s = add(b, it.carried[0], gather(b, x, it.iteration));
 *     return { carried: [s], scans: [s] };
 *   },
 * });
 */
export function loop(g: Graph, spec: LoopSpec): { carried: Value[]; scans: Value[] } {
  const prefix = spec.fixedName ?? scopedName(g, spec.name);
  const inScope = <T>(build: () => T): T => (spec.fixedName ? g.atScope(spec.fixedName, build) : g.scope(spec.name, build));
  const body = g.subgraph(`${prefix}/body`);
  const names = loopValueNames(prefix, spec);
  const it: LoopIteration = {
    iteration: body.input(`${prefix}/iter`, 'int64', []),
    cond: body.input(`${prefix}/cond_in`, 'bool', []),
    carried: spec.carried.map((v, i) => body.input(names.carriedIn(i), v.dtype, v.shape)),
  };
  const result = inScope(() => spec.body(body, it));
  if (spec.scanNames && spec.scanNames.length !== (result.scans ?? []).length) {
    throw new SpecError(`Loop '${prefix}': ${spec.scanNames.length} scan names for ${(result.scans ?? []).length} scan outputs`);
  }
  if (result.carried.length !== spec.carried.length) {
    throw new SpecError(`Loop '${prefix}': the body returns ${result.carried.length} carried values for ${spec.carried.length} initial values`);
  }
  inScope(() => {
    body.output(`${prefix}/cond_out`, result.cond ?? it.cond);
    result.carried.forEach((v, i) => body.output(names.carriedOut(i), v));
    (result.scans ?? []).forEach((v, i) => body.output(names.scan(i), v));
  });
  const maxTrip = typeof spec.maxTrip === 'number' ? g.constant(Tensor.scalar(spec.maxTrip, 'int64')) : spec.maxTrip;
  const outs = g.node(LoopOp, [maxTrip, spec.cond, ...spec.carried], { body }, { doc: spec.doc, ...(spec.fixedName ? { name: spec.fixedName } : {}) });
  return { carried: outs.slice(0, spec.carried.length), scans: outs.slice(spec.carried.length) };
}

const ifCounters = new WeakMap<Graph, number>();

/**
 * Emit an ONNX If: `thenBuild` and `elseBuild` each build a branch subgraph and return its
 * outputs (same count and dtypes). `name` scopes the branches (default `if_<n>`, counted per model).
 *
 * @example
 * const [y] = ifThenElse(g, useSkip, (b) => [add(b, x, h)], (b) => [h]);
 */
export function ifThenElse(
  g: Graph,
  cond: Value,
  thenBuild: (b: Graph) => readonly Value[],
  elseBuild: (b: Graph) => readonly Value[],
  options: { name?: string; doc?: string } = {},
): Value[] {
  let name = options.name;
  if (!name) {
    const n = ifCounters.get(g.root) ?? 0;
    ifCounters.set(g.root, n + 1);
    name = `if_${n}`;
  }
  const prefix = scopedName(g, name);
  const branch = (label: string, build: (b: Graph) => readonly Value[]): Graph => {
    const b = g.subgraph(`${prefix}/${label}`);
    g.scope(name, () =>
      g.scope(label, () => build(b).forEach((v, i) => b.output(`${prefix}/${label}/out_${i}`, v))),
    );
    return b;
  };
  const thenBranch = branch('then', thenBuild);
  const elseBranch = branch('else', elseBuild);
  return g.node(IfOp, [cond], { then_branch: thenBranch, else_branch: elseBranch }, { doc: options.doc });
}

/** The body I/O names of a Loop: from `carriedNames` / `scanNames` where given, numbered otherwise. */
function loopValueNames(prefix: string, spec: LoopSpec) {
  const named = (list: readonly string[] | undefined, what: string, count: number) => {
    if (!list) return undefined;
    if (list.length !== count) throw new SpecError(`Loop '${prefix}': ${list.length} ${what} names for ${count} values`);
    const bad = list.find((n, i) => !n || n.includes('/') || list.indexOf(n) !== i);
    if (bad !== undefined) throw new SpecError(`Loop '${prefix}': ${what} name '${bad}' is empty, has a '/' or repeats`);
    return list;
  };
  const carried = named(spec.carriedNames, 'carried', spec.carried.length);
  const scans = spec.scanNames;
  return {
    carriedIn: (i: number) => `${prefix}/${carried ? carried[i] : `carried_in_${i}`}`,
    carriedOut: (i: number) => `${prefix}/${carried ? `${carried[i]}.next` : `carried_out_${i}`}`,
    scan: (i: number) => `${prefix}/${scans?.[i] ?? `scan_${i}`}`,
  };
}

const copyCounters = new WeakMap<Graph, number>();

/**
 * Re-emit `source`'s nodes into `target`, recording in `copies` each source value's copy.
 * Values of graphs enclosing `source` stay themselves (`target` must see them); nested
 * subgraphs (a Loop or If inside) and initializers are copied too, under fresh names.
 *
 * @example
 * const copies = new Map<Value, Value>();
 * cloneNodes(b, thenBranch, copies); // then_branch recomputed inside b
 * const y = copies.get(thenBranch.outputs[0]);
 */
export function cloneNodes(target: Graph, source: Graph, copies: Map<Value, Value>): void {
  const fresh = freshCopyNames(target);
  for (const v of source.initializers) copies.set(v, target.initializer(fresh(v.name), (v.source as { tensor: Tensor }).tensor));
  for (const node of source.nodes) cloneNode(target, node, copies, fresh);
}

/** `name/copy_N`, N counted per model, so every copy's initializers and subgraphs get unique names. */
function freshCopyNames(target: Graph): (name: string) => string {
  const n = copyCounters.get(target.root) ?? 0;
  copyCounters.set(target.root, n + 1);
  return (name: string) => `${name}/copy_${n}`;
}

/**
 * Re-emit one node into `target`, its inputs replaced by their `copies` (values
 * without a copy stay themselves: `target` must see them), and record its
 * outputs' copies. Subgraphs are copied under fresh names; the node keeps its
 * custom VJP and loop configuration.
 *
 * @example for (const node of sweep.nodes) cloneNode(body, node, copies);
 */
export function cloneNode(target: Graph, node: Node, copies: Map<Value, Value>, fresh: (name: string) => string = freshCopyNames(target)): Value[] {
  const copyOf = (v: Value | undefined): Value | undefined => {
    if (!v) return undefined;
    const copy = copies.get(v);
    if (copy) return copy;
    if (!target.sees(v)) throw new SpecError(`copying node '${node.name}' into '${target.name}': '${v.name}' has no copy and is not visible there`);
    return v;
  };
  const copySubgraph = (sub: Graph): Graph => {
    const copy = target.subgraph(fresh(sub.name));
    sub.inputs.forEach((v) => copies.set(v, copy.input(fresh(v.name), v.dtype, v.shape)));
    cloneNodes(copy, sub, copies);
    sub.outputs.forEach((v) => copy.output(fresh(v.name), copyOf(v)!));
    return copy;
  };
  const attrs: PlainAttrs = {};
  for (const [key, attr] of Object.entries(node.attrs)) attrs[key] = attr.type === 'graph' ? copySubgraph(attr.value) : attr.value;
  const outs = target.node(node.op, node.inputs.map(copyOf), attrs, { doc: node.docString, outputs: node.outputs.length });
  const copied = outs[0]?.source;
  if (copied?.kind === 'node' && node.customVjp) copied.node.customVjp = node.customVjp;
  if (copied?.kind === 'node' && node.loopConfig) copied.node.loopConfig = node.loopConfig;
  node.outputs.forEach((v, i) => {
    // Shape rules read constants' contents (Reshape's shape, reduce axes): keep them known.
    if (v.constant) outs[i].constant = v.constant;
    copies.set(v, outs[i]);
  });
  return outs;
}

function scopedName(g: Graph, name: string): string {
  if (!name || name.includes('/')) throw new SpecError(`control-flow name '${name}' must be non-empty and contain no '/'`);
  return g.scopePath ? `${g.scopePath}/${name}` : name;
}
