/**
 * What a forward fixed-point solver is to the settling Loop
 * (src/lower/settling-loop.ts): the per-sample state it carries through the
 * Loop besides the iterate, how that state starts, and one step from the
 * iterate x and the sweep's output F(x) to the next iterate. The Loop owns
 * everything else: the residual, who settles, freezing settled samples,
 * active-row gathering, the best iterate. So a solver never sees the batch
 * as a whole: every value it carries is [B, ...] and is gathered, frozen and
 * written back row by row like the states, which keeps each sample's result
 * its batch-of-1 result.
 *
 * Solvers are registered by kind in ./registry.ts; their settings and
 * checks, the model-side half, live in src/twnn/solvers.ts.
 */
import type { Graph, Value } from '../../ir/index.js';
import type { Solver } from '../../twnn/solvers.js';

/** What one step of a solver reads (every value per sample, [B, ...]). */
export interface SolverStepInputs {
  /** The iterate x: the step's input states. */
  sOld: readonly Value[];
  /** The sweep's output F(x), one per state. */
  next: readonly Value[];
  /** bool [B]: samples that settle at this step (F(x) is within tol of x). */
  settles: Value;
  /** bool []: the Loop's first step (nothing remembered yet). */
  first: Value;
  /** The solver's carried values at the step's start (`memoryNames`' order). */
  memory: readonly Value[];
}

/** One step's result: the candidate next iterate (per state) and the carried values after it. */
export interface SolverStepResult {
  candidates: Value[];
  memory: Value[];
}

/**
 * A fixed-point solver's lowering, for the settings `S` of one kind. The
 * settling Loop adopts `candidates` for the samples still iterating.
 */
export interface SolverLowering<S extends Solver = Solver> {
  /** Names of the values it carries through the Loop, after the Loop's own (`anderson.dX`, ...); empty for none. */
  memoryNames(settings: S): readonly string[];
  /** Its carried values at the start, emitted into `g` (the graph holding the Loop) for the initial states. */
  initialMemory(g: Graph, settings: S, initial: readonly Value[]): Value[];
  /** One step, emitted into the Loop body `b`. */
  step(b: Graph, settings: S, inputs: SolverStepInputs): SolverStepResult;
  /**
   * Its iterates are the sweeps' own outputs, so backward 'unrolled' can
   * replay them as plain sweeps (only plain iteration).
   */
  stepsAreSweeps?: boolean;
}
