// Per-sample convergence bookkeeping of the settling loops (src/lower/settling-loop.ts):
// residual norms, settle masks, iteration counts.
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

import type { ResidualNorm } from '../twnn/iterator.js';

export type { ResidualNorm } from '../twnn/iterator.js';

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
  /** The per-sample tolerance: a built constant, or a scalar value in the residual's dtype (model.onnx's budget input, src/lower/budget.ts). */
  tol: number | Value;
  minIter: number;
  norm: ResidualNorm;
  /**
   * [B]: what `relative` divides by instead of ‖S_new‖₂: the size of a linear
   * fixed point's right-hand side (‖ḡ‖₂ for the adjoint), so its stopping rule
   * is scale-free yet does not loosen as the solution grows.
   */
  scale?: Value;
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
 * Each sample's state tensors flattened into one row: `[B, n]`.
 *
 * @example const x = sampleRows(b, sOld); // [B, n]
 */
export function sampleRows(g: Graph, vs: readonly Value[]): Value {
  const flat = vs.map((v) => (v.rank === 2 ? v : flatten(g, v, 1)));
  return flat.length === 1 ? flat[0] : concat(g, flat, 1);
}

/**
 * Per-sample Euclidean norm over all of `vs` (each `[B, ...]`): `[B]`.
 *
 * @example const gNorm = sampleNorm(g, gBar);
 */
export function sampleNorm(g: Graph, vs: readonly Value[]): Value {
  const rows = sampleRows(g, vs);
  return sqrt(g, reduceSum(g, mul(g, rows, rows), [1], false));
}

/**
 * Per-sample residual between two lists of state tensors (each `[B, ...]`).
 * `relative` divides by `scale` when given (see SettleConfig.scale), else by ‖next‖₂.
 *
 * @example const res = residualNorm(b, sNew, sOld, 'max'); // [B]
 */
export function residualNorm(g: Graph, next: readonly Value[], prev: readonly Value[], norm: ResidualNorm, scale?: Value): Value {
  const delta = sampleRows(g, next.map((v, j) => sub(g, v, prev[j])));
  switch (norm) {
    case 'max':
      return reduceMax(g, abs(g, delta), [1], false);
    case 'rms':
      return sqrt(g, reduceMean(g, mul(g, delta, delta), [1], false));
    case 'relative': {
      const size = scale ?? sampleNorm(g, next);
      // A zero size divides by 1 instead (the step is then 0 for a linear fixed point: it settles at once).
      // Not `size + tiny`: onnxruntime's basic graph rewrites lose a float64 constant below float32's range (NaN).
      const zero = scalar(g, 0, size.dtype);
      const safe = where(g, greater(g, size, zero), size, scalar(g, 1, size.dtype));
      return div(g, sqrt(g, reduceSum(g, mul(g, delta, delta), [1], false)), safe);
    }
  }
}

/** One step's verdict per sample, from its residual. */
export interface Verdict {
  /** bool [B]: active and its residual meets tol (after minIter steps): it settles on this step's candidate. */
  settles: Value;
  /** bool [B]: active with a finite residual: takes a new state this step. */
  adopt: Value;
  /** The bookkeeping after this step. */
  next: SettleState;
  /** bool [B]: still iterating after this step (not next.done). */
  goesOn: Value;
}

/**
 * Judge one step of every sample from its residual `res` ([B]): count the step,
 * settle the samples that meet `tol` (after `minIter` steps), stop those whose
 * residual is non-finite. Samples already done stay as they were.
 *
 * @example const v = judge(b, cfg, state, residualNorm(b, next, prev, cfg.norm));
 */
export function judge(g: Graph, config: SettleConfig, state: SettleState, res: Value): Verdict {
  const dtype = res.dtype;
  const active = not(g, state.done);
  const isFinite = less(g, res, g.constant(Tensor.scalar(Infinity, dtype)));
  // NaN compares false, so a NaN residual counts as "not above tol" and stops too.
  const converged = not(g, greater(g, res, tolValue(g, config.tol, dtype)));
  const iters = add(g, state.iters, cast(g, active, 'int64'));
  const mayStop = config.minIter > 1 ? and(g, converged, not(g, less(g, iters, scalar(g, config.minIter, 'int64')))) : converged;
  const done = or(g, state.done, or(g, mayStop, not(g, isFinite)));
  return {
    settles: and(g, active, and(g, mayStop, isFinite)),
    adopt: and(g, active, isFinite),
    next: { done, iters, residual: where(g, active, res, state.residual) },
    goesOn: not(g, done),
  };
}

/**
 * `judge` for a step that sweeps only the rows still iterating (eager
 * compaction, src/lower/settling-loop.ts): every row is active, so the masks
 * that keep settled samples out of the count and the state drop out (and the
 * rows' `done` and last residual are not even read): half the ops.
 *
 * @example const v = judgeActiveRows(b, cfg, take(iters), res);
 */
export function judgeActiveRows(g: Graph, config: SettleConfig, itersBefore: Value, res: Value): Verdict {
  const dtype = res.dtype;
  const isFinite = less(g, res, g.constant(Tensor.scalar(Infinity, dtype)));
  const iters = add(g, itersBefore, scalar(g, 1, 'int64'));
  // Goes on: finite and above tol (NaN compares false: it stops), or short of minIter.
  let goesOn = and(g, greater(g, res, tolValue(g, config.tol, dtype)), isFinite);
  if (config.minIter > 1) goesOn = or(g, goesOn, and(g, isFinite, less(g, iters, scalar(g, config.minIter, 'int64'))));
  const done = not(g, goesOn);
  return { settles: and(g, done, isFinite), adopt: isFinite, next: { done, iters, residual: res }, goesOn };
}

/**
 * int64 []: how many of `mask` (bool [B]) hold.
 *
 * @example const left = countOf(b, verdict.goesOn);
 */
export function countOf(g: Graph, mask: Value): Value {
  return reduceSum(g, cast(g, mask, 'int64'), [], false);
}

/**
 * bool []: whether any of `mask` (bool [B]) holds.
 *
 * @example cond: anyOf(b, verdict.goesOn)
 */
export function anyOf(g: Graph, mask: Value): Value {
  return greater(g, reduceMax(g, cast(g, mask, 'int64'), [], false), scalar(g, 0, 'int64'));
}

/**
 * Per sample: `candidate` where `mask` holds, else `old`.
 *
 * @example const s = pick(b, verdict.adopt, sNew, sOld);
 */
export function pick(g: Graph, mask: Value, candidate: Value, old: Value): Value {
  return where(g, batchMask(g, mask, candidate), candidate, old);
}

/**
 * bool [B]: samples that stopped without settling: a finite residual above `tol`
 * (they ran out of steps).
 *
 * @example const unsettled = unsettledMask(g, residual, 1e-3);
 */
export function unsettledMask(g: Graph, residual: Value, tol: number | Value): Value {
  const dtype = residual.dtype;
  return and(g, greater(g, residual, tolValue(g, tol, dtype)), less(g, residual, g.constant(Tensor.scalar(Infinity, dtype))));
}

/** A tolerance as a scalar of `dtype`: a built constant, or the budget input it already is. */
function tolValue(g: Graph, tol: number | Value, dtype: Value['dtype']): Value {
  return typeof tol === 'number' ? scalar(g, tol, dtype) : tol;
}

/**
 * A [B] mask shaped to broadcast over `like` ([B, ...]).
 *
 * @example where(g, batchMask(g, settled, s), sOld, sNew)
 */
export function batchMask(g: Graph, mask: Value, like: Value): Value {
  if (like.rank === 1) return mask;
  // One Unsqueeze per mask, graph and rank: a step picks every state, rider and best iterate with the same masks.
  const byRank = unsqueezed.get(mask) ?? new Map<string, Value>();
  unsqueezed.set(mask, byRank);
  const key = `${g.name}:${like.rank}`;
  let shaped = byRank.get(key);
  if (!shaped || shaped.graph !== g) byRank.set(key, (shaped = unsqueeze(g, mask, [...Array(like.rank - 1).keys()].map((i) => i + 1))));
  return shaped;
}

const unsqueezed = new WeakMap<Value, Map<string, Value>>();
