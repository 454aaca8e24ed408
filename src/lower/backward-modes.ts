/**
 * The backward modes of a fixed-point region, registered by mode: how its
 * training graph is lowered (forward Loop, output, the Loop's VJP rule) and
 * what each mode refuses. The record is typed by src/twnn/iterator.ts's
 * `BackwardMode` union, so a mode without a lowering does not compile.
 *
 *   implicit   adjoint fixed point, solved by a settling Loop  (src/lower/adjoint.ts)
 *   phantom:k  the same, truncated to k − 1 adjoint steps       (src/lower/phantom.ts)
 *   unrolled   backprop through every stored sweep              (src/lower/unrolled.ts)
 */
import { SpecError, type Value } from '../ir/index.js';
import type { BackwardMode, FixedPointConfig, RegionSweeps } from '../twnn/iterator.js';
import { linearisedTraining, settledAdjoint } from './adjoint.js';
import { phantomAdjoint } from './phantom.js';
import type { SettlingLoopSpec } from './settling-loop.js';
import { solverFor } from './solvers/registry.js';
import { unrolledTraining } from './unrolled.js';

/** The region's forward settling Loop, as lowerFixedPoint sets it up (each mode supplies its map). */
export type ForwardLoop = Omit<SettlingLoopSpec, 'map'>;

/** A backward mode's lowering, for the settings `M` of one mode. */
export interface BackwardModeLowering<M extends BackwardMode = BackwardMode> {
  /** Refuse a region this mode cannot differentiate (called before anything is emitted), naming the region. */
  check?(config: FixedPointConfig): void;
  /** Emit the region's training graph into `sweeps.graph` and return the region output. */
  training(sweeps: RegionSweeps, config: FixedPointConfig, iterate: ForwardLoop, mode: M): Value;
}

const BACKWARD_MODES: { readonly [K in BackwardMode['mode']]: BackwardModeLowering<Extract<BackwardMode, { mode: K }>> } = {
  implicit: { training: (sweeps, config, iterate) => linearisedTraining(sweeps, config, iterate, settledAdjoint) },
  phantom: { training: (sweeps, config, iterate, mode) => linearisedTraining(sweeps, config, iterate, phantomAdjoint(mode.k)) },
  unrolled: {
    check: (config) => {
      if (!solverFor(config.solver).stepsAreSweeps) {
        throw new SpecError(`region '${config.region}': backward 'unrolled' replays plain sweeps; it cannot differentiate the ${config.solver.kind} solver (use backward 'implicit')`);
      }
    },
    training: (sweeps, config, iterate) => unrolledTraining(sweeps, config, iterate),
  },
};

/**
 * The registered lowering of backward mode `mode`.
 *
 * @example backwardModeFor(config.backward).check?.(config);
 */
export function backwardModeFor(mode: BackwardMode): BackwardModeLowering {
  // The record pairs each mode with its own settings' lowering; TypeScript cannot follow the pairing through an index.
  return BACKWARD_MODES[mode.mode] as BackwardModeLowering;
}
