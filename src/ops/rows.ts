// Row selection, for sweeping only the samples still iterating (src/lower/active-rows.ts):
// NonZero finds the active rows; Gather (src/ops/shape.ts) takes them; ScatterND writes
// the swept rows back into the full batch.
//
// twnn emits ScatterND in its row form only, indices [K, 1] of rows of `data`: a copy of
// `data` with row indices[k] replaced by updates[k]. That form's adjoint is a Gather, so
// it needs no GatherND.
import { ALL_DTYPES, type Graph, type InferContext, type OpDef, type Value, type ValueInfo } from '../ir/index.js';
import { filledLike } from './grad-helpers.js';
import { gather, reshape } from './shape.js';


function inferNonZero(ctx: InferContext): ValueInfo[] {
  const [x] = ctx.inputs as Value[];
  // One row of coordinates per input axis; how many non-zeros is known only at run time.
  return [{ dtype: 'int64', shape: [x.rank, ctx.freshDim('nonzero')] }];
}

function inferScatterRows(ctx: InferContext): ValueInfo[] {
  const [data, indices, updates] = ctx.inputs as Value[];
  if (indices.dtype !== 'int64') ctx.fail(`indices '${indices.name}' must be int64, got ${indices.dtype}`);
  if (indices.rank !== 2 || indices.shape[1] !== 1) ctx.fail(`twnn emits ScatterND with row indices [K, 1] only, got ${indices.describe()}`);
  if (data.rank < 1) ctx.fail(`data must have a row axis, got ${data.describe()}`);
  if (updates.dtype !== data.dtype) ctx.fail(`updates have dtype ${updates.dtype}, data ${data.dtype}`);
  const rowShape = (s: readonly (string | number)[]) => s.slice(1);
  const clash =
    updates.rank !== data.rank ||
    rowShape(updates.shape).some((d, i) => typeof d === 'number' && typeof data.shape[i + 1] === 'number' && d !== data.shape[i + 1]);
  if (clash) ctx.fail(`updates ${updates.describe()} must be rows shaped like data's ${data.describe()}`);
  return [{ dtype: data.dtype, shape: data.shape }];
}

export const NonZeroOp: OpDef = {
  opType: 'NonZero',
  inputs: [{ name: 'X' }],
  outputs: 1,
  dtypes: ALL_DTYPES,
  doc: 'int64 [rank, N]: the coordinates of the non-zero (true) elements, in row-major order',
  infer: inferNonZero,
  vjp: 'none',
};

export const ScatterNDOp: OpDef = {
  opType: 'ScatterND',
  inputs: [{ name: 'data' }, { name: 'indices', nondiff: true }, { name: 'updates' }],
  outputs: 1,
  dtypes: ALL_DTYPES,
  doc: 'y = copy of data with row indices[k] replaced by updates[k] (twnn emits row indices [K, 1] only)',
  infer: inferScatterRows,
  // Replaced rows lose data's gradient; updates[k] gets dy's row indices[k].
  vjp: ({ graph: g, inputs: [, indices, updates], gradOutputs: [gy], wants }) => [
    wants[0] ? scatterRows(g, gy!, indices!, filledLike(g, updates!, 0)) : undefined,
    undefined,
    wants[2] ? gather(g, gy!, reshape(g, indices!, [-1]), 0) : undefined,
  ],
};

/** This family's ops, for the registry's table (./table.ts). */
export const ROWS_OPS: readonly OpDef[] = [NonZeroOp, ScatterNDOp];

/**
 * int64 `[rank, N]`: the coordinates of `x`'s non-zero (true) elements.
 *
 * @example const rows = reshape(g, nonZero(g, active), [-1]); // [B] bool -> [K] row indices
 */
export function nonZero(g: Graph, x: Value): Value {
  return g.node(NonZeroOp, [x])[0];
}

/**
 * A copy of `data` ([B, ...]) whose row `rows[k]` is `updates[k]` ([K, ...]);
 * `rows` is int64 [K, 1] with distinct rows.
 *
 * @example const full = scatterRows(g, states, rowColumn, sweptRows);
 */
export function scatterRows(g: Graph, data: Value, rows: Value, updates: Value): Value {
  return g.node(ScatterNDOp, [data, rows, updates])[0];
}
