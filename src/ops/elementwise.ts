// Elementwise arithmetic and activations: one OpDef each (shape rule + VJP rule),
// plus a typed emitter. VJP rules read `ctx.gradOutputs[0]` as gy.
import type { DType, Graph, OpDef, Value, VjpRule } from '../ir/index.js';
import { greater, less, where } from './compare.js';
import { filledLike, unbroadcast } from './grad-helpers.js';
import { broadcastBinary, sameAsInput } from './shape-rules.js';
import { scalar } from './structural.js';

// Integer arithmetic is allowed (iteration counters are int64); gradients only flow through floats.
const NUMERIC: readonly DType[] = ['float32', 'float64', 'int64', 'int32'];

function binary(opType: string, doc: string, vjp: VjpRule): OpDef {
  return { opType, inputs: [{ name: 'A' }, { name: 'B' }], outputs: 1, dtypes: NUMERIC, infer: broadcastBinary, doc, vjp };
}

function unary(opType: string, doc: string, vjp: VjpRule): OpDef {
  return { opType, inputs: [{ name: 'X' }], outputs: 1, infer: sameAsInput, doc, vjp };
}

const gyOf = (ctx: Parameters<VjpRule>[0]) => ctx.gradOutputs[0]!;
const one = (g: Graph, like: Value) => scalar(g, 1, like.dtype);

// d(a+b) = da + db
export const AddOp = binary('Add', 'c = a + b (broadcasting)', ({ graph: g, inputs: [a, b], wants, ...ctx }) => {
  const gy = ctx.gradOutputs[0]!;
  return [wants[0] ? unbroadcast(g, gy, a!) : undefined, wants[1] ? unbroadcast(g, gy, b!) : undefined];
});
// d(a-b) = da - db
export const SubOp = binary('Sub', 'c = a - b (broadcasting)', ({ graph: g, inputs: [a, b], wants, ...ctx }) => {
  const gy = ctx.gradOutputs[0]!;
  return [wants[0] ? unbroadcast(g, gy, a!) : undefined, wants[1] ? unbroadcast(g, neg(g, gy), b!) : undefined];
});
// d(ab) = b da + a db
export const MulOp = binary('Mul', 'c = a * b (broadcasting)', ({ graph: g, inputs: [a, b], wants, ...ctx }) => {
  const gy = ctx.gradOutputs[0]!;
  return [wants[0] ? unbroadcast(g, mul(g, gy, b!), a!) : undefined, wants[1] ? unbroadcast(g, mul(g, gy, a!), b!) : undefined];
});
// d(a/b) = da/b - (a/b) db/b
export const DivOp = binary('Div', 'c = a / b (broadcasting)', ({ graph: g, inputs: [a, b], outputs: [y], wants, ...ctx }) => {
  const gy = ctx.gradOutputs[0]!;
  const gOverB = div(g, gy, b!);
  return [wants[0] ? unbroadcast(g, gOverB, a!) : undefined, wants[1] ? unbroadcast(g, neg(g, mul(g, gOverB, y)), b!) : undefined];
});
// d(a^b) = b a^(b-1) da + a^b ln(a) db
export const PowOp: OpDef = { ...binary('Pow', 'c = a ^ b (broadcasting)', ({ graph: g, inputs: [a, b], outputs: [y], wants, ...ctx }) => {
  const gy = ctx.gradOutputs[0]!;
  const ga = wants[0] ? unbroadcast(g, mul(g, gy, mul(g, b!, pow(g, a!, sub(g, b!, one(g, b!))))), a!) : undefined;
  const gb = wants[1] ? unbroadcast(g, mul(g, gy, mul(g, y, log(g, a!))), b!) : undefined;
  return [ga, gb];
}), dtypes: undefined };
// d(-x) = -dx
export const NegOp = unary('Neg', 'y = -x', (ctx) => [neg(ctx.graph, gyOf(ctx))]);
// d|x| = sign(x) dx, with sign(0) = 0 as in PyTorch
export const AbsOp = unary('Abs', 'y = |x|', ({ graph: g, inputs: [x], ...ctx }) => {
  const gy = ctx.gradOutputs[0]!;
  const zero = filledLike(g, gy, 0);
  return [where(g, greater(g, x!, scalar(g, 0, x!.dtype)), gy, where(g, less(g, x!, scalar(g, 0, x!.dtype)), neg(g, gy), zero))];
});
// d e^x = e^x dx
export const ExpOp = unary('Exp', 'y = e^x', ({ graph: g, outputs: [y], ...ctx }) => [mul(g, ctx.gradOutputs[0]!, y)]);
// d ln x = dx / x
export const LogOp = unary('Log', 'y = ln x', ({ graph: g, inputs: [x], ...ctx }) => [div(g, ctx.gradOutputs[0]!, x!)]);
// d √x = dx / (2√x)
export const SqrtOp = unary('Sqrt', 'y = √x', ({ graph: g, outputs: [y], ...ctx }) => [
  div(g, mul(g, ctx.gradOutputs[0]!, scalar(g, 0.5, y.dtype)), y),
]);
// d tanh x = (1 - y²) dx
export const TanhOp = unary('Tanh', 'y = tanh x', ({ graph: g, outputs: [y], ...ctx }) => [
  mul(g, ctx.gradOutputs[0]!, sub(g, one(g, y), mul(g, y, y))),
]);
// d σ(x) = y(1 - y) dx
export const SigmoidOp = unary('Sigmoid', 'y = 1 / (1 + e^-x)', ({ graph: g, outputs: [y], ...ctx }) => [
  mul(g, ctx.gradOutputs[0]!, mul(g, y, sub(g, one(g, y), y))),
]);
// d relu(x) = [x > 0] dx (PyTorch's subgradient 0 at 0)
export const ReluOp = unary('Relu', 'y = max(x, 0)', ({ graph: g, inputs: [x], ...ctx }) => {
  const gy = ctx.gradOutputs[0]!;
  return [where(g, greater(g, x!, scalar(g, 0, x!.dtype)), gy, filledLike(g, gy, 0))];
});
// d leaky(x) = (x > 0 ? 1 : alpha) dx
export const LeakyReluOp: OpDef = {
  ...unary('LeakyRelu', 'y = x if x >= 0 else alpha * x', ({ graph: g, node, inputs: [x], ...ctx }) => {
    const gy = ctx.gradOutputs[0]!;
    const alpha = node.attr<number>('alpha', 0.01);
    return [where(g, greater(g, x!, scalar(g, 0, x!.dtype)), gy, mul(g, gy, scalar(g, alpha, x!.dtype)))];
  }),
  attrs: { alpha: { type: 'float', default: 0.01 } },
};

/** This family's ops, for the registry's table (./table.ts). */
export const ELEMENTWISE_OPS: readonly OpDef[] = [AddOp, SubOp, MulOp, DivOp, PowOp, NegOp, AbsOp, ExpOp, LogOp, SqrtOp, TanhOp, SigmoidOp, ReluOp, LeakyReluOp];

/** @example const y = add(g, x, b); */
export const add = (g: Graph, a: Value, b: Value): Value => g.node(AddOp, [a, b])[0];
/** @example const d = sub(g, y, target); */
export const sub = (g: Graph, a: Value, b: Value): Value => g.node(SubOp, [a, b])[0];
/** @example const s = mul(g, gate, h); */
export const mul = (g: Graph, a: Value, b: Value): Value => g.node(MulOp, [a, b])[0];
/** @example const q = div(g, a, b); */
export const div = (g: Graph, a: Value, b: Value): Value => g.node(DivOp, [a, b])[0];
/** @example const sq = pow(g, x, scalar(g, 2, x.dtype)); */
export const pow = (g: Graph, a: Value, b: Value): Value => g.node(PowOp, [a, b])[0];
/** @example const m = neg(g, x); */
export const neg = (g: Graph, x: Value): Value => g.node(NegOp, [x])[0];
/** @example const m = abs(g, x); */
export const abs = (g: Graph, x: Value): Value => g.node(AbsOp, [x])[0];
/** @example const e = exp(g, x); */
export const exp = (g: Graph, x: Value): Value => g.node(ExpOp, [x])[0];
/** @example const l = log(g, x); */
export const log = (g: Graph, x: Value): Value => g.node(LogOp, [x])[0];
/** @example const r = sqrt(g, x); */
export const sqrt = (g: Graph, x: Value): Value => g.node(SqrtOp, [x])[0];
/** @example const h = tanh(g, x); */
export const tanh = (g: Graph, x: Value): Value => g.node(TanhOp, [x])[0];
/** @example const gate = sigmoid(g, z); */
export const sigmoid = (g: Graph, x: Value): Value => g.node(SigmoidOp, [x])[0];
/** @example const h = relu(g, x); */
export const relu = (g: Graph, x: Value): Value => g.node(ReluOp, [x])[0];
/** @example const h = leakyRelu(g, x, 0.1); */
export const leakyRelu = (g: Graph, x: Value, alpha = 0.01): Value => g.node(LeakyReluOp, [x], { alpha })[0];
