/**
 * Unrolled backward for a fixed point: exact backprop through every executed
 * sweep. The forward Loop stores each sweep's input state S_t and whether each
 * sample took that step as scan outputs; a reverse Loop replays them from the
 * last step to the first, recomputing the sweep at S_t and applying its VJP:
 *
 *   w_t ← (∂F/∂S at S_t)ᵀ w_{t+1},   θ̄ += (∂F/∂θ at S_t)ᵀ w_{t+1}
 *
 * (a sample frozen at step t passes w through unchanged and adds nothing).
 * Memory grows with the number of sweeps; it is the reference the implicit
 * mode is tested against, and agrees with it at convergence.
 */
import { Tensor, type Node, type Value, type VjpRule } from '../ir/index.js';
import { add, cast, constantOfShape, filledLike, gather, loop, shapeOf, sub, where } from '../ops/index.js';
import { vjpThrough } from '../autodiff/vjp-through.js';
import type { BuildContext, IteratorReport } from '../twnn/module.js';
import { annotateLoop, producer, type FixedPointConfig, type Sweep } from './fixed-point.js';
import { batchMask, settleStep, type SettleConfig, type SettleState } from './settle.js';

/**
 * The training-graph lowering of a region in unrolled mode: forward Loop with
 * scan outputs, one sweep at the final state for the output, and the reverse
 * Loop as the forward Loop's VJP.
 *
 * @example return unrolledTraining(ctx, sweep, first, config, settle, state0, meta);
 */
export function unrolledTraining(
  ctx: BuildContext,
  sweep: Sweep,
  first: { sources: Value[]; output: Value },
  config: FixedPointConfig,
  settle: SettleConfig,
  state0: SettleState,
  meta: (node: Node) => Record<string, unknown>,
): Value {
  const g = ctx.graph;
  const m = first.sources.length;
  const { carried, scans } = loop(g, {
    name: 'iterate',
    maxTrip: config.maxIter - 1,
    carried: [...first.sources, state0.done, state0.iters, state0.residual],
    doc: `twnn fixed point of region '${config.region}' (forward sweeps, states kept for unrolled backprop)`,
    body: (b, it) => {
      const sOld = it.carried.slice(0, m);
      const [done, iters, residual] = it.carried.slice(m);
      const next = ctx.withGraph(b, () => ctx.rebuild(() => sweep(sOld)));
      const st = settleStep(b, settle, { done, iters, residual }, sOld, next.sources);
      return { cond: st.cond, carried: [...st.states, st.done, st.iters, st.residual], scans: [...sOld, st.adopted] };
    },
  });
  const loopNode = producer(carried[0]);
  annotateLoop(loopNode, { role: 'forward', ...meta(loopNode) });
  const sStar = carried.slice(0, m);
  const atEnd = g.scope('at_fixed_point', () => ctx.rebuild(() => sweep(sStar)));
  const report: IteratorReport = { region: config.region, iterations: carried[m + 1], residual: carried[m + 2], config: meta(loopNode) };
  const path = ctx.scopePath;
  const replaySweep: Sweep = (sOld) => ctx.replay(path, () => sweep(sOld));
  loopNode.customVjp = reverseReplay(ctx, replaySweep, sStar, scans, config, report);
  ctx.reportIterator(report);
  return atEnd.output;
}

function reverseReplay(
  ctx: BuildContext,
  sweep: Sweep,
  sStar: readonly Value[],
  scans: readonly Value[],
  config: FixedPointConfig,
  report: IteratorReport,
): VjpRule {
  const m = sStar.length;
  return (v) => {
    const g = v.graph;
    const operands = [...v.inputs, ...v.captures];
    // Loop inputs are [M, cond, S_1..S_m, done, iters, residual]; captures follow.
    const wanted = v.captures.filter((c, i) => v.wants[v.inputs.length + i]);
    const w0 = sStar.map((s, j) => v.gradOutputs[j] ?? filledLike(g, s, 0));
    const acc0 = wanted.map((c) => filledLike(g, c, 0));
    const steps = gather(g, shapeOf(g, scans[m]), 0);
    const count0 = constantOfShape(g, shapeOf(g, sStar[0], 0, 1), 0, 'int64');
    const { carried } = loop(g, {
      name: 'unrolled_backward',
      maxTrip: steps,
      carried: [...w0, ...acc0, count0],
      doc: `twnn unrolled backward of region '${config.region}': replays the stored sweeps in reverse`,
      body: (b, it) => {
        const w = it.carried.slice(0, m);
        const acc = it.carried.slice(m, m + wanted.length);
        const t = sub(b, sub(b, steps, it.iteration), b.constant(Tensor.scalar(1, 'int64')));
        const sOld = scans.slice(0, m).map((s) => gather(b, s, t));
        const adopted = gather(b, scans[m], t);
        const start = b.nodes.length;
        const replay = ctx.withGraph(b, () => sweep(sOld));
        const nodes = b.nodes.slice(start);
        const seeds = new Map(replay.sources.map((s, j) => [s, where(b, batchMask(b, adopted, w[j]), w[j], filledLike(b, w[j], 0))]));
        const grads = vjpThrough({ nodes, seeds, wrt: [...sOld, ...wanted], into: b, scope: 'replay_vjp' });
        const wPrev = w.map((wj, j) => where(b, batchMask(b, adopted, wj), grads[j] ?? filledLike(b, wj, 0), wj));
        const accNext = acc.map((a, i) => (grads[m + i] ? add(b, a, grads[m + i]!) : a));
        const count = add(b, it.carried[m + wanted.length], cast(b, adopted, 'int64'));
        return { carried: [...wPrev, ...accNext, count] };
      },
    });
    annotateLoop(producer(carried[0]), { role: 'unrolled_backward', region: config.region, backward: 'unrolled' });
    report.backwardIterations = carried[m + wanted.length];
    const byCapture = new Map(wanted.map((c, i) => [c, carried[m + i]]));
    return operands.map((op, k) => {
      if (!op) return undefined;
      if (k >= 2 && k < 2 + m) return carried[k - 2];
      return k >= v.inputs.length ? byCapture.get(op) : undefined;
    });
  };
}
