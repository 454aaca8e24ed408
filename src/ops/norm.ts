// Normalisation ops: BatchNormalization in inference mode (a per-channel affine
// map from running statistics) and InstanceNormalization (each (n, c) slice
// normalised by its own statistics; GroupNorm's fused kernel, src/twnn/group-norm.ts).
import type { Graph, InferContext, OpDef, Value, VjpRule } from '../ir/index.js';
import { add, div, mul, sqrt, sub } from './elementwise.js';
import { reduceMean, reduceSum } from './reduce.js';
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
    // Training mode normalises with batch statistics, coupling samples (docs/DESIGN.md §1) and adding outputs.
    if (ctx.attr<number>('training_mode') !== 0) ctx.fail('training_mode must be 0: twnn builds BatchNormalization in inference mode');
    requirePerChannel(ctx, PARAMS);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  vjp: batchNormVjp,
};

/** Each named input after X is `[C]`, one entry per channel (dim 1) of X. */
function requirePerChannel(ctx: InferContext, names: readonly string[]): void {
  const channels = ctx.inputs[0]!.shape[1];
  names.forEach((name, i) => {
    const p = ctx.inputs[i + 1]!;
    const clash = p.rank !== 1 || (typeof p.shape[0] === 'number' && typeof channels === 'number' && p.shape[0] !== channels);
    if (clash) ctx.fail(`${name} must be [${channels}] (one entry per channel of X), got [${p.shape.join(',')}]`);
  });
}

// x̂ = (x − μ)/σ per (n, c) over the spatial axes (σ = √(var + ε), biased var), y = scale·x̂ + B:
// dX = (scale/σ)(dY − mean(dY) − x̂·mean(dY·x̂)), dScale = Σ_{n,spatial} dY·x̂, dB = Σ_{n,spatial} dY.
// μ and σ are recomputed from X here, as the kernel does not return them (in an adjoint Loop body: every step).
const instanceNormVjp: VjpRule = ({ graph: g, node, inputs: [x, scale], gradOutputs: [gy], wants }) => {
  const spatial = x!.shape.map((_, i) => i).slice(2);
  const otherAxes = [0, ...spatial];
  const mean = (v: Value) => reduceMean(g, v, spatial, true);
  const sumOver = (v: Value) => reduceSum(g, v, otherAxes, false);
  if (!wants[0] && !wants[1]) return [undefined, undefined, sumOver(gy!)];
  const epsilon = Math.fround(node.attr<number>('epsilon', 1e-5));
  const centered = sub(g, x!, mean(x!));
  const invStd = div(g, scalar(g, 1, x!.dtype), sqrt(g, add(g, mean(mul(g, centered, centered)), scalar(g, epsilon, x!.dtype))));
  const normalized = mul(g, centered, invStd);
  const gyNormalized = mul(g, gy!, normalized);
  // scale [C] -> [1,C,1,...] times σ⁻¹ [N,C,1,...]: one factor per (n, c).
  const gx = () => mul(g, sub(g, sub(g, gy!, mean(gy!)), mul(g, normalized, mean(gyNormalized))), mul(g, unsqueeze(g, scale!, otherAxes), invStd));
  return [wants[0] ? gx() : undefined, wants[1] ? sumOver(gyNormalized) : undefined, wants[2] ? sumOver(gy!) : undefined];
};

export const InstanceNormalizationOp: OpDef = {
  opType: 'InstanceNormalization',
  inputs: [{ name: 'input' }, { name: 'scale' }, { name: 'B' }],
  outputs: 1,
  attrs: { epsilon: { type: 'float', default: 1e-5 } },
  // onnxruntime 1.29 (node and web) registers it for float32 only: a float64 session fails to load.
  float64Kernel: false,
  doc: 'y = scale * (x - mean) / sqrt(var + epsilon) + B, mean and biased var per (n, c) over the spatial dims',
  infer: (ctx) => {
    requireSameDType(ctx);
    const x = ctx.inputs[0]!;
    if (x.rank < 3) ctx.fail(`input must be [N,C,D1,...] (rank >= 3), got rank ${x.rank}`);
    requirePerChannel(ctx, ['scale', 'B']);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  vjp: instanceNormVjp,
};

/** This family's ops, for the registry's table (./table.ts). */
export const NORM_OPS: readonly OpDef[] = [BatchNormalizationOp, InstanceNormalizationOp];

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

/**
 * Instance normalisation of X `[N,C,D1,...]`: each (n, c) slice is normalised by
 * its own mean and biased variance over D1,..., then `scale * x̂ + bias` per
 * channel (`[C]` each). onnxruntime has a float32 kernel only.
 *
 * @example
 * // GroupNorm's normalisation: [B,C,H,W] as [B,G,C/G·H·W] rows, unit scale, no shift.
 * const rows = reshape(g, x, [0, 8, -1]);
 * const y = instanceNorm(g, rows, constant(g, Tensor.fromNumbers('float32', [8], Array(8).fill(1))), constant(g, Tensor.zeros('float32', [8])));
 */
export function instanceNorm(g: Graph, x: Value, scale: Value, bias: Value, options: { epsilon?: number } = {}): Value {
  return g.node(InstanceNormalizationOp, [x, scale, bias], { epsilon: options.epsilon ?? 1e-5 })[0];
}
