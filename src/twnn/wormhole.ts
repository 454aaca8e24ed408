// A wormhole's contribution to an earlier block's input (docs/DESIGN.md §1):
//
//   u_i = h_{i-1} + g ⊙ P(h_j_old),   g = sigmoid(G·[h_{i-1}; P(h_j_old)] + c)
//
// P is a learned linear map without bias (identity on request when shapes
// match); c starts strongly negative so the gate is closed: the wormhole is
// inactive under most circumstances and the network settles in two sweeps.
// In a contractive region (src/twnn/contractive.ts) the term is
// g ⊙ α·P(h_j_old) with g = sigmoid(G·h_{i-1} + c), a gate that does not see
// the state, and α = min(1, budget/‖P‖) scaling P to at most the region's budget.
import { SpecError, formatShape, type Value } from '../ir/index.js';
import { concat, conv2d, convTranspose2d, div, gemm, mul, reduceMax, reshape, sigmoid } from '../ops/index.js';
import { constant, kaimingUniform } from './init.js';
import { boundValue, spectralBound, type LipschitzBound } from './lipschitz.js';
import type { BuildContext } from './module.js';

/** A wormhole as the region resolved it: 1-based block positions and settings. */
export interface ResolvedWormhole {
  readonly from: number;
  readonly to: number;
  readonly gateBias: number;
  readonly projection: 'linear' | 'identity';
  /** Scope name of its parameters and nodes, from its blocks' names: `wormhole_B4_B3`, `wormhole_b3_b1`. */
  readonly scopeName: string;
  /** The positional name wormholes had before (`wormhole_3_1`): their random streams, and weights saved under it. */
  readonly formerScopeName: string;
}

/**
 * Emit `g ⊙ P(source)` for a wormhole into block `to`, whose forward input is
 * `h` (both `[B, D]`, or both `[B, C, H, W]`). Declares the wormhole's
 * parameters (`proj.weight`, `gate.weight`, `gate.bias`) in its own scope.
 *
 * With `budget` (a contractive region), the gate reads `h` alone (its weight is
 * `[D, D]`, not `[D, 2D]`) and P is scaled so that its ℓ2 norm is at most `budget`.
 *
 * @example const u = add(g, h, wormholeTerm(ctx, h, sOld, wormhole, 'region1'));
 */
export function wormholeTerm(ctx: BuildContext, h: Value, source: Value, w: ResolvedWormhole, region: string, budget?: LipschitzBound): Value {
  return ctx.scopeFormerly(w.scopeName, w.formerScopeName, () => {
    const where = `region '${region}', wormhole ${w.from} -> ${w.to}`;
    const { p, norm } = project(ctx, h, source, w, where);
    if (budget !== undefined) {
      const gate = h.rank === 2 ? denseGate(ctx, h, undefined, w) : convGate(ctx, h, undefined, w);
      return mul(ctx.graph, gate, mul(ctx.graph, p, shrink(ctx, norm(), budget)));
    }
    const gate = h.rank === 2 ? denseGate(ctx, h, p, w) : convGate(ctx, h, p, w);
    return mul(ctx.graph, gate, p);
  });
}

/** α = min(1, budget/‖P‖) = budget / max(‖P‖, budget), a [1] value: ‖α·P‖₂ ≤ budget. */
function shrink(ctx: BuildContext, norm: LipschitzBound, budget: LipschitzBound): Value {
  const b = boundValue(ctx, budget);
  return div(ctx.graph, b, reduceMax(ctx.graph, concat(ctx.graph, [boundValue(ctx, norm), b], 0), [0], true));
}

/**
 * P(source), and how to emit a bound on ‖P‖₂ (only a contractive region does, so other
 * exports stay byte-identical): exact for the up-sampling ConvTranspose, whose kernel = stride patches do not overlap.
 */
function project(ctx: BuildContext, h: Value, source: Value, w: ResolvedWormhole, where: string): { p: Value; norm: () => LipschitzBound } {
  const g = ctx.graph;
  const cannot = (why: string): never => {
    throw new SpecError(`${where}: block ${w.from}'s output ${formatShape(source.shape)} cannot be projected onto block ${w.to}'s input ${formatShape(h.shape)}: ${why}`);
  };
  if (h.rank !== source.rank) cannot('ranks differ');
  if (w.projection === 'identity') {
    if (!h.shape.every((d, i) => d === source.shape[i])) cannot("projection 'identity' needs equal shapes");
    return { p: source, norm: () => 1 };
  }
  if (h.rank === 2) {
    const [dIn, dOut] = [source.shape[1], h.shape[1]];
    if (typeof dIn !== 'number' || typeof dOut !== 'number') cannot('feature sizes must be static');
    const weight = ctx.scope('proj', () => ctx.param('weight', [dOut as number, dIn as number], kaimingUniform(dIn as number)));
    return { p: gemm(g, source, weight, undefined, { transB: true }), norm: () => spectralBound(ctx, weight) };
  }
  if (h.rank !== 4) cannot('wormholes connect [B, D] or [B, C, H, W] activations');
  const [cIn, hIn, wIn] = source.shape.slice(1) as number[];
  const [cOut, hOut, wOut] = h.shape.slice(1) as number[];
  if (![cIn, hIn, wIn, cOut, hOut, wOut].every((d) => typeof d === 'number')) cannot('channel and spatial sizes must be static');
  if (hIn === hOut && wIn === wOut) {
    // Same resolution: a 1x1 convolution mixes channels.
    const weight = ctx.scope('proj', () => ctx.param('weight', [cOut, cIn, 1, 1], kaimingUniform(cIn)));
    return { p: conv2d(g, source, weight, undefined, {}), norm: () => spectralBound(ctx, reshape(g, weight, [cOut, cIn])) };
  }
  const s = hOut / hIn;
  if (!Number.isInteger(s) || s < 2 || wOut !== wIn * s) cannot(`spatial size ${hOut}x${wOut} is not an integer upsampling of ${hIn}x${wIn}`);
  // A later, strided block feeds an earlier, finer one: a transposed convolution
  // with kernel = stride = s upsamples exactly (ConvTranspose weight: [C_in, C_out, s, s]).
  const weight = ctx.scope('proj', () => ctx.param('weight', [cIn, cOut, s, s], kaimingUniform(cIn * s * s)));
  return { p: convTranspose2d(g, source, weight, undefined, { strides: [s, s] }), norm: () => spectralBound(ctx, reshape(g, weight, [cIn, cOut * s * s])) };
}

/** The gate reads [h; P(S)], or `h` alone when `p` is undefined (a contractive region). */
function denseGate(ctx: BuildContext, h: Value, p: Value | undefined, w: ResolvedWormhole): Value {
  const d = h.shape[1] as number;
  const inputs = p ? 2 * d : d;
  return ctx.scope('gate', () => {
    const weight = ctx.param('weight', [d, inputs], kaimingUniform(inputs));
    const bias = ctx.param('bias', [d], constant(w.gateBias));
    return sigmoid(ctx.graph, gemm(ctx.graph, p ? concat(ctx.graph, [h, p], 1) : h, weight, bias, { transB: true }));
  });
}

function convGate(ctx: BuildContext, h: Value, p: Value | undefined, w: ResolvedWormhole): Value {
  const c = h.shape[1] as number;
  const inputs = p ? 2 * c : c;
  return ctx.scope('gate', () => {
    const weight = ctx.param('weight', [c, inputs, 1, 1], kaimingUniform(inputs));
    const bias = ctx.param('bias', [c], constant(w.gateBias));
    return sigmoid(ctx.graph, conv2d(ctx.graph, p ? concat(ctx.graph, [h, p], 1) : h, weight, bias, {}));
  });
}
