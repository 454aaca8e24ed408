import { broadcastShapes, type InferContext, type ValueInfo } from '../ir/index.js';

/** Shape rule of elementwise unary ops: output like input 0. */
export function sameAsInput(ctx: InferContext): ValueInfo[] {
  const x = ctx.inputs[0]!;
  return [{ dtype: x.dtype, shape: x.shape }];
}

/** Every present input has input 0's dtype. */
export function requireSameDType(ctx: InferContext, indices?: number[]): void {
  const x = ctx.inputs[0]!;
  (indices ?? ctx.inputs.map((_, i) => i)).forEach((i) => {
    const v = ctx.inputs[i];
    if (v && v.dtype !== x.dtype) ctx.fail(`input ${i} has dtype ${v.dtype}, expected ${x.dtype} like input 0`);
  });
}

/** Shape rule of broadcasting binary ops (Add, Mul, ...): same dtype, numpy broadcast. */
export function broadcastBinary(ctx: InferContext): ValueInfo[] {
  requireSameDType(ctx);
  const shapes = ctx.inputs.map((v) => v!.shape);
  try {
    return [{ dtype: ctx.inputs[0]!.dtype, shape: broadcastShapes(shapes, ctx.opType) }];
  } catch {
    return ctx.fail('shapes do not broadcast');
  }
}
