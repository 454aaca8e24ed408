/**
 * The one settling loop behind every fixed-point `Loop` twnn emits: a
 * region's forward iteration (`region1/iterate`, also with the states kept
 * for unrolled backprop), its adjoint (`region1/adjoint`) and its tangent
 * (`region1/tangent`). Each is x ← map(x) until every sample settles:
 *
 *   for t = 1 .. maxTrip, while some sample is active:
 *     x̂ = map(x)                          (candidate; riders ride along)
 *     r = residual(x̂, x)                  (per sample: max, rms or relative)
 *     settles: r <= tol (after minIter)  stops: settles, or r non-finite
 *     x = x̂ where the sample is active and r is finite       (plain iteration)
 *       = x̂ where it settles, else the Anderson mix           (Anderson)
 *
 * and on the way out, a sample that never settled (finite r > tol after
 * maxTrip) returns its best iterate — the candidate with the lowest residual
 * it saw — when `keepBest` asks for it. The Loop is named after its region
 * and role and carries its configuration on the node (Node.loopConfig), so
 * every export and every copy (train_steps.onnx) keeps both.
 */
import { formatShape, SpecError, Tensor, type Graph, type Node, type Value } from '../ir/index.js';
import { and, equal, less, loop, not, reshapeLike, slice, sub, where } from '../ops/index.js';
import type { FixedPointConfig, Solver, SweepMode } from '../twnn/iterator.js';
import { andersonStep, emptyAndersonMemory } from './anderson.js';
import { activeRows, emitIntoBody } from './loop-body.js';
import { initialSettleState, judge, judgeActiveRows, pick, residualNorm, sampleNorm, sampleRows, unsettledMask, type SettleConfig } from './settle.js';

/** What a settling loop computes, which names it: `<region>/<role>`. */
export type LoopRole = 'iterate' | 'adjoint' | 'tangent';

export type { Solver, SweepMode } from '../twnn/iterator.js';

/**
 * A solver as metadata: `{ solver: 'plain' }` or `{ solver: 'anderson', history, mixing, regularization }`.
 *
 * @example solverFields({ kind: 'anderson', history: 5, mixing: 1, regularization: 1e-8 })
 */
export function solverFields(s: Solver, prefix = ''): Record<string, unknown> {
  const key = (k: string) => (prefix ? `${prefix}${k[0].toUpperCase()}${k.slice(1)}` : k);
  if (s.kind === 'plain') return { [key('solver')]: 'plain' };
  return { [key('solver')]: 'anderson', [key('history')]: s.history, [key('mixing')]: s.mixing, [key('regularization')]: s.regularization };
}

export interface SettlingLoopSpec {
  /** Dot-scoped region name (`region1`, `net.region2`). */
  region: string;
  role: LoopRole;
  /** The states at the start, each [B, ...]. */
  initial: readonly Value[];
  /** What each state is (`B2.h`, `w.B2.h`): the body's inputs and outputs are named after it (default `state<j>`). */
  stateNames?: readonly string[];
  /** One application of the map whose fixed point is sought, emitted into the body `b`; riders are values that follow the candidate (the region output). */
  map: (b: Graph, states: readonly Value[]) => { next: readonly Value[]; riders?: readonly Value[] };
  /** Initial rider values, one per rider `map` returns. */
  riders?: readonly Value[];
  /** Most steps the Loop takes. */
  maxTrip: number;
  settle: SettleConfig;
  /** What `iterations` counts from (the forward counts its first sweep, run before the Loop). */
  startIters: number;
  solver?: Solver;
  /** Return each unsettled sample's best iterate instead of its last. */
  keepBest?: boolean;
  /**
   * `active` (default): each step sweeps only the samples still iterating
   * (src/lower/loop-body.ts), so a batch costs the sum of its samples' steps;
   * `dense`: every step sweeps the whole batch and freezes the settled samples.
   * Loop invariants are hoisted either way.
   */
  sweeps?: SweepMode;
  /** Move loop invariants out of the body (default true; false only to measure what hoisting saves). */
  hoistInvariants?: boolean;
  /** Stack each step's input states and the per-sample "took the step" mask as scan outputs (unrolled backprop). */
  scanStates?: boolean;
  /** Configuration for metadata_props, after `role` and `region`. */
  config: Readonly<Record<string, unknown>>;
  doc: string;
}

export interface SettledLoop {
  /** Final states: settled fixed points, best (or last) iterates of unsettled samples. */
  states: Value[];
  riders: Value[];
  /** int64 [B]: steps per sample (from `startIters`). */
  iterations: Value;
  /** [B]: each sample's residual (of its best iterate, when returned). */
  residual: Value;
  /** bool [B]: samples that ran out of steps with a finite residual above tol. */
  unsettled: Value;
  /**
   * With `scanStates`: stacked [T, B, ...] per step, its input states, the
   * "took the step" mask, and (with `keepBest`) the "improved on the best" mask.
   */
  scans: Value[];
  /**
   * For each state j, the Loop outputs that hold it: its last value and, with
   * `keepBest`, its best. A VJP rule of the Loop sums their cotangents.
   */
  stateOutputs: number[][];
  node: Node;
}

/**
 * Emit a settling loop into `g` (see the head of this file).
 *
 * @example
 * const adj = settlingLoop(g, {
 *   region: 'region1', role: 'adjoint', initial: gBar, maxTrip: 300, startIters: 0,
 *   settle: { tol: 1e-3, minIter: 1, norm: 'relative', scale: sampleNorm(g, gBar) },
 *   map: (b, w) => ({ next: step(b, w) }), config: { tol: 1e-3 }, doc: 'adjoint',
 * });
 */
export function settlingLoop(g: Graph, spec: SettlingLoopSpec): SettledLoop {
  const m = spec.initial.length;
  const riders0 = spec.riders ?? [];
  const r = riders0.length;
  const solver = spec.solver ?? { kind: 'plain' };
  const state0 = initialSettleState(g, spec.initial[0], spec.startIters);
  const best0 = spec.keepBest ? [...spec.initial, ...riders0, state0.residual] : [];
  const memory0 = solver.kind === 'anderson' ? Object.values(emptyAndersonMemory(g, sampleRows(g, spec.initial), solver.history)) : [];
  const nBest = best0.length;
  // Carried layout: states, riders, done, iters, residual, then the best iterates, then Anderson's memory.
  const bestAt = m + r + 3;
  const batchDim = spec.initial[0].shape[0];
  // Unrolled backprop stacks whole-batch states per step; a static batch cannot tell per-sample values from parameters.
  const compact = (spec.sweeps ?? 'active') === 'active' && !spec.scanStates && typeof batchDim === 'string';

  const { carried, scans } = loop(g, {
    name: spec.role,
    fixedName: `${spec.region.split('.').join('/')}/${spec.role}`,
    maxTrip: spec.maxTrip,
    carried: [...spec.initial, ...riders0, state0.done, state0.iters, state0.residual, ...best0, ...memory0],
    carriedNames: carriedNames(spec, solver),
    ...(spec.scanStates ? { scanNames: [...stateNamesOf(spec).map((n) => `${n}.before`), 'took_step', ...(spec.keepBest ? ['improved'] : [])] } : {}),
    doc: spec.doc,
    body: (b, it) => {
      // With active rows, the body works on the rows of the samples still iterating and writes them back at the end.
      const rows = compact ? activeRows(b, not(b, it.carried[m + r]), batchDim) : undefined;
      // The active rows' `done` (all false) and last residual are never read.
      const unread = new Set([m + r, m + r + 2]);
      const view = rows ? it.carried.map((v, j) => (unread.has(j) ? v : rows.take(v))) : it.carried;
      const sOld = view.slice(0, m);
      const ridersOld = view.slice(m, m + r);
      const [done, iters, residual] = view.slice(m + r, m + r + 3);
      const bestOld = view.slice(bestAt, bestAt + nBest);
      const memoryOld = view.slice(bestAt + nBest);
      const emitted = emitIntoBody(
        b,
        (scratch) => {
          const mapped = spec.map(scratch, it.carried.slice(0, m));
          return [...mapped.next, ...(mapped.riders ?? [])];
        },
        { rows, substitute: new Map(it.carried.slice(0, m).map((v, j) => [v, sOld[j]])), hoist: spec.hoistInvariants ?? true },
      );
      const next = emitted.slice(0, m);
      const ridersNew = emitted.slice(m, m + r);
      const scale = spec.settle.scale && rows ? rows.take(spec.settle.scale) : spec.settle.scale;
      const res = residualNorm(b, next, sOld, spec.settle.norm, scale);
      const verdict = rows ? judgeActiveRows(b, spec.settle, iters, res) : judge(b, spec.settle, { done, iters, residual }, res);

      let candidates = next;
      let memory: Value[] = [];
      if (solver.kind === 'anderson') {
        const x = sampleRows(b, sOld);
        const first = equal(b, it.iteration, b.constant(Tensor.scalar(0, 'int64')));
        const [dX, dG, xPrev, gPrev] = memoryOld;
        const step = andersonStep(b, solver, { dX, dG, xPrev, gPrev }, x, sub(b, sampleRows(b, next), x), first);
        const mix = unflatten(b, step.next, sOld);
        // A sample that settles takes the sweep's own output, not the mix (src/lower/anderson.ts).
        candidates = next.map((f, j) => pick(b, verdict.settles, f, mix[j]));
        memory = [step.memory.dX, step.memory.dG, step.memory.xPrev, step.memory.gPrev];
      }
      const states = candidates.map((c, j) => pick(b, verdict.adopt, c, sOld[j]));
      const riders = ridersNew.map((c, j) => pick(b, verdict.adopt, c, ridersOld[j]));

      let best: Value[] = [];
      let improved: Value | undefined;
      if (spec.keepBest) {
        const bestResidual = bestOld[m + r];
        improved = and(b, verdict.adopt, less(b, res, bestResidual));
        best = [...next, ...ridersNew].map((c, j) => pick(b, improved!, c, bestOld[j]));
        best.push(where(b, improved, res, bestResidual));
      }
      const { next: bookkeeping } = verdict;
      const updated = [...states, ...riders, bookkeeping.done, bookkeeping.iters, bookkeeping.residual, ...best, ...memory];
      return {
        cond: verdict.cond,
        carried: rows ? updated.map((v, j) => rows.put(it.carried[j], v)) : updated,
        ...(spec.scanStates ? { scans: [...sOld, verdict.adopt, ...(improved ? [improved] : [])] } : {}),
      };
    },
  });
  const node = carried[0].source.kind === 'node' ? carried[0].source.node : undefined;
  if (!node) throw new Error(`settling loop '${spec.region}/${spec.role}' has no Loop node`);
  node.loopConfig = { role: spec.role, region: spec.region, ...spec.config, sweeps: compact ? 'active' : 'dense' };

  let states = carried.slice(0, m);
  let riders = carried.slice(m, m + r);
  const iterations = carried[m + r + 1];
  let residual = carried[m + r + 2];
  const unsettled = unsettledMask(g, residual, spec.settle.tol);
  if (spec.keepBest) {
    const best = carried.slice(bestAt, bestAt + nBest);
    states = states.map((s, j) => pick(g, unsettled, best[j], s));
    riders = riders.map((v, j) => pick(g, unsettled, best[m + j], v));
    residual = where(g, unsettled, best[m + r], residual);
  }
  const stateOutputs = spec.initial.map((_, j) => (spec.keepBest ? [j, bestAt + j] : [j]));
  return { states, riders, iterations, residual, unsettled, scans, stateOutputs, node };
}

function stateNamesOf(spec: SettlingLoopSpec): readonly string[] {
  return spec.stateNames ?? spec.initial.map((_, j) => `state${j}`);
}

/** The carried values' names, in the carried layout (see `settlingLoop`). */
function carriedNames(spec: SettlingLoopSpec, solver: Solver): string[] {
  const states = stateNamesOf(spec);
  const riders = (spec.riders ?? []).map((_, j) => (j === 0 ? 'output' : `output${j}`));
  const best = spec.keepBest ? [...states, ...riders, 'residual'].map((n) => `best.${n}`) : [];
  const memory = solver.kind === 'anderson' ? ['anderson.dX', 'anderson.dG', 'anderson.x_prev', 'anderson.g_prev'] : [];
  return [...states, ...riders, 'done', 'iters', 'residual', ...best, ...memory];
}

/** What the linear fixed points of a region's backward settings share, as settlingLoop fields. */
export type LinearLoopSettings = Pick<SettlingLoopSpec, 'maxTrip' | 'settle' | 'startIters' | 'solver' | 'sweeps' | 'hoistInvariants'> & {
  stateNames?: readonly string[];
  /** The stopping rule in words, for the Loop's doc string. */
  stop: string;
};

/**
 * The settings of a linear fixed point x ← rhs + Mx that a region's backward
 * settings govern — the adjoint (M = Aᵀ, rhs = ḡ) and the tangent (M = A,
 * rhs = c): backwardTol, backwardMaxIter, backwardNorm (`relative` is to
 * ‖rhs‖₂ per sample), backwardSolver, the region's sweeps and hoisting, and
 * states named `<names.state>.<state>`.
 *
 * @example settlingLoop(g, { ...linearLoopSettings(g, config, gBar, { state: 'w', rhs: 'g' }), region, role: 'adjoint', initial: gBar, map, config: {...}, doc });
 */
export function linearLoopSettings(g: Graph, config: FixedPointConfig, rhs: readonly Value[], names: { state: string; rhs: string }): LinearLoopSettings {
  const relative = config.backwardNorm === 'relative';
  return {
    ...(config.stateNames ? { stateNames: config.stateNames.map((n) => `${names.state}.${n}`) } : {}),
    maxTrip: config.backwardMaxIter,
    settle: { tol: config.backwardTol, minIter: 1, norm: config.backwardNorm, ...(relative ? { scale: sampleNorm(g, rhs) } : {}) },
    startIters: 0,
    solver: config.backwardSolver,
    sweeps: config.sweeps,
    hoistInvariants: config.hoistInvariants,
    stop: `tol ${config.backwardTol} (${relative ? `relative to |${names.rhs}|` : config.backwardNorm}), maxIter ${config.backwardMaxIter}, ${config.backwardSolver.kind} iteration`,
  };
}

/** Split rows [B, n] back into tensors shaped like `like` (each [B, ...]). */
function unflatten(g: Graph, rows: Value, like: readonly Value[]): Value[] {
  if (like.length === 1) return [reshapeLike(g, rows, like[0])];
  let at = 0;
  return like.map((v) => {
    const dims = v.shape.slice(1);
    if (!dims.every((d): d is number => typeof d === 'number')) throw new SpecError(`anderson: state '${v.name}' has run-time dims ${formatShape(v.shape)} past the batch`);
    const size = dims.reduce((a, d) => a * d, 1);
    const part = slice(g, rows, [at], [at + size], [1]);
    at += size;
    return reshapeLike(g, part, v);
  });
}
