// Per-sample convergence bookkeeping shared by the forward fixed-point Loop and
// its adjoint: residual norms, settle masks, iteration counts.
//
// A sample whose residual is <= tol is frozen (where(settled, S_old, S_new)), so
// each sample gets its own fixed point and iteration count, independent of its
// batch mates. A non-finite residual stops that sample too, keeping its last
// finite state and reporting the non-finite residual (the runtime turns it
// into an error): never a silent NaN prediction.
import { Tensor, type Graph, type Value } from '../ir/index.js';
import {
  abs, add, and, cast, concat, constantOfShape, div, flatten, greater, less, mul, not, or,
  reduceMax, reduceMean, reduceSum, scalar, shapeOf, sqrt, sub, unsqueeze, where,
} from '../ops/index.js';

/** How a sample's residual is measured over all of its state tensors. */
export type ResidualNorm = 'max' | 'rms' | 'relative';

/** The carried bookkeeping of a convergence loop, per sample [B]. */
export interface SettleState {
  /** bool [B]: settled (or stopped on a non-finite residual). */
  done: Value;
  /** int64 [B]: sweeps (or adjoint steps) counted so far. */
  iters: Value;
  /** [B]: the residual of the sample's last counted step. */
  residual: Value;
}

export interface SettleConfig {
  tol: number;
  minIter: number;
  norm: ResidualNorm;
}

/**
 * Initial bookkeeping for a batch shaped like `like` (batch first): nothing
 * settled, `iters` counted from `startIters`, residual +∞ until measured.
 *
 * @example const state = initialSettleState(g, first.output, 1);
 */
export function initialSettleState(g: Graph, like: Value, startIters: number): SettleState {
  const batch = shapeOf(g, like, 0, 1);
  return {
    done: constantOfShape(g, batch, 0, 'bool'),
    iters: constantOfShape(g, batch, startIters, 'int64'),
    residual: constantOfShape(g, batch, Infinity, like.dtype),
  };
}

/**
 * Per-sample residual between two lists of state tensors (each `[B, ...]`).
 *
 * @example const res = residualNorm(b, sNew, sOld, 'max'); // [B]
 */
export function residualNorm(g: Graph, next: readonly Value[], prev: readonly Value[], norm: ResidualNorm): Value {
  const rows = (vs: readonly Value[]) => {
    const flat = vs.map((v) => (v.rank === 2 ? v : flatten(g, v, 1)));
    return flat.length === 1 ? flat[0] : concat(g, flat, 1);
  };
  const delta = rows(next.map((v, j) => sub(g, v, prev[j])));
  switch (norm) {
    case 'max':
      return reduceMax(g, abs(g, delta), [1], false);
    case 'rms':
      return sqrt(g, reduceMean(g, mul(g, delta, delta), [1], false));
    case 'relative': {
      const to = rows(next);
      const tiny = scalar(g, delta.dtype === 'float64' ? 1e-300 : 1e-30, delta.dtype);
      return div(g, sqrt(g, reduceSum(g, mul(g, delta, delta), [1], false)), add(g, sqrt(g, reduceSum(g, mul(g, to, to), [1], false)), tiny));
    }
  }
}

/** What one settle step returns: the states to carry on, new bookkeeping, and whether any sample is still active. */
export interface SettleStep extends SettleState {
  states: Value[];
  /** The `carry` values, masked like the states. */
  carried: Value[];
  /** bool []: some sample is still iterating. */
  cond: Value;
  /** bool [B]: samples that took their candidate state this step (active, finite residual). */
  adopted: Value;
}

/**
 * One convergence step: adopt each active sample's candidate state unless its
 * residual is non-finite, count the step, and settle the samples that meet
 * `tol` (after `minIter` steps). `carry` pairs (old, candidate) ride along
 * with the same mask without entering the residual (the region output).
 *
 * @example const st = settleStep(b, cfg, state, sOld, sCand);
 */
export function settleStep(
  g: Graph,
  config: SettleConfig,
  state: SettleState,
  prev: readonly Value[],
  next: readonly Value[],
  carry: readonly [old: Value, candidate: Value][] = [],
): SettleStep {
  const dtype = next[0].dtype;
  const res = residualNorm(g, next, prev, config.norm);
  const active = not(g, state.done);
  const isFinite = less(g, res, g.constant(Tensor.scalar(Infinity, dtype)));
  // NaN compares false, so a NaN residual counts as "not above tol" and stops too.
  const converged = not(g, greater(g, res, scalar(g, config.tol, dtype)));
  const iters = add(g, state.iters, cast(g, active, 'int64'));
  const mayStop = config.minIter > 1 ? and(g, converged, not(g, less(g, iters, scalar(g, config.minIter, 'int64')))) : converged;
  const done = or(g, state.done, or(g, mayStop, not(g, isFinite)));
  const adopt = and(g, active, isFinite);
  const pick = (candidate: Value, old: Value) => where(g, batchMask(g, adopt, candidate), candidate, old);
  return {
    states: next.map((c, j) => pick(c, prev[j])),
    done,
    iters,
    residual: where(g, active, res, state.residual),
    cond: greater(g, reduceMax(g, cast(g, not(g, done), 'int64'), [], false), scalar(g, 0, 'int64')),
    carried: carry.map(([old, candidate]) => pick(candidate, old)),
    adopted: adopt,
  };
}

/**
 * A [B] mask shaped to broadcast over `like` ([B, ...]).
 *
 * @example where(g, batchMask(g, settled, s), sOld, sNew)
 */
export function batchMask(g: Graph, mask: Value, like: Value): Value {
  return like.rank === 1 ? mask : unsqueeze(g, mask, [...Array(like.rank - 1).keys()].map((i) => i + 1));
}
