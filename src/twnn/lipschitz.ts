// Certified Lipschitz bounds of modules, in ℓ2 per sample, as graph values computed
// from the current weights (what a contractive region scales its wormholes by;
// src/twnn/contractive.ts).
//
// A bound must hold for every input, not estimate: power iteration gives a lower
// bound on ‖W‖₂, so it cannot certify a contraction. What we use instead:
//
//   linear map W:   ‖W‖₂ ≤ ‖W‖_S8 = (Σ σᵢ⁸)^{1/8} = ‖(W Wᵀ)²‖_F^{1/4}
//                   (the Schatten-8 norm; ‖W‖₂ = max σᵢ ≤ it, within a factor
//                   r^{1/8} for rank r: 1.41 at r = 16, 2 at r = 256; two MatMuls
//                   on the weight, differentiable by the existing VJP rules)
//   conv k×k:       y = W_mat · im2col(x), each input pixel appears in at most
//                   n_h·n_w columns (n = min(k, ⌈((k−1)·d + 1)/s⌉) along an axis),
//                   so ‖conv‖₂ ≤ √(n_h·n_w) · ‖W_mat‖₂, W_mat = W as [C_out, C_in/groups·k_h·k_w]
//                   (groups: the operator is block diagonal; each block is a row
//                   subset of W_mat, so W_mat's norm bounds every block's)
//   relu, tanh:     1;  sigmoid: 1/4;  leakyRelu(α): max(1, |α|)
//   f ∘ g:          Lip(f) · Lip(g)  (sequential: the product of its children's)
//   relu(f(x) + s(x)) (residual blocks): Lip(f) + Lip(s), s the shortcut (identity: 1)
//
// Normalisation layers (GroupNorm, LayerNorm, BatchNorm in training) divide by a
// per-sample statistic: their Lipschitz constant is unbounded as the input's spread
// shrinks, so they have no bound here, nor do skip-gated blocks (s(x)·f(x) is not
// Lipschitz for unbounded f). A module without a bound is refused by name.
import { SpecError, Tensor, type Value } from '../ir/index.js';
import * as ops from '../ops/index.js';
import type { BuildContext, Module } from './module.js';

/** A Lipschitz bound: a constant, or a scalar graph value computed from weights. */
export type LipschitzBound = number | Value;

/**
 * The bound of `m` as built at the current scope (its parameters must already be
 * declared: call it while rebuilding a sweep). Throws a SpecError naming the layer
 * (its full scope and kind) when `m` has no bound.
 *
 * @example const lip = ctx.scope('B1', () => lipschitzOf(ctx, block));
 */
export function lipschitzOf(ctx: BuildContext, m: Module): LipschitzBound {
  if (!m.lipschitz) {
    throw new SpecError(
      `layer '${ctx.scopeName || '<top>'}' (${m.kind}) has no Lipschitz bound` +
        (/norm/i.test(m.kind) ? ': normalisation divides by a per-sample statistic and is unbounded as the spread shrinks' : ''),
    );
  }
  return m.lipschitz(ctx);
}

/**
 * The product of bounds, folding constants (a chain of layers).
 *
 * @example boundProduct(ctx, [1, wBound, 0.25])
 */
export function boundProduct(ctx: BuildContext, bounds: readonly LipschitzBound[]): LipschitzBound {
  return fold(ctx, bounds, 1, (a, b) => a * b, ops.mul);
}

/**
 * The sum of bounds, folding constants (branches added: a residual block).
 *
 * @example boundSum(ctx, [mainBound, 1])
 */
export function boundSum(ctx: BuildContext, bounds: readonly LipschitzBound[]): LipschitzBound {
  return fold(ctx, bounds, 0, (a, b) => a + b, ops.add);
}

/**
 * A bound as a scalar graph value (shape [1]) in the build dtype.
 *
 * @example const lip = boundValue(ctx, boundProduct(ctx, bounds));
 */
export function boundValue(ctx: BuildContext, b: LipschitzBound): Value {
  return typeof b === 'number' ? ops.constant(ctx.graph, Tensor.fromNumbers(ctx.dtype, [1], [b])) : b;
}

/**
 * ‖W‖₂ ≤ ‖(W·Wᵀ)²‖_F^{1/4} for a 2-D weight `w` [m, n] (the Schatten-8 norm),
 * as a [1] value; the Gram matrix is taken on the smaller side.
 *
 * @example const lip = spectralBound(ctx, ctx.param('weight', [out, inF], init));
 */
export function spectralBound(ctx: BuildContext, w: Value): Value {
  const g = ctx.graph;
  const [m, n] = w.shape as number[];
  const wt = ops.transpose(g, w, [1, 0]);
  const gram = m <= n ? ops.matmul(g, w, wt) : ops.matmul(g, wt, w);
  const squared = ops.matmul(g, gram, gram);
  // A tiny floor keeps the gradient of the eighth root finite at W = 0.
  const sum = ops.add(g, ops.reshape(g, ops.reduceSum(g, ops.mul(g, squared, squared), [0, 1], true), [1]), ops.scalar(g, 1e-30, ctx.dtype));
  return ops.sqrt(g, ops.sqrt(g, ops.sqrt(g, sum)));
}

/**
 * The bound of a k_h×k_w convolution with weight `w` [C_out, C_in/groups, k_h, k_w]
 * (see the head of this file).
 *
 * @example convBound(ctx, w, [1, 1], [1, 1]) // 3·‖W_mat‖ bound for a 3×3 conv
 */
export function convBound(ctx: BuildContext, w: Value, stride: readonly [number, number], dilation: readonly [number, number]): Value {
  const [cOut, cIn, kh, kw] = w.shape as number[];
  const covers = (k: number, s: number, d: number) => Math.min(k, Math.ceil(((k - 1) * d + 1) / s));
  const factor = Math.sqrt(covers(kh, stride[0], dilation[0]) * covers(kw, stride[1], dilation[1]));
  const norm = spectralBound(ctx, ops.reshape(ctx.graph, w, [cOut, cIn * kh * kw]));
  return factor === 1 ? norm : ops.mul(ctx.graph, norm, ops.scalar(ctx.graph, factor, ctx.dtype));
}

function fold(ctx: BuildContext, bounds: readonly LipschitzBound[], unit: number, num: (a: number, b: number) => number, emit: typeof ops.mul): LipschitzBound {
  const constant = bounds.filter((b): b is number => typeof b === 'number').reduce(num, unit);
  const values = bounds.filter((b): b is Value => typeof b !== 'number');
  if (values.length === 0) return constant;
  const joined = values.reduce((a, b) => emit(ctx.graph, a, b));
  return constant === unit ? joined : emit(ctx.graph, joined, boundValue(ctx, constant));
}
