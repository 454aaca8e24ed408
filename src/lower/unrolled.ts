/**
 * Unrolled backward for a fixed point: exact backprop through every executed
 * sweep. The forward Loop stores each sweep's input state S_t, whether each
 * sample took that step, and whether the step improved on its best residual
 * as scan outputs; a reverse Loop replays them from the last step to the
 * first, recomputing the sweep at S_t and applying its VJP:
 *
 *   w_t ← (∂F/∂S at S_t)ᵀ w_{t+1},   θ̄ += (∂F/∂θ at S_t)ᵀ w_{t+1}
 *
 * A sample frozen at step t passes w through unchanged and adds nothing. A
 * sample that never settled returns its best iterate, the output of its last
 * improving step t_b: the steps after t_b did not shape what it returned, so
 * the replay passes w through them and starts applying VJPs at t_b. Memory
 * grows with the number of sweeps; it is the reference the implicit mode is
 * tested against, and agrees with it at convergence.
 */
import { Tensor, type Value, type VjpRule } from '../ir/index.js';
import { add, and, cast, constantOfShape, filledLike, gather, loop, not, or, shapeOf, sub, where } from '../ops/index.js';
import { vjpThrough } from '../autodiff/vjp-through.js';
import type { FixedPointConfig, IteratorReport, RegionSweeps } from '../twnn/iterator.js';
import { batchMask } from './settle.js';
import { settlingLoop, type SettledLoop, type SettlingLoopSpec } from './settling-loop.js';

/**
 * The training-graph lowering of a region in unrolled mode: forward Loop with
 * scan outputs, one sweep at the final state for the output, and the reverse
 * Loop as the forward Loop's VJP.
 *
 * @example return unrolledTraining(sweeps, config, iterateSpec);
 */
export function unrolledTraining(sweeps: RegionSweeps, config: FixedPointConfig, iterate: Omit<SettlingLoopSpec, 'map'>): Value {
  const g = sweeps.graph;
  const fp = settlingLoop(g, {
    ...iterate,
    scanStates: true,
    doc: `${iterate.doc}; states kept for unrolled backprop`,
    map: (b, sOld) => ({ next: sweeps.sweep(sOld, b).sources }),
  });
  const atEnd = g.scope('at_fixed_point', () => sweeps.sweep(fp.states, g));
  const report: IteratorReport = { region: config.region, iterations: fp.iterations, residual: fp.residual, unsettled: fp.unsettled, config: fp.node.loopConfig! };
  fp.node.customVjp = reverseReplay(sweeps, fp, sweeps.first.sources.length, config, report);
  sweeps.report(report);
  return atEnd.output;
}

function reverseReplay(sweeps: RegionSweeps, fp: SettledLoop, m: number, config: FixedPointConfig, report: IteratorReport): VjpRule {
  const { scans, stateOutputs, states: sStar } = fp;
  const keepBest = scans.length > m + 1;
  return (v) => {
    const g = v.graph;
    const operands = [...v.inputs, ...v.captures];
    const wanted = v.captures.filter((c, i) => v.wants[v.inputs.length + i]);
    const w0 = sStar.map((s, j) => {
      const parts = stateOutputs[j].flatMap((k) => (v.gradOutputs[k] ? [v.gradOutputs[k]!] : []));
      return parts.length === 0 ? filledLike(g, s, 0) : parts.reduce((a, b) => add(g, a, b));
    });
    const acc0 = wanted.map((c) => filledLike(g, c, 0));
    const steps = gather(g, shapeOf(g, scans[m]), 0);
    const count0 = constantOfShape(g, shapeOf(g, sStar[0], 0, 1), 0, 'int64');
    // Settled samples replay every step they took; unsettled ones wait for their best step.
    const seen0 = not(g, fp.unsettled);
    const { carried } = loop(g, {
      name: 'unrolled_backward',
      fixedName: `${config.region.split('.').join('/')}/unrolled_backward`,
      maxTrip: steps,
      carried: [...w0, ...acc0, count0, seen0],
      doc: `twnn unrolled backward of region '${config.region}': replays the stored sweeps in reverse`,
      body: (b, it) => {
        const w = it.carried.slice(0, m);
        const acc = it.carried.slice(m, m + wanted.length);
        const [count, seenBest] = it.carried.slice(m + wanted.length);
        const t = sub(b, sub(b, steps, it.iteration), b.constant(Tensor.scalar(1, 'int64')));
        const sOld = scans.slice(0, m).map((s) => gather(b, s, t));
        const adopted = gather(b, scans[m], t);
        let took = adopted;
        let seen = seenBest;
        if (keepBest) {
          const isBestStep = and(b, not(b, seenBest), gather(b, scans[m + 1], t));
          took = or(b, and(b, seenBest, adopted), isBestStep);
          seen = or(b, seenBest, isBestStep);
        }
        const start = b.nodes.length;
        const replay = sweeps.replay(sOld, b);
        const nodes = b.nodes.slice(start);
        const seeds = new Map(replay.sources.map((s, j) => [s, where(b, batchMask(b, took, w[j]), w[j], filledLike(b, w[j], 0))]));
        const grads = vjpThrough({ nodes, seeds, wrt: [...sOld, ...wanted], into: b, scope: 'replay_vjp' });
        const wPrev = w.map((wj, j) => where(b, batchMask(b, took, wj), grads[j] ?? filledLike(b, wj, 0), wj));
        const accNext = acc.map((a, i) => (grads[m + i] ? add(b, a, grads[m + i]!) : a));
        return { carried: [...wPrev, ...accNext, add(b, count, cast(b, took, 'int64')), seen] };
      },
    });
    const loopNode = carried[0].source.kind === 'node' ? carried[0].source.node : undefined;
    if (loopNode) loopNode.loopConfig = { role: 'unrolled_backward', region: config.region, backward: 'unrolled' };
    report.backwardIterations = carried[m + wanted.length];
    const byCapture = new Map(wanted.map((c, i) => [c, carried[m + i]]));
    // Loop inputs are [M, cond, S_1..S_m, ...]: the initial states take the replayed w; captures their sums.
    return operands.map((op, k) => {
      if (!op) return undefined;
      if (k >= 2 && k < 2 + m) return carried[k - 2];
      return k >= v.inputs.length ? byCapture.get(op) : undefined;
    });
  };
}
