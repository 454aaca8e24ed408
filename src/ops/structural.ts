// Structural ops: Identity and Constant (the IR's own builtins, listed here) and Cast,
// plus helpers that turn literals into cached Constant values. Their VJP rules are in
// ./vjp/structural.ts (the builtins' objects belong to src/ir, which has no rules).
import {
  ALL_DTYPES,
  ConstantOp,
  dtypeFromOnnx,
  IdentityOp,
  onnxDTypeName,
  ONNX_DTYPE_CODE,
  Tensor,
  type DType,
  type Graph,
  type OpDef,
  type Value,
} from '../ir/index.js';

export const CastOp: OpDef = {
  opType: 'Cast',
  inputs: [{ name: 'input' }],
  outputs: 1,
  attrs: { to: { type: 'int', required: true } },
  dtypes: ALL_DTYPES,
  doc: 'y = x converted to dtype `to`',
  infer: (ctx) => {
    const code = ctx.attr<number>('to');
    const dtype = dtypeFromOnnx(code);
    if (!dtype) return ctx.fail(`cannot cast to ${onnxDTypeName(code)} (ONNX dtype code ${code}); twnn builds with ${ALL_DTYPES.join('|')}`);
    return [{ dtype, shape: ctx.inputs[0]!.shape }];
  },
};

/** This family's ops, for the registry's table (./table.ts). */
export const STRUCTURAL_OPS: readonly OpDef[] = [IdentityOp, ConstantOp, CastOp];

/**
 * A copy of `x` as a new value (ONNX needs one where a graph output would
 * otherwise be an input or an outer-scope value).
 *
 * @example const y = identity(g, x);
 */
export const identity = (g: Graph, x: Value): Value => g.node(IdentityOp, [x])[0];

/**
 * `x` converted to `dtype`. Returns `x` itself when it already has that dtype,
 * so generic code (VJP rules casting back) emits no no-op nodes.
 *
 * @example const mask = cast(g, settled, 'float32');
 */
export function cast(g: Graph, x: Value, dtype: DType): Value {
  if (x.dtype === dtype) return x;
  return g.node(CastOp, [x], { to: ONNX_DTYPE_CODE[dtype] })[0];
}

/**
 * A rank-0 literal, emitted once per graph however often it is asked for.
 *
 * @example const half = scalar(g, 0.5, x.dtype);
 */
export const scalar = (g: Graph, value: number, dtype: DType): Value => g.constant(Tensor.scalar(value, dtype));

/**
 * A literal tensor, emitted once per graph for equal contents.
 *
 * @example const axes = constant(g, Tensor.fromNumbers('int64', [1], [-1]));
 */
export const constant = (g: Graph, tensor: Tensor): Value => g.constant(tensor);
