/**
 * Anderson acceleration of a fixed-point iteration x ← F(x), per sample, in
 * ONNX ops (docs/DESIGN.md §1 "Solvers"; Walker & Ni 2011, the "type-II" form torchdeq
 * and jaxopt use), registered as the solver `anderson` (./registry.ts).
 *
 * Derivation. With the residual G(x) = F(x) − x, plain iteration steps
 * x_{k+1} = x_k + G(x_k). Anderson keeps the last m differences
 * Δx_i = x_{i+1} − x_i and Δg_i = G(x_{i+1}) − G(x_i) (columns of ΔX, ΔG) and
 * picks the combination of past steps whose linearised residual is smallest:
 *   γ = argmin ‖g_k − ΔG γ‖²  ⇔  (ΔGᵀΔG + λI) γ = ΔGᵀ g_k,
 *   x_{k+1} = x_k + β g_k − (ΔX + β ΔG) γ.
 * With γ = 0 (no history yet) it is plain (β = 1) or damped iteration. For a
 * linear map F(x) = Ax + b, it is GMRES on (I − A)x = b restarted every m
 * steps: the adjoint and tangent Loops, linear in w, gain the most.
 *
 * The normal equations are m×m per sample (m ≤ 8): symmetric positive
 * definite once λ > 0, so Gauss–Jordan elimination without pivoting is
 * stable, and unrolled at build time it is a few ops per column (opset 17 has
 * no linear solve). λ is relative to the mean diagonal of ΔGᵀΔG, so it
 * behaves alike at any scale; an unused history column is zero and gets γ = 0.
 *
 * The iterate after a mix is not an F output, so a sample adopts F(x_k)
 * itself (not the mix) on the step it settles (./rows.ts).
 */
import { Tensor, type Graph, type Value } from '../../ir/index.js';
import {
  add, cast, concat, constantOfShape, div, greater, matmul, mul, not, reduceSum, scalar, shapeOf, slice, squeeze, sub, transpose, unsqueeze, where,
} from '../../ops/index.js';
import type { AndersonSettings } from '../../twnn/solvers.js';
import { sampleRows } from '../settle.js';
import { mixRows, zeroHistory } from './rows.js';
import type { SolverLowering } from './solver.js';

export type { AndersonSettings } from '../../twnn/solvers.js';

/** Anderson acceleration as a solver of the settling Loop: it carries its memory's four values. */
export const andersonSolver: SolverLowering<{ kind: 'anderson' } & AndersonSettings> = {
  memoryNames: () => ['anderson.dX', 'anderson.dG', 'anderson.x_prev', 'anderson.g_prev'],
  initialMemory: (g, settings, initial) => Object.values(emptyAndersonMemory(g, sampleRows(g, initial), settings.history)),
  step: (b, settings, inputs) =>
    mixRows(b, inputs, 'anderson', (x, gk) => {
      const [dX, dG, xPrev, gPrev] = inputs.memory;
      const { next, memory } = andersonStep(b, settings, { dX, dG, xPrev, gPrev }, x, gk, inputs.first);
      return { next, memory: [memory.dX, memory.dG, memory.xPrev, memory.gPrev] };
    }),
};

/** The differences Anderson remembers, per sample: `dX`, `dG` [B, m, n]; the last `x`, `g` [B, n]. */
export interface AndersonMemory {
  dX: Value;
  dG: Value;
  xPrev: Value;
  gPrev: Value;
}

/**
 * Empty memory for iterates shaped like `x` ([B, n]).
 *
 * @example const memory = emptyAndersonMemory(g, x0, 5);
 */
export function emptyAndersonMemory(g: Graph, x: Value, history: number): AndersonMemory {
  const zeros = zeroHistory(g, x, history);
  return { dX: zeros, dG: zeros, xPrev: constantOfShape(g, shapeOf(g, x), 0, x.dtype), gPrev: constantOfShape(g, shapeOf(g, x), 0, x.dtype) };
}

/**
 * One Anderson step from iterate `x` with residual `gk = F(x) − x` (both
 * [B, n]): the next iterate and the updated memory. `first` (bool []) marks
 * the step with no previous iterate, whose difference is not recorded.
 *
 * @example const { next, memory } = andersonStep(b, settings, memory, x, sub(b, fx, x), equal(b, it.iteration, zero));
 */
export function andersonStep(
  g: Graph,
  settings: AndersonSettings,
  memory: AndersonMemory,
  x: Value,
  gk: Value,
  first: Value,
): { next: Value; memory: AndersonMemory } {
  const m = settings.history;
  const dtype = x.dtype;
  const recorded = cast(g, not(g, first), dtype);
  const newest = (d: Value) => unsqueeze(g, mul(g, d, recorded), [1]);
  // Oldest column out, newest in: [B, m, n].
  const shift = (hist: Value, d: Value) => (m === 1 ? newest(d) : concat(g, [slice(g, hist, [1], [m], [1]), newest(d)], 1));
  const dX = shift(memory.dX, sub(g, x, memory.xPrev));
  const dG = shift(memory.dG, sub(g, gk, memory.gPrev));

  const normal = matmul(g, dG, transpose(g, dG, [0, 2, 1])); // ΔGᵀΔG per sample, [B, m, m]
  const rhs = matmul(g, dG, unsqueeze(g, gk, [2])); // ΔGᵀ g_k, [B, m, 1]
  const gamma = solveRegularized(g, normal, rhs, settings.regularization);

  const undamped = settings.mixing === 1;
  const step = undamped ? gk : mul(g, gk, scalar(g, settings.mixing, dtype));
  const directions = undamped ? add(g, dX, dG) : add(g, dX, mul(g, dG, scalar(g, settings.mixing, dtype)));
  // (ΔX + βΔG) γ as γᵀ(ΔX + βΔG): [B, 1, m] × [B, m, n] keeps the big operand untransposed.
  const correction = squeeze(g, matmul(g, transpose(g, gamma, [0, 2, 1]), directions), [1]);
  const next = sub(g, add(g, x, step), correction);
  return { next, memory: { dX, dG, xPrev: x, gPrev: gk } };
}

/**
 * Solve (A + λ·mean(diag A)·I) γ = r for each sample: A [B, m, m] symmetric
 * positive semi-definite, r [B, m, 1]. Gauss–Jordan without pivoting, unrolled.
 *
 * @example const gamma = solveRegularized(g, normal, rhs, 1e-8); // [B, m, 1]
 */
export function solveRegularized(g: Graph, a: Value, r: Value, lambda: number): Value {
  const m = a.shape[1];
  if (typeof m !== 'number' || a.shape[2] !== m) throw new Error(`solveRegularized: A must be [B, m, m] with m known, got [${a.shape.join(', ')}]`);
  const dtype = a.dtype;
  const eye = g.constant(Tensor.fromNumbers(dtype, [1, m, m], Array.from({ length: m * m }, (_, i) => (i % (m + 1) === 0 ? 1 : 0))));
  const meanDiag = div(g, reduceSum(g, mul(g, a, eye), [1, 2], true), scalar(g, m, dtype));
  // An all-zero history (the first step) gets the identity, hence γ = 0. (Not a tiny floor added to the
  // shift: onnxruntime's basic graph rewrites lose a float64 constant below float32's range, giving NaN.)
  const empty = not(g, greater(g, meanDiag, scalar(g, 0, dtype)));
  const shift = where(g, empty, scalar(g, 1, dtype), mul(g, meanDiag, scalar(g, lambda, dtype)));
  let aug = concat(g, [add(g, a, mul(g, eye, shift)), r], 2); // [B, m, m+1]
  for (let k = 0; k < m; k++) {
    const row = slice(g, aug, [k], [k + 1], [1]); // [B, 1, m+1]
    const pivot = slice(g, row, [k], [k + 1], [2]); // [B, 1, 1]
    const column = slice(g, aug, [k], [k + 1], [2]); // [B, m, 1]
    const otherRows = g.constant(Tensor.fromNumbers(dtype, [1, m, 1], Array.from({ length: m }, (_, i) => (i === k ? 0 : 1))));
    aug = sub(g, aug, mul(g, mul(g, div(g, column, pivot), otherRows), row));
  }
  const diagonal = unsqueeze(g, reduceSum(g, mul(g, slice(g, aug, [0], [m], [2]), eye), [2], false), [2]);
  return div(g, slice(g, aug, [m], [m + 1], [2]), diagonal);
}
