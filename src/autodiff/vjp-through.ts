/**
 * The general reverse pass: given cotangents seeded on any values, emit into a
 * chosen graph the nodes that carry them back through a chosen set of forward
 * nodes to the `wrt` values.
 *
 * The emit graph may differ from the forward nodes' graph: an adjoint
 * fixed-point Loop body emits the VJP of a sweep whose forward values live
 * outside, in the enclosing graph (outer-scope references), so the sweep is
 * linearised once and the body holds only the linear map w ↦ (∂F/∂S)ᵀw.
 *
 * Deferred gradients (`DeferredGradients`). A region's sweep at S* is
 * differentiated twice in a training graph: by the loss's reverse pass (the
 * output y = O(S*) is one of its values) and by the adjoint's θ̄ = (∂F/∂θ)ᵀw.
 * Both are linear in their seeds, so their parameter cotangents are one VJP
 * seeded with both: the reverse pass carries the sweep's cotangents on to S*
 * only, records what reached the sweep's values from outside it, and the
 * adjoint seeds those beside w (`VjpContext.takeDeferred`). Each weight's
 * gradient, a conv's largest backward kernel, is then computed once.
 */
import { isFloat, SpecError, type DeferredGradients, type Graph, type Node, type Value, type VjpContext } from '../ir/index.js';
import { add, vjpRuleOf } from '../ops/index.js';

const deferrals = new WeakMap<Node, DeferredGradients>();

/**
 * Mark `deferred.nodes` so that a reverse pass through them and through
 * `deferred.taker` skips `deferred.operands` there and hands the nodes' outside
 * seeds to the taker's rule (`VjpContext.takeDeferred`). A pass without the
 * taker differentiates the nodes as usual; one whose taker never runs its rule
 * differentiates the operands itself at its end.
 *
 * @example deferGradients({ nodes: sweepNodes, operands: new Set(loopNode.captures()), taker: loopNode });
 */
export function deferGradients(deferred: DeferredGradients): void {
  for (const node of deferred.nodes) deferrals.set(node, deferred);
}

export interface VjpThroughOptions {
  /** Forward nodes to differentiate through, in topological order. */
  nodes: readonly Node[];
  /** Initial cotangents (the same shape and dtype as their values). */
  seeds: ReadonlyMap<Value, Value>;
  /** Values whose cotangents to return. */
  wrt: readonly Value[];
  /** Where the backward nodes go; must see every forward value (same graph or a descendant). */
  into: Graph;
  /** Scope prefix of the emitted node names. */
  scope?: string;
  /** A deferral this pass resolves: its nodes' operands get their cotangents here, as for any node. */
  resolving?: DeferredGradients;
}

/**
 * Cotangents of `wrt` (undefined where no seeded value depends on one).
 *
 * @example
 * const [jtw] = vjpThrough({ nodes: sweepNodes, seeds: new Map([[sNew, w]]), wrt: [sStar], into: body });
 */
export function vjpThrough(options: VjpThroughOptions): (Value | undefined)[] {
  const { nodes, seeds, wrt, into: g } = options;
  const relevant = relevantValues(nodes, seeds, wrt);
  const contributions = new Map<Value, Value[]>();
  const push = (v: Value, c: Value) => {
    const list = contributions.get(v);
    if (list) list.push(c);
    else contributions.set(v, [c]);
  };
  const total = (v: Value): Value | undefined => {
    const list = contributions.get(v);
    if (!list) return undefined;
    // Collapse once, so later reads reuse the same sum.
    const sum = list.reduce((acc, c) => add(g, acc, c));
    contributions.set(v, [sum]);
    return sum;
  };
  for (const [v, c] of seeds) {
    if (!g.sees(v)) throw new SpecError(`vjpThrough: seeded value '${v.name}' is not visible from graph '${g.name}'`);
    push(v, c);
  }

  // Deferrals met in this pass: the cotangents that reached their nodes' values from outside them.
  const pending = new Map<DeferredGradients, Map<Value, Value>>();
  const takeDeferred = (d: DeferredGradients): Map<Value, Value> | undefined => {
    const seeds = pending.get(d);
    pending.delete(d);
    return seeds;
  };
  // Built on the first deferred node met: most passes have none.
  let inPass: Set<Node> | undefined;
  const deferralAt = (node: Node): DeferredGradients | undefined => {
    const d = deferrals.get(node);
    if (!d || d === options.resolving || !(inPass ??= new Set(nodes)).has(d.taker)) return undefined;
    if (!pending.has(d)) {
      // The first of its nodes met in reverse: only consumers outside them have pushed cotangents so far.
      const outside = new Map<Value, Value>();
      for (const n of d.nodes) for (const o of n.outputs) if (contributions.has(o)) outside.set(o, total(o)!);
      pending.set(d, outside);
    }
    return d;
  };

  return g.scope(options.scope ?? 'backward', () => {
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i];
      const gradOutputs = node.outputs.map(total);
      if (gradOutputs.every((c) => c === undefined)) continue;
      const captures = node.captures();
      const operands = [...node.inputs, ...captures];
      const deferred = deferralAt(node);
      const wants = operands.map((v, k) => {
        if (!v || !isFloat(v.dtype) || !relevant.has(v) || deferred?.operands.has(v)) return false;
        return k >= node.inputs.length || !node.op.inputs[Math.min(k, node.op.inputs.length - 1)]?.nondiff;
      });
      if (!wants.some(Boolean)) continue;
      const rule = node.customVjp ?? vjpRuleOf(node.op);
      if (rule === undefined) throw new SpecError(`backward: ${node.opType} '${node.name}' has no VJP rule, but the loss depends on it`);
      if (rule === 'none') continue;
      const grads = g.scope(node.name, () =>
        rule({ node, inputs: node.inputs, captures, outputs: node.outputs, gradOutputs, graph: g, wants, reverse, takeDeferred }),
      );
      operands.forEach((v, k) => {
        const c = grads[k];
        if (v && wants[k] && c) push(v, c);
      });
    }
    // A deferral no rule took: its operands' cotangents from the outside seeds alone.
    for (const [d, outside] of pending) {
      const targets = [...d.operands].filter((v) => relevant.has(v) && isFloat(v.dtype));
      if (outside.size === 0 || targets.length === 0) continue;
      const grads = vjpThrough({ nodes: d.nodes, seeds: outside, wrt: targets, into: g, scope: 'deferred', resolving: d });
      targets.forEach((v, k) => grads[k] && push(v, grads[k]!));
    }
    return wrt.map(total);
  });
}

/** Reverse mode as VJP rules see it (`VjpContext.reverse`): what an If rule uses on its branch copies. */
const reverse: NonNullable<VjpContext['reverse']> = (nodes, seeds, wrt, into) => vjpThrough({ nodes, seeds, wrt, into });

/** Values that both depend on some `wrt` value and reach some seeded value through `nodes`. */
function relevantValues(nodes: readonly Node[], seeds: ReadonlyMap<Value, Value>, wrt: readonly Value[]): Set<Value> {
  const operands = (n: Node) => [...n.inputs, ...n.captures()];
  const forward = new Set<Value>(wrt);
  for (const n of nodes) if (operands(n).some((v) => v && forward.has(v))) n.outputs.forEach((o) => forward.add(o));
  const needed = new Set<Value>(seeds.keys());
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    if (!n.outputs.some((o) => needed.has(o) && forward.has(o))) continue;
    operands(n).forEach((v) => v && forward.has(v) && needed.add(v));
  }
  return new Set([...needed].filter((v) => forward.has(v)));
}
