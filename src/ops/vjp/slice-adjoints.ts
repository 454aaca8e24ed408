// The adjoints of slicing and gathering, for the shape ops' VJP rules (./shape.ts): zeros
// padded around a slice's cotangent, or cotangents scattered back to where they were read.
// Sizes may be known only at run time (a symbolic batch), so they are `Count`s: a number,
// or an int64 [1] value computed in the graph.
import { SpecError, Tensor, type Graph, type Value } from '../../ir/index.js';
import { add } from '../elementwise.js';
import { expandLike } from '../grad-helpers.js';
import { scatterElements } from '../scatter.js';
import { concat, constantOfShape, gather, int64Constant, reshape, shapeOf, slice, SliceOp, sliceRange, unsqueeze } from '../shape.js';
import { cast } from '../structural.js';

/** A size along one axis: a number, or an int64 [1] value computed at run time. */
export type Count = number | Value;

/** @example const v = countVector(g, 3); // int64 [1] holding 3 */
function countVector(g: Graph, c: Count): Value {
  return typeof c === 'number' ? int64Constant(g, [c]) : c;
}

/**
 * The size of `x` along `axis`: a number when static, else read with Shape/Gather.
 *
 * @example const n = dimCount(g, x, 0); // 4 for x [4,3]; an int64 [1] value for x [B,3]
 */
export function dimCount(g: Graph, x: Value, axis: number): Count {
  const d = x.shape[axis];
  return typeof d === 'number' ? d : gather(g, shapeOf(g, x), [axis]);
}

/**
 * The sum of two sizes: a number when both are, else an int64 [1] value.
 *
 * @example offset = addCounts(g, offset, dimCount(g, x, axis));
 */
export function addCounts(g: Graph, a: Count, b: Count): Count {
  return typeof a === 'number' && typeof b === 'number' ? a + b : add(g, countVector(g, a), countVector(g, b));
}

/** `like`'s shape with dim `axis` replaced by `count`: literal numbers when all are known, else an int64 value. */
function shapeWithAxis(g: Graph, like: Value, axis: number, count: Count): readonly number[] | Value {
  const dims = like.shape.map((d, i) => (i === axis ? count : d));
  if (dims.every((d): d is number => typeof d === 'number')) return dims;
  const dimsOf = (from: number, to: number) => gather(g, shapeOf(g, like), [...Array(to - from).keys()].map((k) => from + k));
  const parts = [axis > 0 && dimsOf(0, axis), countVector(g, count), axis + 1 < like.rank && dimsOf(axis + 1, like.rank)];
  return concat(g, parts.filter((p): p is Value => !!p), 0);
}

/**
 * Zeros shaped like `like` except `count` along `axis`.
 *
 * @example const pad = zerosAlong(g, x, 2, 1); // x [C,N,H,W] -> zeros [C,N,1,W]
 */
export function zerosAlong(g: Graph, like: Value, axis: number, count: Count): Value {
  const shape = shapeWithAxis(g, like, axis, count);
  return Array.isArray(shape) ? g.constant(Tensor.zeros(like.dtype, shape)) : constantOfShape(g, shape as Value, 0, like.dtype);
}

/**
 * `v[start:end]` along `axis`, with literal or run-time bounds.
 *
 * @example const part = sliceBetween(g, gy, 1, offset, Infinity); // gy[:, offset:]
 */
export function sliceBetween(g: Graph, v: Value, axis: number, start: Count, end: Count): Value {
  if (typeof start === 'number' && typeof end === 'number') return slice(g, v, [start], [end], [axis]);
  return g.node(SliceOp, [v, countVector(g, start), countVector(g, end), int64Constant(g, [axis])])[0];
}

/**
 * The adjoint of a step-1 slice along `axis`: `grad` with zeros before it (as many as the
 * slice skipped) and after it (the rest of x's size). Where a size or the start is known
 * only at run time, the zero blocks are cut with the forward's own start from zeros of
 * x's size, so the clamping of out-of-range bounds is onnxruntime's.
 *
 * @example const gx = padAlong(g, gy, x, 1, 2); // gy [B,3] of x[:, 2:5], x [B,8] -> [B,8]
 */
export function padAlong(g: Graph, grad: Value, x: Value, axis: number, start: Count): Value {
  const [dim, len] = [x.shape[axis], dimCount(g, grad, axis)];
  let parts: (Value | undefined)[];
  if (typeof dim === 'number' && typeof start === 'number' && typeof len === 'number') {
    const before = sliceRange(dim, start, dim, 1).start;
    const after = dim - before - len;
    parts = [before > 0 ? zerosAlong(g, grad, axis, before) : undefined, grad, after > 0 ? zerosAlong(g, grad, axis, after) : undefined];
  } else {
    const zeros = zerosAlong(g, grad, axis, dimCount(g, x, axis));
    const head = sliceBetween(g, zeros, axis, 0, start);
    parts = [head, grad, sliceBetween(g, zeros, axis, addCounts(g, dimCount(g, head, axis), len), Infinity)];
  }
  const present = parts.filter((p): p is Value => !!p);
  return present.length === 1 ? grad : concat(g, present, axis);
}

/**
 * The adjoint of a slice with step != 1 along `axis`: scatter `grad` to the selected positions.
 *
 * @example const gx = scatterStrided(g, gy, x, 0, 0, Infinity, 2, "Slice 'evens'"); // gy [4] of x[0::2], x [8] -> [8]
 */
export function scatterStrided(g: Graph, grad: Value, x: Value, axis: number, start: Count, end: Count, step: number, where: string): Value {
  const dim = x.shape[axis];
  if (typeof dim !== 'number' || typeof start !== 'number' || typeof end !== 'number') {
    throw new SpecError(`${where}: the gradient of a step-${step} slice needs a static size on axis ${axis} and constant bounds (x is ${x.describe()})`);
  }
  const range = sliceRange(dim, start, end, step);
  const base = zerosAlong(g, grad, axis, dim);
  if (range.length === 0) return base;
  const positions = Array.from({ length: range.length }, (_, k) => range.start + k * range.step);
  return scatterAddAlong(g, base, int64Constant(g, positions), grad, axis);
}

/**
 * The adjoint of Gather along `axis`: `base` plus the slices of `updates` (shaped like
 * `Gather(base, indices, axis)`) added at `indices`, repeated indices adding up. Built from
 * ScatterElements(reduction add), so it needs opset 16.
 *
 * @example const gx = scatterAddAlong(g, filledLike(g, x, 0), indices, gy, 0); // Gather's adjoint
 */
export function scatterAddAlong(g: Graph, base: Value, indices: Value, updates: Value, axis: number): Value {
  if (g.opset < 16) {
    throw new SpecError(`the gradient of Gather (and of strided Slice) in graph '${g.name}' adds with ScatterElements' reduction, which needs opset 16; the model targets opset ${g.opset}`);
  }
  // ScatterElements wants indices and updates of base's rank: one index per updated element.
  let idx = cast(g, indices, 'int64');
  let u = updates;
  if (idx.rank === 0) u = unsqueeze(g, u, [axis]);
  else if (idx.rank > 1) u = reshape(g, u, shapeWithAxis(g, base, axis, -1));
  idx = reshape(g, idx, base.shape.map((_, i) => (i === axis ? -1 : 1)));
  return scatterElements(g, base, expandLike(g, idx, u), u, axis, 'add');
}
