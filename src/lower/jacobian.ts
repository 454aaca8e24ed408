/**
 * Jacobian regularisation of a fixed point (Bai, Koltun & Kolter 2021,
 * "Stabilizing Equilibrium Models by Jacobian Regularization"): adds
 * γ·‖∂F/∂S‖²_F / d to the training loss, averaged over the batch (d: the
 * state's size per sample, as theirs), to keep the sweep contractive as
 * training opens the wormhole gates, so sweeps per sample stay low.
 *
 * Derivation (Hutchinson). For a random probe ε with E[εεᵀ] = I,
 *   E‖εᵀJ‖² = E[εᵀ J Jᵀ ε] = tr(J Jᵀ) = ‖J‖²_F,
 * and εᵀJ is one VJP of the sweep at S*, seeded with ε on F(S*) — the same
 * reverse pass the adjoint applies, built from the per-op VJP rules. Its
 * gradient with respect to θ (and S*, through the adjoint) comes from
 * differentiating those VJP nodes again: the training graph's backward sees
 * them as ordinary nodes.
 *
 * The probe is Rademacher (±1), drawn in the graph from a hash of the
 * element's index and an int64 key (the optimizer step), so each step probes
 * anew and a resumed run draws the same probes: no random op, no state.
 */
import { SpecError, Tensor, type Graph, type Node, type Value } from '../ir/index.js';
import { add, cast, div, expand, mul, reduceMean, reduceSum, scalar, shapeOf, sub } from '../ops/index.js';
import { vjpThrough } from '../autodiff/vjp-through.js';
import { sampleRows } from './settle.js';

export interface JacobianPenaltyArgs {
  /** The sweep at S*, in order (its nodes). */
  sweepNodes: readonly Node[];
  sStar: readonly Value[];
  /** F(S*): the sweep's new sources. */
  sNew: readonly Value[];
  /** γ. */
  weight: number;
  /** int64 []: what the probe is drawn from (the step number). */
  key: Value;
  region: string;
}

/**
 * γ · mean over the batch of ‖εᵀ ∂F/∂S‖² / d: a scalar to add to the loss.
 *
 * @example const penalty = jacobianPenalty(g, { sweepNodes, sStar, sNew, weight: 1, key: step, region: 'region1' });
 */
export function jacobianPenalty(g: Graph, args: JacobianPenaltyArgs): Value {
  const { sweepNodes, sStar, sNew, weight, key, region } = args;
  return g.scope(`${region.split('.').join('_')}_jacobian_penalty`, () => {
    const probes = sNew.map((s, j) => expand(g, rademacher(g, s, key, j + 1), shapeOf(g, s)));
    const eTJ = vjpThrough({ nodes: sweepNodes, seeds: new Map(sNew.map((s, j) => [s, probes[j]])), wrt: sStar, into: g, scope: 'probe_vjp' });
    const present = eTJ.flatMap((v) => (v ? [v] : []));
    if (present.length === 0) throw new SpecError(`region '${region}': jacobianPenalty: the sweep does not depend on its state`);
    const rows = sampleRows(g, present);
    const d = sStar.reduce((n, s) => n + staticSize(s, `region '${region}' jacobianPenalty`), 0);
    const perSample = div(g, reduceSum(g, mul(g, rows, rows), [1], false), scalar(g, d, rows.dtype));
    return mul(g, reduceMean(g, perSample, [], false), scalar(g, weight, rows.dtype));
  });
}

const MODULUS = 2147483647; // 2^31 − 1: every product of two residues fits in int64

/**
 * ±1 in `like`'s dtype, shaped [1, ...like's dims past the batch]: a
 * pseudo-random sign per element from a hash of its index, `key` (int64 []) and
 * `salt`. Squaring rounds make it non-linear in both, so two elements' signs
 * are uncorrelated over keys.
 *
 * @example const eps = rademacher(g, state, step, 1); // [1, C, H, W]
 */
export function rademacher(g: Graph, like: Value, key: Value, salt: number): Value {
  const dims = like.shape.slice(1) as number[];
  const n = staticSize(like, 'rademacher');
  const i64 = (v: number) => scalar(g, v, 'int64');
  const mod = (v: Value) => sub(g, v, mul(g, div(g, v, i64(MODULUS)), i64(MODULUS)));
  const index = g.constant(Tensor.fromNumbers('int64', [1, ...dims], Array.from({ length: n }, (_, i) => i)));
  const seed = mod(add(g, mul(g, mod(key), i64(1000003)), i64(salt * 7919)));
  let h = mod(add(g, mul(g, index, i64(69069)), add(g, seed, i64(12345))));
  h = mod(add(g, mul(g, h, h), i64(1013904223)));
  h = mod(mul(g, h, i64(48271)));
  h = mod(add(g, mul(g, h, h), seed));
  h = mod(mul(g, h, i64(16807)));
  // Bit 16 of h: (h / 2^16) − 2·(h / 2^17).
  const bit = sub(g, div(g, h, i64(1 << 16)), mul(g, div(g, h, i64(1 << 17)), i64(2)));
  return sub(g, mul(g, cast(g, bit, like.dtype), scalar(g, 2, like.dtype)), scalar(g, 1, like.dtype));
}

/**
 * The elements of one sample of `v` (its dims past the batch, which must be static); `where` names it in the error.
 *
 * @example staticSize(state, "region 'region1'") // 32 for a [B, 32] state
 */
export function staticSize(v: Value, where: string): number {
  const dims = v.shape.slice(1);
  if (!dims.every((d): d is number => typeof d === 'number')) throw new SpecError(`${where}: state '${v.name}' needs static dims past the batch, got [${v.shape.join(', ')}]`);
  return dims.reduce((a, d) => a * d, 1);
}
