// VJP rules of the structural ops (../structural.ts), the IR's builtins Identity and Constant among them.
import { ConstantOp, IdentityOp, type OpDef, type VjpRule } from '../../ir/index.js';
import { cast, CastOp } from '../structural.js';

// d identity(x) = dx
const identityVjp: VjpRule = (ctx) => [ctx.gradOutputs[0]];
// d cast(x) = cast back; only float inputs carry gradients (the transform skips the others)
const castVjp: VjpRule = (ctx) => [cast(ctx.graph, ctx.gradOutputs[0]!, ctx.inputs[0]!.dtype)];

/** This family's VJP rules, for the VJP table (../vjp-table.ts); a Constant has no inputs to differentiate. */
export const STRUCTURAL_VJPS: readonly (readonly [OpDef, VjpRule | 'none'])[] = [[IdentityOp, identityVjp], [ConstantOp, 'none'], [CastOp, castVjp]];
