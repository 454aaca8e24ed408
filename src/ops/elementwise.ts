// Elementwise arithmetic and activations: one OpDef each (its shape rule) and a typed
// emitter. Their VJP rules are in ./vjp/elementwise.ts: they emit comparisons and the
// gradient helpers, which emit these ops.
import type { DType, Graph, OpDef, Value } from '../ir/index.js';
import { broadcastBinary, sameAsInput } from './shape-rules.js';

// Integer arithmetic is allowed (iteration counters are int64); gradients only flow through floats.
const NUMERIC: readonly DType[] = ['float32', 'float64', 'int64', 'int32'];

function binary(opType: string, doc: string): OpDef {
  return { opType, inputs: [{ name: 'A' }, { name: 'B' }], outputs: 1, dtypes: NUMERIC, infer: broadcastBinary, doc };
}

function unary(opType: string, doc: string): OpDef {
  return { opType, inputs: [{ name: 'X' }], outputs: 1, infer: sameAsInput, doc };
}

export const AddOp = binary('Add', 'c = a + b (broadcasting)');
export const SubOp = binary('Sub', 'c = a - b (broadcasting)');
export const MulOp = binary('Mul', 'c = a * b (broadcasting)');
export const DivOp = binary('Div', 'c = a / b (broadcasting)');
export const PowOp: OpDef = { ...binary('Pow', 'c = a ^ b (broadcasting)'), dtypes: undefined };
export const NegOp = unary('Neg', 'y = -x');
export const AbsOp = unary('Abs', 'y = |x|');
export const ExpOp = unary('Exp', 'y = e^x');
export const LogOp = unary('Log', 'y = ln x');
export const SqrtOp = unary('Sqrt', 'y = √x');
export const TanhOp = unary('Tanh', 'y = tanh x');
export const SigmoidOp = unary('Sigmoid', 'y = 1 / (1 + e^-x)');
export const ReluOp = unary('Relu', 'y = max(x, 0)');
export const LeakyReluOp: OpDef = { ...unary('LeakyRelu', 'y = x if x >= 0 else alpha * x'), attrs: { alpha: { type: 'float', default: 0.01 } } };

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
