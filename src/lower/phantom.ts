/**
 * Backward mode `phantom:k` (torchdeq's phantom gradient): the implicit
 * backward (src/lower/adjoint.ts) with the adjoint solve truncated to the
 * Neumann series w = Σ_{i<k} (Aᵀ)ⁱ ḡ, that is k − 1 adjoint steps from
 * w = ḡ with no convergence test: the gradient of k unrolled sweeps at S*.
 * k = 1 is Jacobian-free backprop (w = ḡ). Cheap and inexact, and named so.
 */
import { constantOfShape, loop, shapeOf } from '../ops/index.js';
import type { AdjointSolve } from './adjoint.js';
import { emitIntoBody } from './loop-body.js';
import { producerOf } from './settling-loop.js';

/**
 * The adjoint solve of `phantom:k`: k − 1 adjoint steps, each sample
 * reporting k − 1 of them.
 *
 * @example linearisedTraining(sweeps, config, iterate, phantomAdjoint(5));
 */
export function phantomAdjoint(k: number): AdjointSolve {
  const phantomSteps = k - 1;
  return (g, gBar, step, config) => {
    if (phantomSteps === 0) return { w: gBar, iterations: constantOfShape(g, shapeOf(g, gBar[0], 0, 1), 0, 'int64') };
    // A fixed number of steps, no convergence test: not a settling loop.
    const { carried } = loop(g, {
      name: 'phantom',
      fixedName: `${config.region.split('.').join('/')}/phantom`,
      maxTrip: phantomSteps,
      carried: gBar,
      ...(config.stateNames ? { carriedNames: config.stateNames.map((n) => `w.${n}`) } : {}),
      doc: `twnn phantom gradient of region '${config.region}': ${phantomSteps} adjoint steps`,
      // Hoisted like the settling loops' bodies (src/lower/loop-body.ts): the linearisation is computed once.
      body: (b, it) => ({ carried: emitIntoBody(b, (scratch) => step(scratch, it.carried), { hoist: config.hoistInvariants ?? true }) }),
    });
    producerOf(carried[0]).loopConfig = { role: 'phantom', region: config.region, backward: `phantom:${k}`, steps: phantomSteps };
    return { w: carried, iterations: constantOfShape(g, shapeOf(g, gBar[0], 0, 1), phantomSteps, 'int64') };
  };
}
