/**
 * Plain iteration x ← F(x), the paper's solver and the default: it carries
 * nothing and its next iterate is the sweep's output itself, so unrolled
 * backprop can replay its steps as sweeps.
 */
import type { SolverLowering } from './solver.js';

/** Plain iteration as a solver of the settling Loop. */
export const plainSolver: SolverLowering<{ kind: 'plain' }> = {
  memoryNames: () => [],
  initialMemory: () => [],
  step: (_b, _settings, inputs) => ({ candidates: [...inputs.next], memory: [] }),
  stepsAreSweeps: true,
};
