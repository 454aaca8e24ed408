// VJP rules of the elementwise ops (../elementwise.ts). They read `ctx.gradOutputs[0]`
// as gy, and emit comparisons and the gradient helpers, which is why they live above
// the op files rather than in their OpDefs.
import type { Graph, OpDef, Value, VjpRule } from '../../ir/index.js';
import { greater, less, where } from '../compare.js';
import {
  AbsOp, AddOp, div, DivOp, ExpOp, LeakyReluOp, log, LogOp, mul, MulOp, neg, NegOp, pow, PowOp, ReluOp, SigmoidOp, SqrtOp, sub, SubOp, TanhOp,
} from '../elementwise.js';
import { filledLike, unbroadcast } from '../grad-helpers.js';
import { scalar } from '../structural.js';

const gyOf = (ctx: Parameters<VjpRule>[0]) => ctx.gradOutputs[0]!;
const one = (g: Graph, like: Value) => scalar(g, 1, like.dtype);

// d(a+b) = da + db
const addVjp: VjpRule = ({ graph: g, inputs: [a, b], wants, ...ctx }) => {
  const gy = ctx.gradOutputs[0]!;
  return [wants[0] ? unbroadcast(g, gy, a!) : undefined, wants[1] ? unbroadcast(g, gy, b!) : undefined];
};
// d(a-b) = da - db
const subVjp: VjpRule = ({ graph: g, inputs: [a, b], wants, ...ctx }) => {
  const gy = ctx.gradOutputs[0]!;
  return [wants[0] ? unbroadcast(g, gy, a!) : undefined, wants[1] ? unbroadcast(g, neg(g, gy), b!) : undefined];
};
// d(ab) = b da + a db
const mulVjp: VjpRule = ({ graph: g, inputs: [a, b], wants, ...ctx }) => {
  const gy = ctx.gradOutputs[0]!;
  return [wants[0] ? unbroadcast(g, mul(g, gy, b!), a!) : undefined, wants[1] ? unbroadcast(g, mul(g, gy, a!), b!) : undefined];
};
// d(a/b) = da/b - (a/b) db/b
const divVjp: VjpRule = ({ graph: g, inputs: [a, b], outputs: [y], wants, ...ctx }) => {
  const gy = ctx.gradOutputs[0]!;
  const gOverB = div(g, gy, b!);
  return [wants[0] ? unbroadcast(g, gOverB, a!) : undefined, wants[1] ? unbroadcast(g, neg(g, mul(g, gOverB, y)), b!) : undefined];
};
// d(a^b) = b a^(b-1) da + a^b ln(a) db
const powVjp: VjpRule = ({ graph: g, inputs: [a, b], outputs: [y], wants, ...ctx }) => {
  const gy = ctx.gradOutputs[0]!;
  const ga = wants[0] ? unbroadcast(g, mul(g, gy, mul(g, b!, pow(g, a!, sub(g, b!, one(g, b!))))), a!) : undefined;
  const gb = wants[1] ? unbroadcast(g, mul(g, gy, mul(g, y, log(g, a!))), b!) : undefined;
  return [ga, gb];
};
// d(-x) = -dx
const negVjp: VjpRule = (ctx) => [neg(ctx.graph, gyOf(ctx))];
// d|x| = sign(x) dx, with sign(0) = 0 as in PyTorch
const absVjp: VjpRule = ({ graph: g, inputs: [x], ...ctx }) => {
  const gy = ctx.gradOutputs[0]!;
  const zero = filledLike(g, gy, 0);
  return [where(g, greater(g, x!, scalar(g, 0, x!.dtype)), gy, where(g, less(g, x!, scalar(g, 0, x!.dtype)), neg(g, gy), zero))];
};
// d e^x = e^x dx
const expVjp: VjpRule = ({ graph: g, outputs: [y], ...ctx }) => [mul(g, ctx.gradOutputs[0]!, y)];
// d ln x = dx / x
const logVjp: VjpRule = ({ graph: g, inputs: [x], ...ctx }) => [div(g, ctx.gradOutputs[0]!, x!)];
// d √x = dx / (2√x)
const sqrtVjp: VjpRule = ({ graph: g, outputs: [y], ...ctx }) => [div(g, mul(g, ctx.gradOutputs[0]!, scalar(g, 0.5, y.dtype)), y)];
// d tanh x = (1 - y²) dx
const tanhVjp: VjpRule = ({ graph: g, outputs: [y], ...ctx }) => [mul(g, ctx.gradOutputs[0]!, sub(g, one(g, y), mul(g, y, y)))];
// d σ(x) = y(1 - y) dx
const sigmoidVjp: VjpRule = ({ graph: g, outputs: [y], ...ctx }) => [mul(g, ctx.gradOutputs[0]!, mul(g, y, sub(g, one(g, y), y)))];
// d relu(x) = [x > 0] dx (PyTorch's subgradient 0 at 0)
const reluVjp: VjpRule = ({ graph: g, inputs: [x], ...ctx }) => {
  const gy = ctx.gradOutputs[0]!;
  return [where(g, greater(g, x!, scalar(g, 0, x!.dtype)), gy, filledLike(g, gy, 0))];
};
// d leaky(x) = (x > 0 ? 1 : alpha) dx
const leakyReluVjp: VjpRule = ({ graph: g, node, inputs: [x], ...ctx }) => {
  const gy = ctx.gradOutputs[0]!;
  const alpha = node.attr<number>('alpha', 0.01);
  return [where(g, greater(g, x!, scalar(g, 0, x!.dtype)), gy, mul(g, gy, scalar(g, alpha, x!.dtype)))];
};

/** This family's VJP rules, for the VJP table (../vjp-table.ts). */
export const ELEMENTWISE_VJPS: readonly (readonly [OpDef, VjpRule])[] = [
  [AddOp, addVjp], [SubOp, subVjp], [MulOp, mulVjp], [DivOp, divVjp], [PowOp, powVjp], [NegOp, negVjp], [AbsOp, absVjp],
  [ExpOp, expVjp], [LogOp, logVjp], [SqrtOp, sqrtVjp], [TanhOp, tanhVjp], [SigmoidOp, sigmoidVjp], [ReluOp, reluVjp], [LeakyReluOp, leakyReluVjp],
];
