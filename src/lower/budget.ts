/**
 * A region's budget as model.onnx inputs (src/contract/budget.ts names them):
 *
 *   tol.<region>       scalar, build dtype   per-sample tolerance τ
 *   max_iter.<region>  int64 scalar          most sweeps N, the first included
 *
 * The forward Loop runs its first sweep before the Loop, so its trip count is
 * M = N − 1, and a sample settles when r ≤ τ. Other runtimes feed whatever
 * they like, so the graph makes any feed a budget it can run:
 *
 *   N' = max(N, 2)          (the plain sweep and one check: the build's rule)
 *   τ' = τ where τ > 0, else 0   (a negative or NaN τ: only an exact fixed point settles)
 *
 * At the defaults (τ the built tol, N the built maxIter) N' = N and τ' = τ, so
 * each sample's result is exactly the constant-budget Loop's. twnn's runtime
 * refuses such feeds before they reach the graph (src/runtime/budget.ts).
 * Training graphs keep the built constants.
 */
import type { Graph, Value } from '../ir/index.js';
import { greater, less, scalar, sub, where } from '../ops/index.js';
import { budgetInputName, MIN_MAX_ITER } from '../contract/budget.js';
import type { FixedPointConfig } from '../twnn/iterator.js';

/** A region's budget as its Loop reads it. */
export interface BudgetValues {
  /** The tolerance τ' (scalar, `dtype`). */
  tol: Value;
  /** The forward Loop's trip count M = N' − 1 (int64 scalar). */
  maxTrip: Value;
}

/**
 * Declare region `config.region`'s budget inputs on `g` (the model's main
 * graph) and return what its forward Loop reads from them.
 *
 * @example const { tol, maxTrip } = budgetInputs(g, config, 'float32');
 */
export function budgetInputs(g: Graph, config: FixedPointConfig, dtype: Value['dtype']): BudgetValues {
  const tolIn = g.input(budgetInputName('tol', config.region), dtype, []);
  const maxIterIn = g.input(budgetInputName('max_iter', config.region), 'int64', []);
  const zero = scalar(g, 0, dtype);
  const tol = where(g, greater(g, tolIn, zero), tolIn, zero);
  const least = scalar(g, MIN_MAX_ITER, 'int64');
  const maxIter = where(g, less(g, maxIterIn, least), least, maxIterIn);
  return { tol, maxTrip: sub(g, maxIter, scalar(g, 1, 'int64')) };
}
