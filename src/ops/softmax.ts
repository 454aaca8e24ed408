// Softmax and LogSoftmax with opset-13 semantics: normalise along one `axis` (default -1),
// not over the flattened trailing dimensions as opsets < 13 did.
import { type Graph, type InferContext, type OpDef, type Value, type ValueInfo, type VjpRule } from '../ir/index.js';
import { exp, mul, sub } from './elementwise.js';
import { reduceSum } from './reduce.js';

function alongAxis(ctx: InferContext): ValueInfo[] {
  const x = ctx.inputs[0]!;
  const axis = ctx.attr<number>('axis');
  if (axis < -x.rank || axis >= x.rank) ctx.fail(`axis ${axis} is out of range for rank ${x.rank}`);
  return [{ dtype: x.dtype, shape: x.shape }];
}

function softmaxLike(opType: string, doc: string, vjp: VjpRule): OpDef {
  return { opType, inputs: [{ name: 'input' }], outputs: 1, attrs: { axis: { type: 'int', default: -1 } }, doc, infer: alongAxis, vjp };
}

// d softmax: dx = y ⊙ (dy − Σ_axis dy ⊙ y)
export const SoftmaxOp = softmaxLike('Softmax', 'y = exp(x) / sum(exp(x)) along axis', ({ graph: g, node, outputs: [y], gradOutputs: [gy] }) => {
  const axis = node.attr<number>('axis', -1);
  return [mul(g, y, sub(g, gy!, reduceSum(g, mul(g, gy!, y), [axis], true)))];
});
// d logsoftmax: dx = dy − e^y ⊙ Σ_axis dy
export const LogSoftmaxOp = softmaxLike('LogSoftmax', 'y = x - log(sum(exp(x))) along axis', ({ graph: g, node, outputs: [y], gradOutputs: [gy] }) => {
  const axis = node.attr<number>('axis', -1);
  return [sub(g, gy!, mul(g, exp(g, y), reduceSum(g, gy!, [axis], true)))];
});

/** This family's ops, for the registry's table (./table.ts). */
export const SOFTMAX_OPS: readonly OpDef[] = [SoftmaxOp, LogSoftmaxOp];

/**
 * Softmax along `axis` (default: the last).
 *
 * @example const probs = softmax(g, logits); // [B, classes]
 */
export const softmax = (g: Graph, x: Value, axis = -1): Value => g.node(SoftmaxOp, [x], { axis })[0];

/**
 * Log-softmax along `axis` (default: the last); numerically stable for cross-entropy.
 *
 * @example const logp = logSoftmax(g, logits);
 */
export const logSoftmax = (g: Graph, x: Value, axis = -1): Value => g.node(LogSoftmaxOp, [x], { axis })[0];
