// Element-wise indexing along one axis: ScatterElements (write or accumulate `updates`
// into a copy of `data` at `indices`) and GatherElements (its adjoint: read at `indices`).
// MaxPool's VJP routes gradients to the argmax cells with ScatterElements(reduction=add).
// Their own VJP rules are in ./vjp/scatter.ts (each emits the other, and zeros).
import type { DType, Graph, InferContext, OpDef, Value, ValueInfo } from '../ir/index.js';

const NUMERIC: readonly DType[] = ['float32', 'float64', 'int64', 'int32'];
const INDEX_DTYPES: readonly DType[] = ['int64', 'int32'];
/** ScatterElements gained `reduction` in opset 16; twnn supports the two reductions with a simple adjoint. */
const REDUCTION_SINCE = 16;
export type ScatterReduction = 'none' | 'add';

/** `axis` normalised against `data`'s rank; `indices` integer and of `data`'s rank, no larger off the axis. */
function checkIndexing(ctx: InferContext, data: Value, indices: Value): number {
  if (!INDEX_DTYPES.includes(indices.dtype)) ctx.fail(`indices '${indices.name}' must be int64 or int32, got ${indices.dtype}`);
  if (indices.rank !== data.rank) ctx.fail(`indices must have data's rank ${data.rank}, got ${indices.describe()}`);
  const raw = ctx.attr<number>('axis');
  if (!Number.isInteger(raw) || raw < -data.rank || raw >= data.rank) ctx.fail(`axis ${raw} is out of range for rank ${data.rank}`);
  const axis = raw < 0 ? raw + data.rank : raw;
  indices.shape.forEach((d, i) => {
    const limit = data.shape[i];
    // onnxruntime rejects an indices dim larger than data's off the indexed axis.
    if (i !== axis && typeof d === 'number' && typeof limit === 'number' && d > limit) {
      ctx.fail(`indices dim ${i} is ${d}, larger than data's ${limit} (only axis ${axis} may differ)`);
    }
  });
  return axis;
}

function inferScatterElements(ctx: InferContext): ValueInfo[] {
  const [data, indices, updates] = ctx.inputs as Value[];
  checkIndexing(ctx, data, indices);
  if (updates.dtype !== data.dtype) ctx.fail(`updates have dtype ${updates.dtype}, data ${data.dtype}`);
  const clash = updates.rank !== indices.rank || updates.shape.some((d, i) => typeof d === 'number' && typeof indices.shape[i] === 'number' && d !== indices.shape[i]);
  if (clash) ctx.fail(`updates ${updates.describe()} must have the shape of indices ${indices.describe()}`);
  const reduction = ctx.attr<string>('reduction');
  if (reduction !== 'none' && reduction !== 'add') ctx.fail(`reduction must be 'none' or 'add', got '${reduction}'`);
  const opset = data.graph.opset;
  if (ctx.hasAttr('reduction') && opset < REDUCTION_SINCE) ctx.fail(`reduction needs opset ${REDUCTION_SINCE}, but the model targets opset ${opset}`);
  return [{ dtype: data.dtype, shape: data.shape }];
}

function inferGatherElements(ctx: InferContext): ValueInfo[] {
  const [data, indices] = ctx.inputs as Value[];
  checkIndexing(ctx, data, indices);
  return [{ dtype: data.dtype, shape: indices.shape }];
}

export const ScatterElementsOp: OpDef = {
  opType: 'ScatterElements',
  inputs: [{ name: 'data' }, { name: 'indices', nondiff: true }, { name: 'updates' }],
  outputs: 1,
  attrs: { axis: { type: 'int', default: 0 }, reduction: { type: 'string', default: 'none' } },
  dtypes: NUMERIC,
  doc: 'y = copy of data with updates written (none) or added (add) at indices along axis',
  infer: inferScatterElements,
};

export const GatherElementsOp: OpDef = {
  opType: 'GatherElements',
  inputs: [{ name: 'data' }, { name: 'indices', nondiff: true }],
  outputs: 1,
  attrs: { axis: { type: 'int', default: 0 } },
  dtypes: NUMERIC,
  doc: 'y[i] = data at indices[i] along axis (other coordinates those of i)',
  infer: inferGatherElements,
};

/** This family's ops, for the registry's table (./table.ts). */
export const SCATTER_OPS: readonly OpDef[] = [ScatterElementsOp, GatherElementsOp];

/**
 * A copy of `data` with `updates[i]` written (`'none'`, the default; indices should
 * then be unique) or added (`'add'`, repeats accumulate) at position `indices[i]`
 * along `axis`, the other coordinates being i's own.
 *
 * @example const counts = scatterElements(g, zeroCounts, flatIndices, onesLike, 0, 'add'); // a histogram
 */
export function scatterElements(g: Graph, data: Value, indices: Value, updates: Value, axis = 0, reduction: ScatterReduction = 'none'): Value {
  return g.node(ScatterElementsOp, [data, indices, updates], { axis, reduction: reduction === 'none' ? undefined : reduction })[0];
}

/**
 * `data` read at `indices` along `axis`: `y[i][j] = data[indices[i][j]][j]` for axis 0.
 *
 * @example const picked = gatherElements(g, logits, labelsAsColumn, 1); // [B,K], [B,1] -> [B,1]
 */
export function gatherElements(g: Graph, data: Value, indices: Value, axis = 0): Value {
  return g.node(GatherElementsOp, [data, indices], { axis })[0];
}
