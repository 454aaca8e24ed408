// Reductions (ReduceSum, ReduceMean, ReduceMax) with `keepdims` and `axes`.
//
// ONNX moved `axes` from an attribute to an optional int64 input: ReduceSum in
// opset 13, ReduceMean and ReduceMax in opset 18. One OpDef describes both forms;
// the shape rule checks that a node uses the form its graph's opset expects, and
// the emitters pick that form from `g.opset`. The VJP rules are in ./vjp/reduce.ts.
import {
  Tensor,
  type DType,
  type Dim,
  type Graph,
  type InferContext,
  type OpDef,
  type Value,
  type ValueInfo,
} from '../ir/index.js';

/** The opset from which each reduction takes `axes` as an input. */
const AXES_INPUT_SINCE: Readonly<Record<string, number>> = { ReduceSum: 13, ReduceMean: 18, ReduceMax: 18 };

function axesAsInput(opType: string, opset: number): boolean {
  return opset >= AXES_INPUT_SINCE[opType];
}

/** The axes a reduce node names, from its attribute or its constant axes input. */
function declaredAxes(ctx: InferContext, asInput: boolean, opset: number): readonly number[] {
  const since = AXES_INPUT_SINCE[ctx.opType];
  const axesInput = ctx.inputs[1];
  if (asInput) {
    if (ctx.hasAttr('axes')) ctx.fail(`takes axes as an input since opset ${since}, not as an attribute (graph opset ${opset})`);
    if (!axesInput) return [];
    if (axesInput.dtype !== 'int64' || axesInput.rank !== 1) {
      ctx.fail(`axes must be a 1-D int64 tensor, got ${axesInput.describe()}`);
    }
    // Without known axes neither the output rank (keepdims=0) nor which dims become 1 is known.
    if (!axesInput.constant) ctx.fail(`axes '${axesInput.name}' must be a constant (emit it with g.constant)`);
    return axesInput.constant.toNumbers();
  }
  if (axesInput) ctx.fail(`takes axes as an attribute before opset ${since}, not as an input (graph opset ${opset})`);
  if (ctx.hasAttr('noop_with_empty_axes')) ctx.fail(`has no noop_with_empty_axes attribute before opset ${since} (graph opset ${opset})`);
  return ctx.attr<readonly number[] | undefined>('axes') ?? [];
}

function inferReduce(ctx: InferContext): ValueInfo[] {
  const data = ctx.inputs[0]!;
  const opset = data.graph.opset;
  const axes = declaredAxes(ctx, axesAsInput(ctx.opType, opset), opset);
  if (axes.length === 0 && ctx.attr<number>('noop_with_empty_axes') === 1) return [{ dtype: data.dtype, shape: data.shape }];

  const reduced = new Set<number>();
  for (const axis of axes) {
    if (axis < -data.rank || axis >= data.rank) ctx.fail(`axis ${axis} is out of range for rank ${data.rank}`);
    const a = axis < 0 ? axis + data.rank : axis;
    if (reduced.has(a)) ctx.fail(`axes [${axes.join(',')}] name dimension ${a} twice`);
    reduced.add(a);
  }
  // No axes (and noop_with_empty_axes = 0) reduces every dimension.
  const all = axes.length === 0;
  const keep = ctx.attr<number>('keepdims') === 1;
  const shape: Dim[] = [];
  data.shape.forEach((d, i) => {
    if (!all && !reduced.has(i)) shape.push(d);
    else if (keep) shape.push(1);
  });
  return [{ dtype: data.dtype, shape }];
}

function reduceOp(opType: string, doc: string, dtypes?: readonly DType[]): OpDef {
  return {
    opType,
    inputs: [{ name: 'data' }, { name: 'axes', optional: true, nondiff: true }],
    outputs: 1,
    attrs: {
      axes: { type: 'ints' },
      keepdims: { type: 'int', default: 1 },
      noop_with_empty_axes: { type: 'int', default: 0 },
    },
    ...(dtypes ? { dtypes } : {}),
    doc,
    infer: inferReduce,
  };
}

export const ReduceSumOp = reduceOp('ReduceSum', 'y = sum of x over axes', ['float32', 'float64', 'int64', 'int32']);
export const ReduceMeanOp = reduceOp('ReduceMean', 'y = mean of x over axes');
export const ReduceMaxOp = reduceOp('ReduceMax', 'y = max of x over axes', ['float32', 'float64', 'int64', 'int32']);

/** This family's ops, for the registry's table (./table.ts). */
export const REDUCE_OPS: readonly OpDef[] = [ReduceSumOp, ReduceMeanOp, ReduceMaxOp];

/** Emit a reduction in the form `g.opset` expects; empty `axes` reduce every dimension. */
function emitReduce(g: Graph, op: OpDef, x: Value, axes: readonly number[], keepdims: boolean): Value {
  const attrs = { keepdims: keepdims ? 1 : 0 };
  if (axes.length === 0) return g.node(op, [x], attrs)[0];
  if (axesAsInput(op.opType, g.opset)) {
    return g.node(op, [x, g.constant(Tensor.fromNumbers('int64', [axes.length], axes))], attrs)[0];
  }
  return g.node(op, [x], { ...attrs, axes })[0];
}

/**
 * Sum over `axes` (negative counts from the end; empty: all dimensions).
 *
 * @example const rowSums = reduceSum(g, x, [-1], false); // [B, N] -> [B]
 */
export const reduceSum = (g: Graph, x: Value, axes: readonly number[] = [], keepdims = true): Value =>
  emitReduce(g, ReduceSumOp, x, axes, keepdims);

/**
 * Mean over `axes` (negative counts from the end; empty: all dimensions).
 *
 * @example const loss = reduceMean(g, squaredError, [], false); // scalar
 */
export const reduceMean = (g: Graph, x: Value, axes: readonly number[] = [], keepdims = true): Value =>
  emitReduce(g, ReduceMeanOp, x, axes, keepdims);

/**
 * Maximum over `axes` (negative counts from the end; empty: all dimensions).
 *
 * @example const residual = reduceMax(g, absDelta, [1], false); // [B, D] -> [B]
 */
export const reduceMax = (g: Graph, x: Value, axes: readonly number[] = [], keepdims = true): Value =>
  emitReduce(g, ReduceMaxOp, x, axes, keepdims);
