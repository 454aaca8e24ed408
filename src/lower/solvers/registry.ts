/**
 * The solvers of the settling Loop, registered by kind (like torchdeq's
 * `register_solver`). The record is typed by src/twnn/solvers.ts's `Solver`
 * union, so a kind described there and not registered here (or the reverse)
 * does not compile. Adding a solver: its settings in src/twnn/solvers.ts,
 * its file in this folder, and one line below (README.md beside this file).
 */
import type { Graph, Value } from '../../ir/index.js';
import type { Solver, SolverKind } from '../../twnn/solvers.js';
import { andersonSolver } from './anderson.js';
import { broydenSolver } from './broyden.js';
import { plainSolver } from './plain.js';
import type { SolverLowering, SolverStepInputs, SolverStepResult } from './solver.js';

const SOLVERS: { readonly [K in SolverKind]: SolverLowering<Extract<Solver, { kind: K }>> } = {
  plain: plainSolver,
  anderson: andersonSolver,
  broyden: broydenSolver,
};

/** A solver's lowering bound to its settings. */
export interface BoundSolver {
  readonly kind: SolverKind;
  memoryNames(): readonly string[];
  initialMemory(g: Graph, initial: readonly Value[]): Value[];
  step(b: Graph, inputs: SolverStepInputs): SolverStepResult;
  readonly stepsAreSweeps: boolean;
}

/**
 * The registered lowering of `solver`, bound to its settings.
 *
 * @example const solver = solverFor(config.solver); const memory0 = solver.initialMemory(g, initial);
 */
export function solverFor(solver: Solver): BoundSolver {
  // The record pairs each kind with its own settings' lowering; TypeScript cannot follow the pairing through an index.
  const lowering = SOLVERS[solver.kind] as SolverLowering;
  return {
    kind: solver.kind,
    memoryNames: () => lowering.memoryNames(solver),
    initialMemory: (g, initial) => lowering.initialMemory(g, solver, initial),
    step: (b, inputs) => lowering.step(b, solver, inputs),
    stepsAreSweeps: lowering.stepsAreSweeps ?? false,
  };
}
