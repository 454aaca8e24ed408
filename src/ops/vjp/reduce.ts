// VJP rules of the reductions (../reduce.ts): the cotangent broadcast back over the
// reduced dims, divided by their count (mean) or shared among the maxima (max).
import type { Graph, Node, OpDef, Value, VjpRule } from '../../ir/index.js';
import { equal } from '../compare.js';
import { div, mul } from '../elementwise.js';
import { countAlong, expandLike, resolveAxes } from '../grad-helpers.js';
import { reduceSum, ReduceMaxOp, ReduceMeanOp, ReduceSumOp } from '../reduce.js';
import { unsqueeze } from '../shape.js';
import { cast } from '../structural.js';

/** The dims a reduce node reduces (sorted, non-negative), or undefined for a no-op. */
function reducedAxesOf(node: Node): number[] | undefined {
  const x = node.inputs[0]!;
  const axes = node.inputs[1]?.constant?.toNumbers() ?? node.attr<readonly number[]>('axes', []);
  if (axes.length === 0 && node.attr<number>('noop_with_empty_axes', 0) === 1) return undefined;
  return resolveAxes(axes, x.rank);
}

/** The output cotangent with the reduced dims restored as size 1, ready to broadcast over x. */
function keptDims(g: Graph, node: Node, v: Value, axes: readonly number[]): Value {
  return node.attr<number>('keepdims', 1) === 1 || axes.length === 0 ? v : unsqueeze(g, v, axes);
}

// d Σx = broadcast(dy)
const reduceSumVjp: VjpRule = ({ graph: g, node, inputs: [x], gradOutputs: [gy] }) => {
  const axes = reducedAxesOf(node);
  if (!axes) return [gy];
  return [expandLike(g, keptDims(g, node, gy!, axes), x!)];
};
// d mean(x) = broadcast(dy) / n
const reduceMeanVjp: VjpRule = ({ graph: g, node, inputs: [x], gradOutputs: [gy] }) => {
  const axes = reducedAxesOf(node);
  if (!axes) return [gy];
  return [div(g, expandLike(g, keptDims(g, node, gy!, axes), x!), countAlong(g, x!, axes))];
};
// d max(x) = dy shared equally among the maxima (PyTorch's amax)
const reduceMaxVjp: VjpRule = ({ graph: g, node, inputs: [x], outputs: [y], gradOutputs: [gy] }) => {
  const axes = reducedAxesOf(node);
  if (!axes) return [gy];
  const mask = cast(g, equal(g, x!, keptDims(g, node, y, axes)), x!.dtype);
  const share = div(g, keptDims(g, node, gy!, axes), reduceSum(g, mask, axes, true));
  return [mul(g, mask, share)];
};

/** This family's VJP rules, for the VJP table (../vjp-table.ts). */
export const REDUCE_VJPS: readonly (readonly [OpDef, VjpRule])[] = [[ReduceSumOp, reduceSumVjp], [ReduceMeanOp, reduceMeanVjp], [ReduceMaxOp, reduceMaxVjp]];
