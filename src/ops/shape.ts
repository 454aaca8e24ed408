// Shape ops, one section each: its shape rule, its OpDef and its emitter
// together — Reshape, Flatten, Transpose, Concat, Slice, Expand, and the ops
// lowering code needs for symbolic batch sizes (Shape, Gather, Unsqueeze,
// Squeeze, ConstantOfShape). The shared machinery comes first (build-time
// contents of shape values, dimension arithmetic). The VJP rules are in
// ./vjp/shape.ts, the adjoints of slicing and gathering in ./vjp/slice-adjoints.ts.
//
// Shape inputs (Reshape's shape, Slice's bounds, ...) are int64 tensors. Their contents
// are read at build time from `symbolicContents`: a Constant's numbers, or a symbolic
// vector such as Concat(Shape(x)[0:1], [16]) = [B,16], so that Reshape/Expand/
// ConstantOfShape on a runtime-computed shape still infer `[B,16]`, not fresh dims that
// would fail to broadcast against `B` later.
import {
  ALL_DTYPES,
  broadcastShapes,
  formatShape,
  normalizeAxis,
  shapesEqual,
  SpecError,
  Tensor,
  type Dim,
  type DType,
  type Graph,
  type InferContext,
  type OpDef,
  type Shape,
  type Value,
  type ValueInfo,
} from '../ir/index.js';
import { requireSameDType } from './shape-rules.js';

// ---------------------------------------------------------------------------------------
// Build-time contents of int64 shape values.

const INDEX_DTYPES: readonly DType[] = ['int64', 'int32'];

const INT64_MAX = 2n ** 63n - 1n;

const INT64_MIN = -(2n ** 63n);

const contentsMemo = new WeakMap<Value, readonly Dim[] | null>();

/**
 * The contents of a rank-0 or rank-1 integer value when the graph fixes them at build
 * time: numbers for constants, dimension symbols for sizes read with `Shape`. Follows
 * Constant, Shape, Identity, Cast, Concat, Gather, Slice, Unsqueeze and Squeeze.
 *
 * @example
 * const x = g.input('x', 'float32', ['B', 4, 4]);
 * symbolicContents(concat(g, [shapeOf(g, x, 0, 1), g.constant(Tensor.fromNumbers('int64', [1], [16]))], 0));
 * // ['B', 16]
 */
export function symbolicContents(v: Value): readonly Dim[] | undefined {
  const hit = contentsMemo.get(v);
  if (hit !== undefined) return hit ?? undefined;
  const found = computeContents(v) ?? null;
  contentsMemo.set(v, found);
  return found ?? undefined;
}

function computeContents(v: Value): readonly Dim[] | undefined {
  if (!INDEX_DTYPES.includes(v.dtype) || v.rank > 1) return undefined;
  if (v.constant) return v.constant.toNumbers();
  if (v.source.kind !== 'node') return undefined;
  const node = v.source.node;
  const ins = node.inputs;
  switch (node.opType) {
    case 'Constant':
      return node.attr<Tensor>('value').toNumbers();
    case 'Shape': {
      const shape = ins[0]!.shape;
      const [start, end] = shapeRange(shape.length, node.attr<number>('start', 0), node.attrs.end ? node.attr<number>('end') : undefined);
      return shape.slice(start, end);
    }
    case 'Identity':
    case 'Cast':
    case 'Unsqueeze':
    case 'Squeeze':
      return symbolicContents(ins[0]!);
    case 'Concat': {
      const parts = ins.map((x) => (x ? symbolicContents(x) : undefined));
      return parts.every((p) => p !== undefined) ? parts.flat() : undefined;
    }
    case 'Gather': {
      const data = symbolicContents(ins[0]!);
      const indices = numbersOf(ins[1]);
      if (!data || !indices) return undefined;
      const picked = indices.map((i) => data[i < 0 ? i + data.length : i]);
      return picked.every((d) => d !== undefined) ? picked : undefined;
    }
    case 'Slice': {
      const data = symbolicContents(ins[0]!);
      const [starts, ends] = [numbersOf(ins[1]), numbersOf(ins[2])];
      const steps = ins[4] ? numbersOf(ins[4]) : [1];
      if (!data || !starts || !ends || !steps) return undefined;
      const { start, step, length } = sliceRange(data.length, starts[0], ends[0], steps[0]);
      return Array.from({ length }, (_, k) => data[start + k * step]);
    }
    default:
      return undefined;
  }
}

/**
 * Contents as plain numbers, when every element is known and numeric.
 *
 * @example numbersOf(g.constant(Tensor.fromNumbers('int64', [2], [0, -1]))) // [0, -1]
 */
export function numbersOf(v: Value | undefined): readonly number[] | undefined {
  const c = v && symbolicContents(v);
  return c && c.every((d): d is number => typeof d === 'number') ? c : undefined;
}

/**
 * An int64 constant from JS numbers; ±Infinity and beyond-safe values become INT64 max/min.
 *
 * @example const ends = int64Constant(g, [Infinity]); // int64 [1] holding INT64_MAX
 */
export function int64Constant(g: Graph, values: readonly number[], shape: readonly number[] = [values.length]): Value {
  const data = BigInt64Array.from(values, (n) => {
    if (n >= Number.MAX_SAFE_INTEGER) return INT64_MAX;
    if (n <= -Number.MAX_SAFE_INTEGER) return INT64_MIN;
    if (!Number.isInteger(n)) throw new SpecError(`int64 constant: ${n} is not an integer`);
    return BigInt(n);
  });
  return g.constant(new Tensor('int64', shape, data));
}

/** `readonly number[]` literals become cached int64 constants; Values pass through. */
function asIndexValue(g: Graph, v: readonly number[] | Value): Value {
  return Array.isArray(v) ? int64Constant(g, v as readonly number[]) : (v as Value);
}

// ---------------------------------------------------------------------------------------
// Dimension arithmetic.

/** A shape's element count split into its numeric product and its symbols (with repeats). */
function factor(shape: Shape): { num: number; syms: string[] } {
  let num = 1;
  const syms: string[] = [];
  for (const d of shape) {
    if (typeof d === 'number') num *= d;
    else syms.push(d);
  }
  return { num, syms: syms.sort() };
}

/** Remove each of `take` from `from` once; returns what is left of both. */
function subtractSyms(from: readonly string[], take: readonly string[]): { left: string[]; missing: string[] } {
  const left = [...from];
  const missing: string[] = [];
  for (const s of take) {
    const i = left.indexOf(s);
    if (i >= 0) left.splice(i, 1);
    else missing.push(s);
  }
  return { left, missing };
}

/** Product of dims: a number, the one symbol when the rest multiply to 1, else a fresh dim. */
function productDim(dims: Shape, ctx: InferContext): Dim {
  const { num, syms } = factor(dims);
  if (syms.length === 0) return num;
  if (syms.length === 1 && num === 1) return syms[0];
  return ctx.freshDim();
}

/** ONNX Shape's start/end, clamped to [0, rank]. */
function shapeRange(rank: number, start: number, end: number | undefined): [number, number] {
  const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + rank : i, 0), rank);
  return [clamp(start), clamp(end ?? rank)];
}

/**
 * ONNX Slice's clamping of one axis of static size `dim` (onnx Slice-13 spec).
 *
 * @example sliceRange(5, -2, Infinity, 1) // { start: 3, step: 1, length: 2 }
 */
export function sliceRange(dim: number, start: number, end: number, step: number): { start: number; step: number; length: number } {
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), dim);
    e = Math.min(Math.max(e, 0), dim);
  } else {
    s = Math.min(Math.max(s, 0), dim - 1);
    e = Math.min(Math.max(e, -1), dim - 1);
  }
  return { start: s, step, length: Math.max(0, Math.ceil((e - s) / step)) };
}

function normalizeOrFail(ctx: InferContext, axis: number, rank: number): number {
  try {
    return normalizeAxis(axis, rank, ctx.opType);
  } catch {
    return ctx.fail(`axis ${axis} is out of range for rank ${rank}`);
  }
}

// ---------------------------------------------------------------------------------------
// Reshape.

function inferReshape(ctx: InferContext): ValueInfo[] {
  const [x, shapeInput] = ctx.inputs as Value[];
  if (shapeInput.dtype !== 'int64' || shapeInput.rank !== 1) ctx.fail(`shape input must be int64 of rank 1, got ${shapeInput.describe()}`);
  const target = symbolicContents(shapeInput);
  if (!target) {
    const length = shapeInput.shape[0];
    if (typeof length !== 'number') ctx.fail(`shape input '${shapeInput.name}' has no static length, so the output rank is unknown`);
    return [{ dtype: x.dtype, shape: Array.from({ length }, () => ctx.freshDim()) }];
  }
  const allowzero = ctx.attr<number>('allowzero') === 1;
  let inferAt = -1;
  const out: Dim[] = target.map((d, i) => {
    if (d === -1) {
      if (inferAt >= 0) ctx.fail(`target shape ${formatShape(target)} has more than one -1`);
      inferAt = i;
      return -1;
    }
    if (d === 0 && !allowzero) {
      if (i >= x.rank) ctx.fail(`target shape ${formatShape(target)} copies dimension ${i} (0) but the input has rank ${x.rank}`);
      return x.shape[i];
    }
    if (typeof d === 'number' && d < 0) ctx.fail(`target shape ${formatShape(target)} has the invalid dimension ${d}`);
    return d;
  });
  const have = factor(x.shape);
  const want = factor(out.filter((_, i) => i !== inferAt));
  const { left, missing } = subtractSyms(have.syms, want.syms);
  const incompatible = () =>
    ctx.fail(`cannot reshape ${formatShape(x.shape)} (${have.num} elements) to ${formatShape(target)} (${want.num} elements)`);
  if (inferAt < 0) {
    if (left.length === 0 && missing.length === 0 && have.num !== want.num) incompatible();
    return [{ dtype: x.dtype, shape: out }];
  }
  let inferred: Dim;
  if (missing.length > 0 || want.num === 0) inferred = ctx.freshDim();
  else if (have.num % want.num !== 0) inferred = left.length === 0 ? incompatible() : ctx.freshDim();
  else {
    const ratio = have.num / want.num;
    if (left.length === 0) inferred = ratio;
    else if (left.length === 1 && ratio === 1) inferred = left[0];
    else inferred = ctx.freshDim();
  }
  out[inferAt] = inferred;
  return [{ dtype: x.dtype, shape: out }];
}

export const ReshapeOp: OpDef = {
  opType: 'Reshape',
  inputs: [{ name: 'data' }, { name: 'shape', nondiff: true }],
  outputs: 1,
  attrs: { allowzero: { type: 'int', default: 0 } },
  dtypes: ALL_DTYPES,
  doc: 'y = x with a new shape (0 copies a dim, -1 is inferred)',
  infer: inferReshape,
};

/**
 * `x` with a new shape: a literal (0 copies the input dim, -1 is inferred) or an int64 value.
 *
 * @example const y = reshape(g, x, [0, -1]); // [B,4,4] -> [B,16]
 */
export const reshape = (g: Graph, x: Value, shape: readonly number[] | Value): Value =>
  g.node(ReshapeOp, [x, asIndexValue(g, shape)])[0];

// ---------------------------------------------------------------------------------------
// Flatten.

function inferFlatten(ctx: InferContext): ValueInfo[] {
  const x = ctx.inputs[0]!;
  const axis = ctx.attr<number>('axis');
  if (axis < -x.rank || axis > x.rank) ctx.fail(`axis ${axis} is out of range for rank ${x.rank} (Flatten allows [-r, r])`);
  const a = axis < 0 ? axis + x.rank : axis;
  return [{ dtype: x.dtype, shape: [productDim(x.shape.slice(0, a), ctx), productDim(x.shape.slice(a), ctx)] }];
}

export const FlattenOp: OpDef = {
  opType: 'Flatten',
  inputs: [{ name: 'input' }],
  outputs: 1,
  attrs: { axis: { type: 'int', default: 1 } },
  dtypes: ALL_DTYPES,
  doc: 'y = x as 2-D [prod(dims[:axis]), prod(dims[axis:])]',
  infer: inferFlatten,
};

/** @example const y = flatten(g, x, 1); // [B,2,3] -> [B,6] */
export const flatten = (g: Graph, x: Value, axis = 1): Value => g.node(FlattenOp, [x], { axis })[0];

// ---------------------------------------------------------------------------------------
// Transpose.

function inferTranspose(ctx: InferContext): ValueInfo[] {
  const x = ctx.inputs[0]!;
  const perm = ctx.hasAttr('perm') ? ctx.attr<readonly number[]>('perm') : x.shape.map((_, i) => x.rank - 1 - i);
  const isPermutation = perm.length === x.rank && [...perm].sort((a, b) => a - b).every((p, i) => p === i);
  if (!isPermutation) ctx.fail(`perm [${perm.join(',')}] is not a permutation of the ${x.rank} axes of ${formatShape(x.shape)}`);
  return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }];
}

export const TransposeOp: OpDef = {
  opType: 'Transpose',
  inputs: [{ name: 'data' }],
  outputs: 1,
  attrs: { perm: { type: 'ints' } },
  dtypes: ALL_DTYPES,
  doc: 'y = x with axes permuted (default: reversed)',
  infer: inferTranspose,
};

/** @example const xt = transpose(g, x, [0, 2, 1]); */
export const transpose = (g: Graph, x: Value, perm?: readonly number[]): Value =>
  g.node(TransposeOp, [x], { perm })[0];

// ---------------------------------------------------------------------------------------
// Concat.

function inferConcat(ctx: InferContext): ValueInfo[] {
  const xs = ctx.inputs as Value[];
  if (xs.length === 0) ctx.fail('needs at least one input');
  requireSameDType(ctx);
  const first = xs[0];
  const axis = normalizeOrFail(ctx, ctx.attr<number>('axis'), first.rank);
  xs.forEach((v, i) => {
    if (v.rank !== first.rank) ctx.fail(`input ${i} '${v.name}' has rank ${v.rank}, input 0 has rank ${first.rank}`);
    v.shape.forEach((d, k) => {
      if (k !== axis && d !== first.shape[k]) {
        ctx.fail(`input ${i} '${v.name}' ${formatShape(v.shape)} differs from input 0 ${formatShape(first.shape)} in dimension ${k}, off the concat axis ${axis}`);
      }
    });
  });
  const along = xs.map((v) => v.shape[axis]);
  const numeric = along.filter((d): d is number => typeof d === 'number').reduce((a, b) => a + b, 0);
  const symbols = along.filter((d) => typeof d === 'string');
  const dim: Dim = symbols.length === 0 ? numeric : symbols.length === 1 && numeric === 0 ? symbols[0] : ctx.freshDim();
  return [{ dtype: first.dtype, shape: first.shape.map((d, k) => (k === axis ? dim : d)) }];
}

export const ConcatOp: OpDef = {
  opType: 'Concat',
  inputs: [{ name: 'inputs', variadic: true }],
  outputs: 1,
  attrs: { axis: { type: 'int', required: true } },
  dtypes: ALL_DTYPES,
  doc: 'y = inputs joined along axis',
  infer: inferConcat,
};

/** @example const h = concat(g, [a, b], -1); */
export const concat = (g: Graph, xs: readonly Value[], axis: number): Value => g.node(ConcatOp, xs, { axis })[0];

// ---------------------------------------------------------------------------------------
// Slice.

function inferSlice(ctx: InferContext): ValueInfo[] {
  const [x, startsIn, endsIn, axesIn, stepsIn] = ctx.inputs;
  const rank = x!.rank;
  [startsIn, endsIn, axesIn, stepsIn].forEach((v, i) => {
    if (v && (!INDEX_DTYPES.includes(v.dtype) || v.rank !== 1)) ctx.fail(`input ${i + 1} '${v.name}' must be a 1-D int64 or int32 tensor, got ${v.describe()}`);
  });
  const starts = numbersOf(startsIn);
  const ends = numbersOf(endsIn);
  const axesRaw = axesIn ? numbersOf(axesIn) : starts?.map((_, i) => i);
  const steps = stepsIn ? numbersOf(stepsIn) : starts?.map(() => 1);
  if (!axesRaw) return [{ dtype: x!.dtype, shape: x!.shape.map(() => ctx.freshDim()) }];
  const axes = axesRaw.map((a) => normalizeOrFail(ctx, a, rank));
  if (new Set(axes).size !== axes.length) ctx.fail(`axes [${axesRaw.join(',')}] repeat an axis`);
  const out: Dim[] = [...x!.shape];
  axes.forEach((axis, i) => {
    const dim = x!.shape[axis];
    if (!starts || !ends || !steps) {
      out[axis] = ctx.freshDim();
      return;
    }
    if ([starts, ends, steps].some((list) => list.length !== axes.length)) {
      ctx.fail(`starts, ends, axes and steps must have one entry per sliced axis (${axes.length})`);
    }
    const [start, end, step] = [starts[i], ends[i], steps[i]];
    if (step === 0) ctx.fail(`step 0 on axis ${axis}`);
    if (typeof dim === 'number') out[axis] = sliceRange(dim, start, end, step).length;
    else out[axis] = step === 1 && start === 0 && end >= Number.MAX_SAFE_INTEGER ? dim : ctx.freshDim();
  });
  return [{ dtype: x!.dtype, shape: out }];
}

export const SliceOp: OpDef = {
  opType: 'Slice',
  inputs: [
    { name: 'data' },
    { name: 'starts', nondiff: true },
    { name: 'ends', nondiff: true },
    { name: 'axes', optional: true, nondiff: true },
    { name: 'steps', optional: true, nondiff: true },
  ],
  outputs: 1,
  dtypes: ALL_DTYPES,
  doc: 'y = x[starts:ends:steps] along axes (bounds clamped)',
  infer: inferSlice,
};

/**
 * `x[starts:ends:steps]` along `axes` with ONNX clamping; negative bounds count from the
 * end, and `Infinity` (or any bound past 2^53) means INT64_MAX, "to the end".
 *
 * @example const tail = slice(g, x, [1], [Infinity], [1]); // x[:, 1:]
 */
export function slice(
  g: Graph,
  x: Value,
  starts: readonly number[],
  ends: readonly number[],
  axes?: readonly number[],
  steps?: readonly number[],
): Value {
  const inputs = [x, int64Constant(g, starts), int64Constant(g, ends), axes && int64Constant(g, axes), steps && int64Constant(g, steps)];
  return g.node(SliceOp, inputs)[0];
}

// ---------------------------------------------------------------------------------------
// Expand.

function inferExpand(ctx: InferContext): ValueInfo[] {
  const [x, shapeInput] = ctx.inputs as Value[];
  if (shapeInput.dtype !== 'int64' || shapeInput.rank !== 1) ctx.fail(`shape input must be int64 of rank 1, got ${shapeInput.describe()}`);
  const target = symbolicContents(shapeInput);
  if (target) {
    try {
      return [{ dtype: x.dtype, shape: broadcastShapes([x.shape, target], 'Expand') }];
    } catch {
      return ctx.fail(`cannot expand ${formatShape(x.shape)} to ${formatShape(target)}`);
    }
  }
  const length = shapeInput.shape[0];
  if (typeof length !== 'number') ctx.fail(`shape input '${shapeInput.name}' has no static length, so the output rank is unknown`);
  // An unknown target dim broadcasts with the input's: the result is the input's dim unless that is 1.
  const rank = Math.max(length, x.rank);
  const shape = Array.from({ length: rank }, (_, i) => {
    const d = x.shape[i - (rank - x.rank)] ?? 1;
    return d === 1 ? ctx.freshDim() : d;
  });
  return [{ dtype: x.dtype, shape }];
}

export const ExpandOp: OpDef = {
  opType: 'Expand',
  inputs: [{ name: 'input' }, { name: 'shape', nondiff: true }],
  outputs: 1,
  dtypes: ALL_DTYPES,
  doc: 'y = x broadcast with shape (bidirectionally)',
  infer: inferExpand,
};

/** @example const y = expand(g, bias, [4, 3]); // [3] -> [4,3] */
export const expand = (g: Graph, x: Value, shape: readonly number[] | Value): Value =>
  g.node(ExpandOp, [x, asIndexValue(g, shape)])[0];

// ---------------------------------------------------------------------------------------
// Shape.

function inferShape(ctx: InferContext): ValueInfo[] {
  const x = ctx.inputs[0]!;
  const [start, end] = shapeRange(x.rank, ctx.attr<number>('start'), ctx.attr<number | undefined>('end'));
  return [{ dtype: 'int64', shape: [Math.max(0, end - start)] }];
}

export const ShapeOp: OpDef = {
  opType: 'Shape',
  inputs: [{ name: 'data', nondiff: true }],
  outputs: 1,
  attrs: { start: { type: 'int', default: 0 }, end: { type: 'int' } },
  dtypes: ALL_DTYPES,
  doc: "y = x's shape (int64), dims [start:end]",
  infer: inferShape,
  // An integer output: nothing flows back to the data.
  vjp: 'none',
};

/**
 * `x`'s shape as an int64 vector, optionally only dims [start, end).
 *
 * @example const batch = shapeOf(g, x, 0, 1); // int64 [1] holding B
 */
export function shapeOf(g: Graph, x: Value, start?: number, end?: number): Value {
  if ((start || end !== undefined) && g.opset < 15) {
    throw new SpecError(`Shape in graph '${g.name}': start/end need opset 15, but the model targets opset ${g.opset}`);
  }
  return g.node(ShapeOp, [x], { start: start === 0 ? undefined : start, end })[0];
}

// ---------------------------------------------------------------------------------------
// Gather.

function inferGather(ctx: InferContext): ValueInfo[] {
  const [x, indices] = ctx.inputs as Value[];
  if (!INDEX_DTYPES.includes(indices.dtype)) ctx.fail(`indices '${indices.name}' must be int64 or int32, got ${indices.dtype}`);
  const axis = normalizeOrFail(ctx, ctx.attr<number>('axis'), x.rank);
  const dim = x.shape[axis];
  const known = numbersOf(indices);
  if (known && typeof dim === 'number') {
    const bad = known.find((i) => i < -dim || i >= dim);
    if (bad !== undefined) ctx.fail(`index ${bad} is out of range for dimension ${axis} of size ${dim}`);
  }
  return [{ dtype: x.dtype, shape: [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)] }];
}

export const GatherOp: OpDef = {
  opType: 'Gather',
  inputs: [{ name: 'data' }, { name: 'indices', nondiff: true }],
  outputs: 1,
  attrs: { axis: { type: 'int', default: 0 } },
  dtypes: ALL_DTYPES,
  doc: 'y = x indexed by indices along axis',
  infer: inferGather,
};

/**
 * Elements of `x` picked along `axis`: a number gives a rank-reduced slice, an array or
 * an int64 value a gathered axis.
 *
 * @example const row = gather(g, x, it.iteration, 0);
 */
export function gather(g: Graph, x: Value, indices: Value | number | readonly number[], axis = 0): Value {
  const idx = typeof indices === 'number' ? int64Constant(g, [indices], []) : asIndexValue(g, indices);
  return g.node(GatherOp, [x, idx], { axis })[0];
}

// ---------------------------------------------------------------------------------------
// Unsqueeze.

function inferUnsqueeze(ctx: InferContext): ValueInfo[] {
  const [x, axesIn] = ctx.inputs as Value[];
  const raw = numbersOf(axesIn);
  if (!raw) ctx.fail(`axes '${axesIn.name}' must be a constant int64 tensor`);
  const rank = x.rank + raw.length;
  const axes = raw.map((a) => normalizeOrFail(ctx, a, rank));
  if (new Set(axes).size !== axes.length) ctx.fail(`axes [${raw.join(',')}] repeat an axis`);
  const rest = [...x.shape];
  return [{ dtype: x.dtype, shape: Array.from({ length: rank }, (_, i) => (axes.includes(i) ? 1 : rest.shift()!)) }];
}

export const UnsqueezeOp: OpDef = {
  opType: 'Unsqueeze',
  inputs: [{ name: 'data' }, { name: 'axes', nondiff: true }],
  outputs: 1,
  dtypes: ALL_DTYPES,
  doc: 'y = x with size-1 dims inserted at axes',
  infer: inferUnsqueeze,
};

/** @example const col = unsqueeze(g, v, [1]); // [B] -> [B,1] */
export function unsqueeze(g: Graph, x: Value, axes: readonly number[]): Value {
  requireOpset13(g, 'Unsqueeze');
  return g.node(UnsqueezeOp, [x, int64Constant(g, axes)])[0];
}

// ---------------------------------------------------------------------------------------
// Squeeze.

function inferSqueeze(ctx: InferContext): ValueInfo[] {
  const [x, axesIn] = ctx.inputs;
  if (!axesIn) {
    // ONNX drops every size-1 dim; a symbolic dim is taken to be a batch-like size, not 1.
    return [{ dtype: x!.dtype, shape: x!.shape.filter((d) => d !== 1) }];
  }
  const raw = numbersOf(axesIn);
  if (!raw) ctx.fail(`axes '${axesIn.name}' must be a constant int64 tensor`);
  const axes = raw.map((a) => normalizeOrFail(ctx, a, x!.rank));
  for (const a of axes) {
    const d = x!.shape[a];
    if (typeof d === 'number' && d !== 1) ctx.fail(`cannot squeeze axis ${a} of ${formatShape(x!.shape)}: its size is ${d}, not 1`);
  }
  return [{ dtype: x!.dtype, shape: x!.shape.filter((_, i) => !axes.includes(i)) }];
}

export const SqueezeOp: OpDef = {
  opType: 'Squeeze',
  inputs: [{ name: 'data' }, { name: 'axes', optional: true, nondiff: true }],
  outputs: 1,
  dtypes: ALL_DTYPES,
  doc: 'y = x without the size-1 dims at axes',
  infer: inferSqueeze,
};

/** @example const v = squeeze(g, col, [1]); // [B,1] -> [B] */
export function squeeze(g: Graph, x: Value, axes?: readonly number[]): Value {
  requireOpset13(g, 'Squeeze');
  return g.node(SqueezeOp, [x, axes && int64Constant(g, axes)])[0];
}

// ---------------------------------------------------------------------------------------
// ConstantOfShape.

function inferConstantOfShape(ctx: InferContext): ValueInfo[] {
  const shapeInput = ctx.inputs[0]!;
  const value = ctx.attr<Tensor>('value');
  if (value.size !== 1 || value.shape.length !== 1) ctx.fail(`value must be a one-element 1-D tensor, got shape ${formatShape(value.shape)}`);
  if (shapeInput.rank !== 1) ctx.fail(`shape input must be 1-D, got ${shapeInput.describe()}`);
  const target = symbolicContents(shapeInput);
  if (target) {
    const bad = target.find((d) => typeof d === 'number' && d < 0);
    if (bad !== undefined) ctx.fail(`shape ${formatShape(target)} has the negative dimension ${bad}`);
    return [{ dtype: value.dtype, shape: target }];
  }
  const length = shapeInput.shape[0];
  if (typeof length !== 'number') ctx.fail(`shape input '${shapeInput.name}' has no static length, so the output rank is unknown`);
  return [{ dtype: value.dtype, shape: Array.from({ length }, () => ctx.freshDim()) }];
}

export const ConstantOfShapeOp: OpDef = {
  opType: 'ConstantOfShape',
  inputs: [{ name: 'input', nondiff: true }],
  outputs: 1,
  attrs: { value: { type: 'tensor', default: Tensor.fromNumbers('float32', [1], [0]) } },
  dtypes: ['int64'],
  doc: 'y = a tensor of the given shape filled with value',
  infer: inferConstantOfShape,
  // Its only input is a shape.
  vjp: 'none',
};

/**
 * A tensor of `shape` (literal or int64 value) filled with `value`.
 *
 * @example const s0 = constantOfShape(g, shapeOf(g, x), 0, x.dtype); // zeros like x
 */
export function constantOfShape(g: Graph, shape: readonly number[] | Value, value = 0, dtype: DType = 'float32'): Value {
  return g.node(ConstantOfShapeOp, [asIndexValue(g, shape)], { value: Tensor.fromNumbers(dtype, [1], [value]) })[0];
}

/** This family's ops, for the registry's table (./table.ts). */
export const SHAPE_OPS: readonly OpDef[] = [
  ReshapeOp, FlattenOp, TransposeOp, ConcatOp, SliceOp, ExpandOp,
  ShapeOp, GatherOp, UnsqueezeOp, SqueezeOp, ConstantOfShapeOp,
];

/**
 * `v` reshaped to `like`'s shape (a literal when static, else `Shape(like)`, which keeps its
 * symbols); `v` itself when the shapes already agree. Gradients use it to return to an input's shape.
 *
 * @example const gx = reshapeLike(g, gy, x); // gy [B,12] -> [B,3,4] like x
 */
export function reshapeLike(g: Graph, v: Value, like: Value): Value {
  if (shapesEqual(v.shape, like.shape)) return v;
  return reshape(g, v, like.shape.every((d) => typeof d === 'number') ? (like.shape as number[]) : shapeOf(g, like));
}

// Squeeze/Unsqueeze took axes as an attribute before opset 13; twnn emits only the input form.
function requireOpset13(g: Graph, opType: string): void {
  if (g.opset < 13) throw new SpecError(`${opType} in graph '${g.name}': twnn emits opset-13 ${opType} (axes as an input), but the model targets opset ${g.opset}`);
}
