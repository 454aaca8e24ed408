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
 *       = x̂ where it settles, else the solver's next iterate  (Anderson, Broyden: src/lower/solvers/)
 *
 * With active sweeps (the default) each step gathers the samples still
 * iterating, sweeps only them and writes them back; with lazy compaction
 * (`compactBelow` < 1) the steps run on a working set of them, gathered once
 * and swept until fewer than that fraction of its rows still iterate
 * (`workingSetLoop`), the settled rows inside it frozen exactly as in the
 * dense form.
 *
 * On the way out, a sample that never settled (finite r > tol after
 * maxTrip) returns its best iterate — the candidate with the lowest residual
 * it saw — when `keepBest` asks for it. The Loop is named after its region
 * and role and carries its configuration on the node (Node.loopConfig), so
 * every export and every copy (train_steps.onnx) keeps both.
 */
import { Tensor, type Graph, type Node, type Value } from '../ir/index.js';
import { add, and, cast, equal, less, loop, mul, not, scalar, sub, where } from '../ops/index.js';
import { DEFAULT_COMPACT_BELOW, type FixedPointConfig, type Solver, type SweepMode } from '../twnn/iterator.js';
import { activeRows, emitIntoBody, type ActiveRows } from './loop-body.js';
import { anyOf, countOf, initialSettleState, judge, judgeActiveRows, pick, residualNorm, sampleNorm, unsettledMask, type SettleConfig } from './settle.js';
import { solverFor, type BoundSolver } from './solvers/registry.js';

/** What a settling loop computes, which names it: `<region>/<role>`. */
export type LoopRole = 'iterate' | 'adjoint' | 'tangent';

export type { Solver, SweepMode } from '../twnn/iterator.js';

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
  /** Most steps the Loop takes: a built constant, or an int64 scalar of `g` (model.onnx's budget input, src/lower/budget.ts). */
  maxTrip: number | Value;
  settle: SettleConfig;
  /** What `iterations` counts from (the forward counts its first sweep, run before the Loop). */
  startIters: number;
  solver?: Solver;
  /** Return each unsettled sample's best iterate instead of its last. */
  keepBest?: boolean;
  /**
   * `active` (default): the steps sweep only the samples still iterating
   * (or a working set of them: `compactBelow`), so a batch costs about the
   * sum of its samples' steps;
   * `dense`: every step sweeps the whole batch and freezes the settled samples.
   * Loop invariants are hoisted either way.
   */
  sweeps?: SweepMode;
  /**
   * With active sweeps: 1 (default) gathers the rows still iterating every
   * step; below 1, the fraction of a working set's rows below which they are
   * gathered into a new one (`workingSetLoop`; 0: never after the first step).
   */
  compactBelow?: number;
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
  const solver = solverFor(spec.solver ?? { kind: 'plain' });
  const state0 = initialSettleState(g, spec.initial[0], spec.startIters);
  const best0 = spec.keepBest ? [...spec.initial, ...riders0, state0.residual] : [];
  const memory0 = solver.initialMemory(g, spec.initial);
  const nBest = best0.length;
  // Carried layout: states, riders, done, iters, residual, then the best iterates, then the solver's memory.
  const bestAt = m + r + 3;
  const layout: CarriedLayout = { m, r, bestAt, nBest };
  const carried0 = [...spec.initial, ...riders0, state0.done, state0.iters, state0.residual, ...best0, ...memory0];
  const batchDim = spec.initial[0].shape[0];
  // Unrolled backprop stacks whole-batch states per step; a static batch cannot tell per-sample values from parameters.
  const compact = (spec.sweeps ?? 'active') === 'active' && !spec.scanStates && typeof batchDim === 'string';
  const compactBelow = spec.compactBelow ?? DEFAULT_COMPACT_BELOW;
  const looped = {
    name: spec.role,
    fixedName: `${spec.region.split('.').join('/')}/${spec.role}`,
    maxTrip: spec.maxTrip,
    carriedNames: carriedNames(spec, solver),
    doc: spec.doc,
  };

  let carried: Value[];
  let scans: Value[] = [];
  if (compact && compactBelow < 1) {
    carried = workingSetLoop(g, spec, solver, layout, carried0, looped, compactBelow).slice(0, carried0.length);
  } else if (compact) {
    // Eager compaction: every step gathers the rows still iterating, sweeps them, and writes them back.
    ({ carried } = loop(g, {
      ...looped,
      carried: carried0,
      body: (b, it) => {
        const rows = activeRows(b, not(b, it.carried[m + r]), batchDim);
        // Every gathered row is active: its `done` (all false) and last residual are never read.
        const unread = new Set([m + r, m + r + 2]);
        const view = it.carried.map((v, j) => (unread.has(j) ? v : rows.take(v)));
        const first = equal(b, it.iteration, b.constant(Tensor.scalar(0, 'int64')));
        const step = settleStep(b, spec, solver, layout, { view, standIns: it.carried, first, hoistTo: g, rows });
        return { cond: anyOf(b, step.verdict.goesOn), carried: step.updated.map((v, j) => rows.put(it.carried[j], v)) };
      },
    }));
  } else {
    ({ carried, scans } = loop(g, {
      ...looped,
      carried: carried0,
      ...(spec.scanStates ? { scanNames: [...stateNamesOf(spec).map((n) => `${n}.before`), 'took_step', ...(spec.keepBest ? ['improved'] : [])] } : {}),
      body: (b, it) => {
        const first = equal(b, it.iteration, b.constant(Tensor.scalar(0, 'int64')));
        const step = settleStep(b, spec, solver, layout, { view: it.carried, standIns: it.carried, first, hoistTo: g });
        return { cond: anyOf(b, step.verdict.goesOn), carried: step.updated, ...(spec.scanStates ? { scans: step.scans } : {}) };
      },
    }));
  }
  const node = carried[0].source.kind === 'node' ? carried[0].source.node : undefined;
  if (!node) throw new Error(`settling loop '${spec.region}/${spec.role}' has no Loop node`);
  node.loopConfig = { role: spec.role, region: spec.region, ...spec.config, sweeps: compact ? 'active' : 'dense', ...(compact ? { compactBelow } : {}) };

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

/** Where each part of the carried values sits (see `settlingLoop`). */
interface CarriedLayout {
  m: number;
  r: number;
  bestAt: number;
  nBest: number;
}

/**
 * Lazy compaction: the settling loop as a Loop over working sets. Each outer
 * step gathers the rows of the samples still iterating (the working set,
 * with the per-sample values the map reads from outside), then an inner Loop
 * (`<region>/<role>/working_set`) sweeps the working set densely, freezing
 * the rows that settle in it, until fewer than `compactBelow` of its rows are
 * still iterating (or none are, or the steps run out); the outer step then
 * writes the working set back and compacts again. A batch whose samples
 * settle at spread-out steps is compacted O(log B) times, not once per step,
 * and a step costs no Gather or ScatterND: only its map, on at most twice the
 * rows still iterating (with the default ½). Each row of the working set is
 * judged, frozen and counted exactly as in the dense form, so each sample's
 * result is its batch-of-1 result.
 *
 * Returns the outer Loop's outputs: the carried values, then the step count.
 */
function workingSetLoop(
  g: Graph,
  spec: SettlingLoopSpec,
  solver: BoundSolver,
  layout: CarriedLayout,
  carried0: readonly Value[],
  looped: { name: string; fixedName: string; maxTrip: number | Value; carriedNames: string[]; doc: string },
  compactBelow: number,
): Value[] {
  const n = carried0.length;
  const batchDim = spec.initial[0].shape[0];
  const int64 = (v: number) => g.constant(Tensor.scalar(v, 'int64'));
  // A built trip count stays a constant at each use (as before budgets were inputs); an input is read where it is.
  const maxTrip = () => (typeof looped.maxTrip === 'number' ? int64(looped.maxTrip) : looped.maxTrip);
  const { carried } = loop(g, {
    ...looped,
    carried: [...carried0, int64(0)],
    carriedNames: [...looped.carriedNames, 'steps'],
    body: (level, it) => {
      const full = it.carried.slice(0, n);
      const stepsBefore = it.carried[n];
      const active = not(level, full[layout.m + layout.r]);
      const rows = activeRows(level, active, batchDim);
      // Keep sweeping the working set while at least compactBelow of its rows (and at least one) still iterate.
      const size = cast(level, countOf(level, active), 'float32');
      const wanted = mul(level, size, scalar(level, compactBelow, 'float32'));
      const one = scalar(level, 1, 'float32');
      const keepAt = where(level, less(level, wanted, one), one, wanted);
      const inner = loop(level, {
        name: 'working_set',
        fixedName: `${looped.fixedName}/working_set`,
        maxTrip: sub(level, maxTrip(), stepsBefore),
        carried: [...full.map((v) => rows.take(v)), stepsBefore],
        carriedNames: [...looped.carriedNames, 'steps'],
        doc: `the sweeps of one working set of ${looped.fixedName}: its rows still iterating, gathered when fewer than ${compactBelow} of the last set's were`,
        body: (b, jt) => {
          const stepsIn = jt.carried[n];
          const first = equal(b, stepsIn, int64(0));
          const step = settleStep(b, spec, solver, layout, { view: jt.carried.slice(0, n), standIns: full, first, hoistTo: g, rows });
          const left = cast(b, countOf(b, step.verdict.goesOn), 'float32');
          return { cond: not(b, less(b, left, keepAt)), carried: [...step.updated, add(b, stepsIn, int64(1))] };
        },
      });
      // Described like every twnn Loop: which settling loop's working sets it sweeps.
      producerOf(inner.carried[0]).loopConfig = { role: 'working_set', region: spec.region, loop: spec.role, compactBelow };
      const working = inner.carried.slice(0, n);
      const stepsAfter = inner.carried[n];
      const goesOn = and(level, anyOf(level, not(level, working[layout.m + layout.r])), less(level, stepsAfter, maxTrip()));
      return { cond: goesOn, carried: [...working.map((v, j) => rows.put(full[j], v)), stepsAfter] };
    },
  });
  return carried;
}

/**
 * The node that produced `v` (a Loop output).
 *
 * @example producerOf(carried[0]).loopConfig = { role: 'phantom', region };
 */
export function producerOf(v: Value): Node {
  if (v.source.kind !== 'node') throw new Error(`value '${v.name}' has no producing node`);
  return v.source.node;
}

/** One step of a settling loop, on the rows of `view` (the whole batch, or a working set). */
interface StepInputs {
  /** The carried values this step reads (see CarriedLayout). */
  view: readonly Value[];
  /** Whole-batch values standing for `view` while the map is emitted (shapes agree with outer values); `view` replaces them in the copies. */
  standIns: readonly Value[];
  /** bool []: the loop's first step (the solver's memory is empty). */
  first: Value;
  /** Where loop invariants go: the graph holding the (outermost) Loop. */
  hoistTo: Graph;
  /** With a working set: how per-sample outer values are taken for its rows. */
  rows?: ActiveRows;
}

/**
 * x̂ = map(x), its residual and verdict, the solver's move, and the carried
 * values after the step: settled and stopped rows keep theirs (src/lower/settle.ts).
 */
function settleStep(b: Graph, spec: SettlingLoopSpec, solver: BoundSolver, layout: CarriedLayout, inputs: StepInputs) {
  const { m, r, bestAt, nBest } = layout;
  const { view, standIns, first, hoistTo, rows } = inputs;
  const sOld = view.slice(0, m);
  const ridersOld = view.slice(m, m + r);
  const [done, iters, residual] = view.slice(m + r, m + r + 3);
  const bestOld = view.slice(bestAt, bestAt + nBest);
  const memoryOld = view.slice(bestAt + nBest);
  const emitted = emitIntoBody(
    b,
    (scratch) => {
      const mapped = spec.map(scratch, standIns.slice(0, m));
      return [...mapped.next, ...(mapped.riders ?? [])];
    },
    { rows, hoistTo, substitute: new Map(standIns.slice(0, m).map((v, j) => [v, sOld[j]])), hoist: spec.hoistInvariants ?? true },
  );
  const next = emitted.slice(0, m);
  const ridersNew = emitted.slice(m, m + r);
  const scale = spec.settle.scale && rows ? rows.take(spec.settle.scale) : spec.settle.scale;
  const res = residualNorm(b, next, sOld, spec.settle.norm, scale);
  // Eagerly compacted rows are all active (their body gathered them itself).
  const verdict = rows?.graph === b ? judgeActiveRows(b, spec.settle, iters, res) : judge(b, spec.settle, { done, iters, residual }, res);

  const { candidates, memory } = solver.step(b, { sOld, next, settles: verdict.settles, first, memory: memoryOld });
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
  return {
    verdict,
    updated: [...states, ...riders, bookkeeping.done, bookkeeping.iters, bookkeeping.residual, ...best, ...memory],
    scans: [...sOld, verdict.adopt, ...(improved ? [improved] : [])],
  };
}

function stateNamesOf(spec: SettlingLoopSpec): readonly string[] {
  return spec.stateNames ?? spec.initial.map((_, j) => `state${j}`);
}

/** The carried values' names, in the carried layout (see `settlingLoop`). */
function carriedNames(spec: SettlingLoopSpec, solver: BoundSolver): string[] {
  const states = stateNamesOf(spec);
  const riders = (spec.riders ?? []).map((_, j) => (j === 0 ? 'output' : `output${j}`));
  const best = spec.keepBest ? [...states, ...riders, 'residual'].map((n) => `best.${n}`) : [];
  return [...states, ...riders, 'done', 'iters', 'residual', ...best, ...solver.memoryNames()];
}

/** What the linear fixed points of a region's backward settings share, as settlingLoop fields. */
export type LinearLoopSettings = Pick<SettlingLoopSpec, 'maxTrip' | 'settle' | 'startIters' | 'solver' | 'sweeps' | 'compactBelow' | 'hoistInvariants'> & {
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
    compactBelow: config.compactBelow,
    hoistInvariants: config.hoistInvariants,
    stop: `tol ${config.backwardTol} (${relative ? `relative to |${names.rhs}|` : config.backwardNorm}), maxIter ${config.backwardMaxIter}, ${config.backwardSolver.kind} iteration`,
  };
}
