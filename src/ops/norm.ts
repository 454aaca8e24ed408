// BatchNormalization in inference mode: per-channel affine map from running statistics.
import type { Graph, OpDef, Value, VjpRule } from '../ir/index.js';
import { add, div, mul, sqrt, sub } from './elementwise.js';
import { reduceSum } from './reduce.js';
import { registerOps } from './registry.js';
import { unsqueeze } from './shape.js';
import { requireSameDType } from './shape-rules.js';
import { scalar } from './structural.js';

const PARAMS = ['scale', 'B', 'input_mean', 'input_var'] as const;

// x̂ = (x − μ)/√(σ²+ε), y = scale·x̂ + B: dX = dY·scale/√(σ²+ε), dScale = Σ dY·x̂, dB = Σ dY (sums over all but dim 1)
const batchNormVjp: VjpRule = ({ graph: g, node, inputs: [x, scale, , mean, variance], gradOutputs: [gy], wants }) => {
  const otherAxes = x!.shape.map((_, i) => i).filter((i) => i !== 1);
  // [C] -> [1,C,1,...], to broadcast against X.
  const perChannel = (v: Value) => unsqueeze(g, v, otherAxes);
  // The attribute is serialised as a float32, which is the ε the forward kernel adds.
  const epsilon = Math.fround(node.attr<number>('epsilon', 1e-5));
  const invStd = div(g, scalar(g, 1, x!.dtype), sqrt(g, add(g, variance!, scalar(g, epsilon, x!.dtype))));
  const normalized = () => mul(g, sub(g, x!, perChannel(mean!)), perChannel(invStd));
  return [
    wants[0] ? mul(g, gy!, perChannel(mul(g, scale!, invStd))) : undefined,
    wants[1] ? reduceSum(g, mul(g, gy!, normalized()), otherAxes, false) : undefined,
    wants[2] ? reduceSum(g, gy!, otherAxes, false) : undefined,
  ];
};

export const BatchNormalizationOp: OpDef = {
  opType: 'BatchNormalization',
  inputs: [
    { name: 'X' },
    { name: 'scale' },
    { name: 'B' },
    // Running statistics: the forward uses them as given, but they are estimated from
    // data (training-mode updates), never trained by gradient descent, so they get none.
    { name: 'input_mean', nondiff: true },
    { name: 'input_var', nondiff: true },
  ],
  outputs: 1,
  attrs: {
    epsilon: { type: 'float', default: 1e-5 },
    // Only used by training mode's running-statistics update.
    momentum: { type: 'float', default: 0.9 },
    training_mode: { type: 'int', default: 0 },
  },
  doc: 'Y = scale * (X - input_mean) / sqrt(input_var + epsilon) + B, per channel (dim 1), inference mode',
  infer: (ctx) => {
    // Opset 15 lets the statistics have another float type than X; twnn builds one dtype throughout.
    requireSameDType(ctx);
    const x = ctx.inputs[0]!;
    if (x.rank < 2) ctx.fail(`X must be [N,C,...] (rank >= 2), got rank ${x.rank}`);
    // Training mode normalises with batch statistics, coupling samples (DESIGN §1) and adding outputs.
    if (ctx.attr<number>('training_mode') !== 0) ctx.fail('training_mode must be 0: twnn builds BatchNormalization in inference mode');
    const channels = x.shape[1];
    PARAMS.forEach((name, i) => {
      const p = ctx.inputs[i + 1]!;
      const clash = p.rank !== 1 || (typeof p.shape[0] === 'number' && typeof channels === 'number' && p.shape[0] !== channels);
      if (clash) ctx.fail(`${name} must be [${channels}] (one entry per channel of X), got [${p.shape.join(',')}]`);
    });
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  vjp: batchNormVjp,
};

registerOps([BatchNormalizationOp]);

/** A BatchNormalization layer's per-channel tensors, each [C]. */
export interface BatchNormParams {
  scale: Value;
  bias: Value;
  /** Running mean. */
  mean: Value;
  /** Running variance. */
  variance: Value;
}

/**
 * Inference-mode batch normalisation over channel dim 1 of X [N,C,...]:
 * `scale * (x - mean) / sqrt(variance + epsilon) + bias`.
 *
 * @example
 * const p = (name: string, v: number) => g.initializer(name, Tensor.fromNumbers('float32', [16], Array(16).fill(v)));
 * const y = batchNorm(g, x, { scale: p('bn.scale', 1), bias: p('bn.bias', 0), mean: p('bn.mean', 0), variance: p('bn.var', 1) });
 */
export function batchNorm(g: Graph, x: Value, params: BatchNormParams, options: { epsilon?: number } = {}): Value {
  const { scale, bias, mean, variance } = params;
  return g.node(BatchNormalizationOp, [x, scale, bias, mean, variance], { epsilon: options.epsilon ?? 1e-5 })[0];
}
