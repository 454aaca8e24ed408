// The forward (and adjoint) fixed-point solvers a region can name, as plain
// descriptions: each solver's settings, the region options they are read
// from, their defaults and their checks. This is the one list of solver
// kinds on the model side; src/lower/solvers/ holds how each one steps inside
// the settling Loop, in a registry keyed by the same kinds, so the compiler
// refuses a kind that has a description here and no lowering there (or the
// reverse). src/twnn imports nothing from src/lower.
import { SpecError } from '../ir/index.js';
import type { KeysOf } from './options.js';
import { finite, positiveInt } from './validate.js';

/** Anderson's settings, resolved. */
export interface AndersonSettings {
  /** m: how many past steps the least-squares problem combines (1..8). */
  history: number;
  /** β: the step along the residual (1: undamped). */
  mixing: number;
  /** λ, relative to the mean diagonal of ΔGᵀΔG. */
  regularization: number;
}

/** Limited-memory Broyden's settings, resolved. */
export interface BroydenSettings {
  /** m: how many rank-one updates of the inverse Jacobian it keeps (1..64); the oldest goes first. */
  history: number;
}

/**
 * How each step moves: plain iteration (the paper's), Anderson acceleration,
 * or limited-memory Broyden. Add a solver here, in `SOLVER_SETTINGS` below,
 * and in src/lower/solvers/registry.ts.
 */
export type Solver = { kind: 'plain' } | ({ kind: 'anderson' } & AndersonSettings) | ({ kind: 'broyden' } & BroydenSettings);

/** A solver's name, as a region's `iterate.solver` and `backwardSolver` spell it. */
export type SolverKind = Solver['kind'];

/** The solver settings of a region's `iterate` options (shared by the forward and backward solver). */
export interface SolverOptions {
  /** Anderson: how many past steps it combines (default 5, at most 8). Broyden: how many rank-one updates it keeps (default 8, at most 64). */
  history?: number;
  /** Anderson: β, the step along the residual (default 1). */
  mixing?: number;
  /** Anderson: λ of the regularised least squares, relative to its mean diagonal (default 1e-6). */
  regularization?: number;
}

/** Every key of SolverOptions (a region's `iterate` accepts them). */
export const SOLVER_OPTION_KEYS: KeysOf<SolverOptions> = { history: true, mixing: true, regularization: true };

/** Most rank-one updates Broyden keeps: its memory is 2·history state-sized rows per sample. */
const BROYDEN_MAX_HISTORY = 64;

/** Each solver's settings from a region's options: defaults, checks (errors name the `iterate.<key>` option). */
const SOLVER_SETTINGS: { readonly [K in SolverKind]: (options: SolverOptions) => Extract<Solver, { kind: K }> } = {
  plain: () => ({ kind: 'plain' }),
  anderson: (o) => {
    const history = o.history === undefined ? 5 : positiveInt('region', 'iterate.history', o.history);
    if (history > 8) throw new SpecError(`region: iterate.history must be at most 8 (its least-squares problem is solved by unrolled elimination), got ${history}`);
    const mixing = o.mixing === undefined ? 1 : finite('region', 'iterate.mixing', o.mixing, { above: 0, atMost: 1 });
    const regularization = o.regularization === undefined ? 1e-6 : finite('region', 'iterate.regularization', o.regularization, { above: 0 });
    return { kind: 'anderson', history, mixing, regularization };
  },
  broyden: (o) => {
    const history = o.history === undefined ? 8 : positiveInt('region', 'iterate.history', o.history);
    if (history > BROYDEN_MAX_HISTORY) throw new SpecError(`region: iterate.history must be at most ${BROYDEN_MAX_HISTORY} for broyden (it keeps 2·history rows per sample), got ${history}`);
    return { kind: 'broyden', history };
  },
};

/** The solver kinds a region may name, in the order error messages list them. */
export const SOLVER_KINDS = Object.keys(SOLVER_SETTINGS) as readonly SolverKind[];

/**
 * The resolved settings of solver `kind` (one of SOLVER_KINDS) from a region's options.
 *
 * @example resolveSolver('anderson', { history: 3 }) // { kind: 'anderson', history: 3, mixing: 1, regularization: 1e-6 }
 */
export function resolveSolver(kind: SolverKind, options: SolverOptions): Solver {
  return SOLVER_SETTINGS[kind](options);
}
