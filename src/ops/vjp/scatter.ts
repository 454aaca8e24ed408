// VJP rules of ScatterElements and GatherElements (../scatter.ts): each one's adjoint is the other.
import type { OpDef, VjpRule } from '../../ir/index.js';
import { filledLike } from '../grad-helpers.js';
import { gatherElements, GatherElementsOp, scatterElements, ScatterElementsOp } from '../scatter.js';

// add: dy/d data = 1, dy/d updates[i] = picks dy at indices[i]; none: written cells lose data's gradient
const scatterElementsVjp: VjpRule = ({ graph: g, node, inputs: [, indices, updates], gradOutputs: [gy], wants }) => {
  const axis = node.attr<number>('axis', 0);
  const overwritten = node.attr<string>('reduction', 'none') === 'none';
  const gData = () => (overwritten ? scatterElements(g, gy!, indices!, filledLike(g, updates!, 0), axis) : gy);
  return [wants[0] ? gData() : undefined, undefined, wants[2] ? gatherElements(g, gy!, indices!, axis) : undefined];
};

// d data = scatter-add of dy at indices (repeated indices accumulate)
const gatherElementsVjp: VjpRule = ({ graph: g, node, inputs: [data, indices], gradOutputs: [gy] }) => [
  scatterElements(g, filledLike(g, data!, 0), indices!, gy!, node.attr<number>('axis', 0), 'add'),
  undefined,
];

/** This family's VJP rules, for the VJP table (../vjp-table.ts). */
export const SCATTER_VJPS: readonly (readonly [OpDef, VjpRule])[] = [[ScatterElementsOp, scatterElementsVjp], [GatherElementsOp, gatherElementsVjp]];
