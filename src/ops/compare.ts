// Comparisons (bool outputs) and Where (elementwise select on a bool condition).
// Where's VJP rule is in ./vjp/compare.ts: it emits the gradient helpers, which emit ops of other families.
import { broadcastShapes, type DType, type Graph, type InferContext, type OpDef, type Value, type ValueInfo } from '../ir/index.js';
import { requireSameDType } from './shape-rules.js';

const NUMERIC: readonly DType[] = ['float32', 'float64', 'int64', 'int32'];

/** Broadcast every present input's shape, failing through ctx so the message names the node. */
function broadcastAll(ctx: InferContext): ValueInfo['shape'] {
  try {
    return broadcastShapes(ctx.inputs.map((v) => v!.shape), ctx.opType);
  } catch {
    return ctx.fail('shapes do not broadcast');
  }
}

function comparison(opType: string, doc: string, dtypes: readonly DType[]): OpDef {
  return {
    opType,
    inputs: [{ name: 'A' }, { name: 'B' }],
    outputs: 1,
    dtypes,
    doc,
    infer: (ctx) => {
      requireSameDType(ctx);
      return [{ dtype: 'bool', shape: broadcastAll(ctx) }];
    },
    // A step function: zero derivative almost everywhere, so nothing flows back.
    vjp: 'none',
  };
}

export const GreaterOp = comparison('Greater', 'c = a > b (broadcasting, bool)', NUMERIC);
export const LessOp = comparison('Less', 'c = a < b (broadcasting, bool)', NUMERIC);
export const EqualOp = comparison('Equal', 'c = a == b (broadcasting, bool)', [...NUMERIC, 'bool']);

export const WhereOp: OpDef = {
  opType: 'Where',
  inputs: [{ name: 'condition', nondiff: true }, { name: 'X' }, { name: 'Y' }],
  outputs: 1,
  // The graph checks input 0's dtype against this list: here that is the condition.
  dtypes: ['bool'],
  doc: 'out = condition ? x : y (broadcasting all three)',
  infer: (ctx) => {
    const [, x, y] = ctx.inputs;
    if (x!.dtype !== y!.dtype) ctx.fail(`X has dtype ${x!.dtype} but Y has ${y!.dtype}; they must match`);
    return [{ dtype: x!.dtype, shape: broadcastAll(ctx) }];
  },
};

/** This family's ops, for the registry's table (./table.ts). */
export const COMPARE_OPS: readonly OpDef[] = [GreaterOp, LessOp, EqualOp, WhereOp];

/** @example const over = greater(g, residual, tol); */
export const greater = (g: Graph, a: Value, b: Value): Value => g.node(GreaterOp, [a, b])[0];
/** @example const settled = less(g, residual, tol); */
export const less = (g: Graph, a: Value, b: Value): Value => g.node(LessOp, [a, b])[0];
/** @example const hit = equal(g, predicted, labels); */
export const equal = (g: Graph, a: Value, b: Value): Value => g.node(EqualOp, [a, b])[0];
/**
 * Elementwise select: `x` where `condition` holds, else `y`.
 *
 * @example const sNext = where(g, settled, sOld, sNew); // freeze settled samples
 */
export const where = (g: Graph, condition: Value, x: Value, y: Value): Value => g.node(WhereOp, [condition, x, y])[0];
