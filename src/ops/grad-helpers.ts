// Small emitters the VJP rules share (the one shared `unbroadcast` among them): zeros/ones like a value, broadcasting undone,
// element counts of (possibly symbolic) axes.
import { isStatic, Tensor, type Graph, type Value } from '../ir/index.js';
import { mul } from './elementwise.js';
import { reduceSum } from './reduce.js';
import { constantOfShape, expand, gather, shapeOf, squeeze } from './shape.js';
import { cast } from './structural.js';

/**
 * A tensor shaped like `v` filled with `fill`: a cached constant when the shape is
 * static, else ConstantOfShape(Shape(v)).
 *
 * @example const z = filledLike(g, x, 0);
 */
export function filledLike(g: Graph, v: Value, fill: number): Value {
  if (isStatic(v.shape)) {
    const t = Tensor.zeros(v.dtype, v.shape);
    if (fill !== 0) for (let i = 0; i < t.size; i++) (t.data as Float64Array)[i] = fill;
    return g.constant(t);
  }
  return constantOfShape(g, shapeOf(g, v), fill, v.dtype);
}

/**
 * Undo numpy broadcasting: sum `grad` (shaped like a broadcast result) down to
 * `target`'s shape. Broadcasting only ever stretches size-1 or missing leading
 * dims, so those are exactly the axes to sum.
 *
 * @example const ga = unbroadcast(g, gy, a); // gy [B,3], a [3] -> [3]
 */
export function unbroadcast(g: Graph, grad: Value, target: Value): Value {
  const lead = grad.rank - target.rank;
  const axes: number[] = [];
  for (let i = 0; i < lead; i++) axes.push(i);
  target.shape.forEach((d, i) => {
    if (d === 1 && grad.shape[i + lead] !== 1) axes.push(i + lead);
  });
  if (axes.length === 0) return grad;
  const summed = reduceSum(g, grad, axes, true);
  return lead > 0 ? squeeze(g, summed, axes.slice(0, lead)) : summed;
}

/**
 * The number of elements along `axes` of `x`, as a scalar of `x`'s dtype; symbolic
 * dims are read at run time with Shape/Gather.
 *
 * @example const n = countAlong(g, x, [0]); // B as a float
 */
export function countAlong(g: Graph, x: Value, axes: readonly number[]): Value {
  let known = 1;
  const dynamic: Value[] = [];
  for (const a of axes) {
    const d = x.shape[a];
    if (typeof d === 'number') known *= d;
    else dynamic.push(cast(g, gather(g, shapeOf(g, x), a), x.dtype));
  }
  let count = g.constant(Tensor.scalar(known, x.dtype));
  for (const d of dynamic) count = mul(g, count, d);
  return count;
}

/**
 * `v` broadcast to `like`'s shape (static shapes as a constant, symbolic ones via Shape).
 *
 * @example const gx = expandLike(g, gyKeptDims, x);
 */
export function expandLike(g: Graph, v: Value, like: Value): Value {
  return expand(g, v, isStatic(like.shape) ? like.shape : shapeOf(g, like));
}

/** Normalise reduce axes (empty = all) to non-negative, sorted axes. */
export function resolveAxes(axes: readonly number[], rank: number): number[] {
  if (axes.length === 0) return [...Array(rank).keys()];
  return axes.map((a) => (a < 0 ? a + rank : a)).sort((p, q) => p - q);
}
