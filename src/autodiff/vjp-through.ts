/**
 * The general reverse pass: given cotangents seeded on any values, emit into a
 * chosen graph the nodes that carry them back through a chosen set of forward
 * nodes to the `wrt` values.
 *
 * The emit graph may differ from the forward nodes' graph: an adjoint
 * fixed-point Loop body emits the VJP of a sweep whose forward values live
 * outside, in the enclosing graph (outer-scope references), so the sweep is
 * linearised once and the body holds only the linear map w ↦ (∂F/∂S)ᵀw.
 */
import { isFloat, SpecError, type Graph, type Node, type Value, type VjpContext } from '../ir/index.js';
import { add, vjpRuleOf } from '../ops/index.js';

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

  return g.scope(options.scope ?? 'backward', () => {
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i];
      const gradOutputs = node.outputs.map(total);
      if (gradOutputs.every((c) => c === undefined)) continue;
      const captures = node.captures();
      const operands = [...node.inputs, ...captures];
      const wants = operands.map((v, k) => {
        if (!v || !isFloat(v.dtype) || !relevant.has(v)) return false;
        return k >= node.inputs.length || !node.op.inputs[Math.min(k, node.op.inputs.length - 1)]?.nondiff;
      });
      if (!wants.some(Boolean)) continue;
      const rule = node.customVjp ?? vjpRuleOf(node.op);
      if (rule === undefined) throw new SpecError(`backward: ${node.opType} '${node.name}' has no VJP rule, but the loss depends on it`);
      if (rule === 'none') continue;
      const grads = g.scope(node.name, () =>
        rule({ node, inputs: node.inputs, captures, outputs: node.outputs, gradOutputs, graph: g, wants, reverse }),
      );
      operands.forEach((v, k) => {
        const c = grads[k];
        if (v && wants[k] && c) push(v, c);
      });
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
