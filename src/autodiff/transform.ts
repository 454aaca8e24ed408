/**
 * Reverse-mode differentiation over the IR, emitting ONNX nodes.
 *
 * Walk the forward nodes in reverse topological order (a Graph's node list is
 * already topological: the builder only appends nodes whose inputs exist). A
 * value's cotangent is the sum of the contributions from every consumer (fan-in
 * summed). Each node's op supplies a hand-written VJP rule; ops marked
 * `vjp: 'none'` (comparisons) stop the flow, and an op with no rule on the path
 * from `wrt` to `loss` is an error, never a silent zero.
 */
import { isFloat, SpecError, Tensor, type Graph, type Node, type Value, type VjpContext } from '../ir/index.js';
import { add } from '../ops/index.js';
import { filledLike } from '../ops/grad-helpers.js';
import { vjpThrough } from './vjp-through.js';

export interface BackwardOptions {
  /** Cotangent to seed the loss with (default: ones, i.e. d loss / d loss = 1). */
  seed?: Value;
  /** Scope prefix for the backward nodes' names. */
  scope?: string;
  /** Return zeros (instead of throwing) for a `wrt` value the loss does not depend on. */
  allowUnused?: boolean;
}

/**
 * Emit, into `g`, nodes computing d`loss`/d`wrt[i]` for each `wrt` value.
 *
 * @example
 * const loss = mseLoss(g, y, target);
 * const [gw, gb] = backward(g, loss, [w, b]);
 */
export function backward(g: Graph, loss: Value, wrt: readonly Value[], options: BackwardOptions = {}): Value[] {
  const path = nodesOnPath(g, loss, wrt);
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

  return g.scope(options.scope ?? 'backward', () => {
    push(loss, options.seed ?? g.constant(Tensor.scalar(1, loss.dtype)));
    if (loss.rank !== 0 && !options.seed) throw new SpecError(`backward: loss '${loss.name}' must be a scalar, got rank ${loss.rank}`);

    for (let i = path.nodes.length - 1; i >= 0; i--) {
      const node = path.nodes[i];
      const gradOutputs = node.outputs.map(total);
      if (gradOutputs.every((c) => c === undefined)) continue;
      const captures = node.captures();
      const operands = [...node.inputs, ...captures];
      const wants = operands.map((v, k) => {
        if (!v || !isFloat(v.dtype) || !path.values.has(v)) return false;
        return k >= node.inputs.length || !node.op.inputs[Math.min(k, node.op.inputs.length - 1)]?.nondiff;
      });
      if (!wants.some(Boolean)) continue;
      const rule = node.customVjp ?? node.op.vjp;
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

    return wrt.map((v) => {
      const grad = total(v);
      if (grad) return grad;
      if (!options.allowUnused) throw new SpecError(`backward: loss '${loss.name}' does not depend on '${v.name}'`);
      return filledLike(g, v, 0);
    });
  });
}

/** Reverse mode as VJP rules see it (`VjpContext.reverse`): what an If rule uses on its branch copies. */
const reverse: NonNullable<VjpContext['reverse']> = (nodes, seeds, wrt, into) => vjpThrough({ nodes, seeds, wrt, into });

/**
 * Nodes of `g` lying on a path from some `wrt` value to `loss`, in graph order,
 * and the values on such paths.
 */
function nodesOnPath(g: Graph, loss: Value, wrt: readonly Value[]): { nodes: Node[]; values: Set<Value> } {
  if (!g.sees(loss)) throw new SpecError(`backward: loss '${loss.name}' is not visible from graph '${g.name}'`);
  const forward = new Set<Value>(wrt);
  const operands = (n: Node) => [...n.inputs, ...n.captures()];
  for (const n of g.nodes) if (operands(n).some((v) => v && forward.has(v))) n.outputs.forEach((o) => forward.add(o));
  const needed = new Set<Value>([loss]);
  const nodes: Node[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (!n.outputs.some((o) => needed.has(o) && forward.has(o))) continue;
    nodes.push(n);
    operands(n).forEach((v) => v && forward.has(v) && needed.add(v));
  }
  nodes.reverse();
  const values = new Set([...needed].filter((v) => forward.has(v)));
  return { nodes, values };
}
