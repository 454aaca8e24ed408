// VJP rules of the shape ops (../shape.ts); Shape and ConstantOfShape have none (`vjp: 'none'`,
// their inputs are shapes). The adjoints of slicing and gathering are in ./slice-adjoints.ts.
import { normalizeAxis, SpecError, type OpDef, type Value, type VjpRule } from '../../ir/index.js';
import { filledLike, unbroadcast } from '../grad-helpers.js';
import {
  ConcatOp, ExpandOp, FlattenOp, gather, GatherOp, numbersOf, ReshapeOp, reshapeLike, SliceOp, squeeze, SqueezeOp, transpose, TransposeOp,
  unsqueeze, UnsqueezeOp,
} from '../shape.js';
import { cast } from '../structural.js';
import { addCounts, dimCount, padAlong, scatterAddAlong, scatterStrided, sliceBetween, type Count } from './slice-adjoints.js';

// d reshape(x) = d flatten(x) = dy reshaped back to x's shape
const reshapeBackVjp: VjpRule = ({ graph: g, inputs: [x], gradOutputs: [gy] }) => [reshapeLike(g, gy!, x!)];
// d transpose(x, p) = transpose(dy, p⁻¹)
const transposeVjp: VjpRule = ({ graph: g, node, inputs: [x], gradOutputs: [gy] }) => {
  const perm = node.attr<readonly number[]>('perm', x!.shape.map((_, i) => x!.rank - 1 - i));
  return [transpose(g, gy!, perm.map((_, i) => perm.indexOf(i)))];
};
// d concat(x_1..x_n) = the slice of dy at each x_k's offset along axis
const concatVjp: VjpRule = ({ graph: g, node, inputs, gradOutputs: [gy], wants }) => {
  const axis = normalizeAxis(node.attr<number>('axis'), gy!.rank, `Concat '${node.name}'`);
  const last = wants.lastIndexOf(true);
  let offset: Count = 0;
  return inputs.map((x, k) => {
    if (k > last) return undefined;
    const start = offset;
    offset = addCounts(g, offset, dimCount(g, x!, axis));
    if (!wants[k]) return undefined;
    const end = k === inputs.length - 1 ? Infinity : offset;
    return reshapeLike(g, sliceBetween(g, gy!, axis, start, end), x!);
  });
};
// d x[s:e:k] = dy put back where it was sliced from, zeros elsewhere
const sliceVjp: VjpRule = ({ graph: g, node, inputs: [x, starts, ends, axesIn, stepsIn], gradOutputs: [gy] }) => {
  const where = `Slice '${node.name}'`;
  const count = starts!.shape[0];
  const axes = axesIn ? numbersOf(axesIn) : typeof count === 'number' ? [...Array(count).keys()] : undefined;
  const steps = stepsIn ? numbersOf(stepsIn) : axes?.map(() => 1);
  if (!axes || !steps) throw new SpecError(`${where}: its gradient needs constant axes and steps`);
  const bound = (v: Value, i: number): number | Value => numbersOf(v)?.[i] ?? cast(g, gather(g, v, [i]), 'int64');
  let grad = gy!;
  axes.forEach((raw, i) => {
    const axis = normalizeAxis(raw, x!.rank, where);
    const [start, end] = [bound(starts!, i), bound(ends!, i)];
    grad = steps[i] === 1 ? padAlong(g, grad, x!, axis, start) : scatterStrided(g, grad, x!, axis, start, end, steps[i], where);
  });
  return [reshapeLike(g, grad, x!)];
};
// d expand(x) = dy summed over the broadcast axes
const expandVjp: VjpRule = ({ graph: g, inputs: [x], gradOutputs: [gy] }) => [unbroadcast(g, gy!, x!)];
// d x[idx] (along axis) = dy scatter-added back to the gathered positions (repeats add up)
const gatherVjp: VjpRule = ({ graph: g, node, inputs: [x, indices], gradOutputs: [gy] }) => {
  const axis = normalizeAxis(node.attr<number>('axis', 0), x!.rank, `Gather '${node.name}'`);
  return [scatterAddAlong(g, filledLike(g, x!, 0), indices!, gy!, axis)];
};
// d unsqueeze(x, axes) = squeeze(dy, axes)
const unsqueezeVjp: VjpRule = ({ graph: g, inputs: [, axesIn], gradOutputs: [gy] }) => {
  const axes = numbersOf(axesIn)!.map((a) => (a < 0 ? a + gy!.rank : a));
  return [squeeze(g, gy!, axes)];
};
// d squeeze(x, axes) = unsqueeze(dy, axes); without axes, every size-1 dim of x
const squeezeVjp: VjpRule = ({ graph: g, inputs: [x, axesIn], gradOutputs: [gy] }) => {
  const axes = axesIn ? numbersOf(axesIn)!.map((a) => (a < 0 ? a + x!.rank : a)) : x!.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  return [axes.length > 0 ? unsqueeze(g, gy!, axes) : gy];
};

/** This family's VJP rules, for the VJP table (../vjp-table.ts). */
export const SHAPE_VJPS: readonly (readonly [OpDef, VjpRule])[] = [
  [ReshapeOp, reshapeBackVjp], [FlattenOp, reshapeBackVjp], [TransposeOp, transposeVjp], [ConcatOp, concatVjp], [SliceOp, sliceVjp],
  [ExpandOp, expandVjp], [GatherOp, gatherVjp], [UnsqueezeOp, unsqueezeVjp], [SqueezeOp, squeezeVjp],
];
