/**
 * Limited-memory Broyden ("good" Broyden, in inverse form) for a fixed point
 * x = F(x), per sample, in ONNX ops, registered as the solver `broyden`
 * (./registry.ts). It is torchdeq's default DEQ solver's method.
 *
 * Derivation. A fixed point is a root of g(x) = F(x) − x. Newton would step
 * x ← x − J⁻¹ g(x) with J = ∂F/∂x − I; Broyden keeps an approximation H of
 * J⁻¹, starting from H₀ = −I (so its first step is plain iteration,
 * x + g = F(x)), and after each step s = Δx, y = Δg makes the smallest change
 * to H⁻¹ that satisfies the secant condition H y = s. By Sherman–Morrison,
 *   H ← H + u vᵀ,   v = Hᵀ s,   u = (s − H y) / (vᵀ y),
 * so H = −I + Σᵢ uᵢ vᵢᵀ is the identity plus a low-rank term, never formed:
 *   H z = −z + Σᵢ uᵢ (vᵢ · z),   Hᵀ z = −z + Σᵢ vᵢ (uᵢ · z).
 * Limited memory keeps the last m pairs (rows of U, V: [B, m, n]); the
 * oldest goes first. The step is x ← x − H g(x), with H already updated by
 * the newest pair. For a linear map F(x) = Ax + b, g is affine and, with
 * m ≥ 2n, Broyden finds its root in at most 2n steps (Gay 1979): the adjoint
 * and tangent Loops, linear in w, gain the most.
 *
 * An update whose vᵀy is 0 (the first step, or a step that did not move) is
 * skipped: the sample keeps its memory. Each sample has its own U, V, so
 * each sample's result is its batch-of-1 result.
 */
import type { Graph, Value } from '../../ir/index.js';
import { abs, add, and, concat, constantOfShape, div, greater, matmul, mul, not, reduceSum, scalar, shapeOf, slice, squeeze, sub, transpose, unsqueeze, where } from '../../ops/index.js';
import type { BroydenSettings } from '../../twnn/solvers.js';
import { sampleRows } from '../settle.js';
import { mixRows, zeroHistory } from './rows.js';
import type { SolverLowering } from './solver.js';

/** Limited-memory Broyden as a solver of the settling Loop: it carries U, V and the last x and g. */
export const broydenSolver: SolverLowering<{ kind: 'broyden' } & BroydenSettings> = {
  memoryNames: () => ['broyden.U', 'broyden.V', 'broyden.x_prev', 'broyden.g_prev'],
  initialMemory: (g, settings, initial) => {
    const x = sampleRows(g, initial);
    const zeros = zeroHistory(g, x, settings.history);
    const row = constantOfShape(g, shapeOf(g, x), 0, x.dtype);
    return [zeros, zeros, row, row];
  },
  step: (b, settings, inputs) => mixRows(b, inputs, 'broyden', (x, gk) => broydenStep(b, settings.history, inputs.memory, x, gk, inputs.first)),
};

/**
 * One Broyden step from iterate `x` with residual `gk = F(x) − x` (both
 * [B, n]) and memory [U, V, xPrev, gPrev]: the next iterate and the memory
 * after it. `first` (bool []) marks the step with no previous iterate.
 *
 * @example const { next, memory } = broydenStep(b, 8, memory, x, sub(b, fx, x), first);
 */
export function broydenStep(g: Graph, history: number, memory: readonly Value[], x: Value, gk: Value, first: Value): { next: Value; memory: Value[] } {
  const [u0, v0, xPrev, gPrev] = memory;
  const s = sub(g, x, xPrev);
  const y = sub(g, gk, gPrev);
  const v = sub(g, lowRank(g, v0, u0, s), s); // Hᵀ s
  const hy = sub(g, lowRank(g, u0, v0, y), y); // H y
  const vy = reduceSum(g, mul(g, v, y), [1], true); // [B, 1]
  const updates = and(g, not(g, first), greater(g, abs(g, vy), scalar(g, 0, x.dtype)));
  const u = div0(g, sub(g, s, hy), vy, updates);
  // Oldest row out, newest in, only for the samples that update: [B, m, n].
  const keep = unsqueeze(g, updates, [2]);
  const shift = (hist: Value, row: Value) => where(g, keep, history === 1 ? unsqueeze(g, row, [1]) : concat(g, [slice(g, hist, [1], [history], [1]), unsqueeze(g, row, [1])], 1), hist);
  const uNew = shift(u0, u);
  const vNew = shift(v0, v);
  // x − H g = x + g − Σ uᵢ (vᵢ · g).
  const next = sub(g, add(g, x, gk), lowRank(g, uNew, vNew, gk));
  return { next, memory: [uNew, vNew, x, gk] };
}

/** Σᵢ aᵢ (bᵢ · z) per sample: a, b [B, m, n] (rows aᵢ, bᵢ), z [B, n] → [B, n]. */
function lowRank(g: Graph, a: Value, b: Value, z: Value): Value {
  const coefficients = matmul(g, b, unsqueeze(g, z, [2])); // [B, m, 1]
  return squeeze(g, matmul(g, transpose(g, coefficients, [0, 2, 1]), a), [1]);
}

/** num / den where `ok` ([B, 1]), else 0 (a den of 0 never reaches the division). */
function div0(g: Graph, num: Value, den: Value, ok: Value): Value {
  const safe = where(g, ok, den, scalar(g, 1, den.dtype));
  return where(g, ok, div(g, num, safe), scalar(g, 0, num.dtype));
}
