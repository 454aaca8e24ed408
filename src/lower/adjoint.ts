/**
 * The backward pass of a fixed point, by implicit differentiation
 * (Christianson's adjoint fixed point; paper Eq. 9; JAX's `fixed_point`
 * custom_vjp tutorial; torchdeq's IFT mode).
 *
 * Derivation. At the fixed point S* = F(S*, a, θ); differentiating,
 *   dS* = (∂F/∂S) dS* + (∂F/∂θ) dθ + (∂F/∂a) da,
 * so d(S*)/dθ = (I − A)⁻¹ ∂F/∂θ with A = ∂F/∂S at S*. For a cotangent ḡ = ∂L/∂S*,
 *   θ̄ = ḡᵀ (I − A)⁻¹ ∂F/∂θ = wᵀ ∂F/∂θ,   where   wᵀ = ḡᵀ + wᵀ A,
 * i.e. w is itself a fixed point: w ← ḡ + Aᵀ w, started at w = ḡ. It converges
 * whenever the forward iteration does (A's spectral radius < 1). Then
 *   θ̄ = (∂F/∂θ)ᵀ w,   ā = (∂F/∂a)ᵀ w.
 *
 * Lowering. The sweep is linearised once, outside any loop: the training graph
 * runs one sweep at S* that keeps its intermediates (src/lower/fixed-point.ts).
 * The adjoint ONNX `Loop` body holds only the linear map w ↦ Aᵀw — the VJP of
 * that sweep with respect to S, reading the sweep's values as outer-scope
 * references — so memory does not grow with the number of iterations. Each
 * sample settles on its own, like the forward loop (src/lower/settling-loop.ts).
 *
 * Stopping rule. By default (backwardNorm 'relative') a sample stops when
 * ‖Δw‖₂ <= backwardTol · ‖ḡ‖₂. The adjoint is linear in ḡ, so this rule takes
 * the same steps and reaches the same relative precision at any loss scale;
 * an absolute rule (backwardNorm 'max': max|Δw| <= backwardTol) stops after a
 * step or two when ḡ is small — a batch-mean loss makes each sample's ḡ of
 * order 1/B — and silently returns a truncated series. The backwardSolver
 * (src/lower/solvers/) applies here as in the forward Loop: on this linear
 * map Anderson is restarted GMRES, and Broyden finds w in at most 2n steps.
 *
 * Backward mode `implicit` solves the adjoint fixed point with a settling
 * Loop (`settledAdjoint`); `phantom:k` (src/lower/phantom.ts) shares the rest
 * (`linearisedTraining`, `adjointVjp`) and only truncates the solve.
 * Registered by mode in src/lower/backward-modes.ts.
 */
import type { DeferredGradients, Graph, Node, Value, VjpRule } from '../ir/index.js';
import { add, filledLike } from '../ops/index.js';
import type { FixedPointConfig, IteratorReport, RegionSweeps } from '../twnn/iterator.js';
import { deferGradients, vjpThrough } from '../autodiff/vjp-through.js';
import { jacobianPenalty } from './jacobian.js';
import { solverFields } from '../contract/iterator-record.js';
import { linearLoopSettings, settlingLoop, type SettlingLoopSpec } from './settling-loop.js';

/** The adjoint map w ↦ ḡ + Aᵀw, emitted into a graph (a Loop body, or the graph holding the Loop). */
export type AdjointStep = (into: Graph, w: readonly Value[]) => Value[];

/**
 * How a backward mode solves for w given ḡ and the adjoint step: w and the
 * adjoint steps each sample took (int64 [B]).
 */
export type AdjointSolve = (g: Graph, gBar: Value[], step: AdjointStep, config: FixedPointConfig) => { w: Value[]; iterations: Value };

/**
 * Backward `implicit`'s solve: the adjoint fixed point w ← ḡ + Aᵀw as a
 * settling Loop (`<region>/adjoint`) from w = ḡ, with the region's
 * backwardTol, backwardMaxIter, backwardNorm and backwardSolver.
 *
 * @example linearisedTraining(sweeps, config, iterate, settledAdjoint)
 */
export const settledAdjoint: AdjointSolve = (g, gBar, step, config) => {
  const { stop, ...settings } = linearLoopSettings(g, config, gBar, { state: 'w', rhs: 'g' });
  const adjoint = settlingLoop(g, {
    ...settings,
    region: config.region,
    role: 'adjoint',
    initial: gBar,
    map: (b, wOld) => ({ next: step(b, wOld) }),
    config: { backward: 'implicit', tol: config.backwardTol, maxIter: config.backwardMaxIter, norm: config.backwardNorm, ...solverFields(config.backwardSolver) },
    doc: `twnn adjoint fixed point of region '${config.region}': w <- g + (dF/dS)^T w, ${stop}`,
  });
  return { w: adjoint.states, iterations: adjoint.iterations };
};

/**
 * The training-graph lowering of a region whose backward linearises F at S*
 * (implicit, phantom:k): the forward Loop, one sweep at S* in the enclosing
 * graph (the output y = O(S*) and the linearisation point), and the Loop's
 * VJP rule, which solves for w with `solve`.
 *
 * @example return linearisedTraining(sweeps, config, iterate, settledAdjoint);
 */
export function linearisedTraining(sweeps: RegionSweeps, config: FixedPointConfig, iterate: Omit<SettlingLoopSpec, 'map'>, solve: AdjointSolve): Value {
  const g = sweeps.graph;
  const fp = settlingLoop(g, { ...iterate, map: (b, sOld) => ({ next: sweeps.sweep(sOld, b).sources }) });
  const sStar = fp.states;
  // One sweep at S*: the output y = O(S*) and the linearisation point of F.
  const start = g.nodes.length;
  const atFixedPoint = g.scope('at_fixed_point', () => sweeps.sweep(sStar, g));
  const sweepNodes = g.nodes.slice(start);
  const report: IteratorReport = {
    region: config.region,
    iterations: fp.iterations,
    residual: fp.residual,
    unsettled: fp.unsettled,
    config: { role: 'iterate', region: config.region, ...iterate.config },
    ...(config.jacobianPenalty > 0 ? { penalty: (key: Value) => jacobianPenalty(g, { sweepNodes, sStar, sNew: atFixedPoint.sources, weight: config.jacobianPenalty, key, region: config.region }) } : {}),
  };
  // The loss's reverse pass through this sweep stops at S*; the Loop's rule takes θ̄ and ā in one VJP (see adjointVjp).
  const deferral = { nodes: sweepNodes, operands: new Set(fp.node.captures()), taker: fp.node };
  deferGradients(deferral);
  fp.node.customVjp = adjointVjp({ sweepNodes, sStar, sNew: atFixedPoint.sources, stateOutputs: fp.stateOutputs, config, report, deferral }, solve);
  sweeps.report(report);
  return atFixedPoint.output;
}

export interface AdjointArgs {
  /** The nodes of the sweep run at S*, in order. */
  sweepNodes: readonly Node[];
  /** The forward Loop's final states (the sweep's inputs). */
  sStar: readonly Value[];
  /** The sweep's new sources F(S*). */
  sNew: readonly Value[];
  /** For each state, the forward Loop outputs that hold it (SettledLoop.stateOutputs): their cotangents add up to ḡ. */
  stateOutputs: readonly (readonly number[])[];
  config: FixedPointConfig;
  /** Receives `backwardIterations` when the rule runs. */
  report: IteratorReport;
  /** The sweep's deferred parameter cotangents (`deferGradients`), if the caller registered them. */
  deferral?: DeferredGradients;
}

/**
 * The VJP rule of a region's forward Loop in implicit or phantom mode, w
 * solved by `solve`. Operands are the Loop's inputs (trip count, cond,
 * initial states: none get a gradient, as the fixed point does not depend on
 * its starting guess) followed by its captures (parameters, the region input).
 *
 * @example loopNode.customVjp = adjointVjp({ sweepNodes, sStar, sNew, stateOutputs, config, report }, settledAdjoint);
 */
export function adjointVjp(args: AdjointArgs, solve: AdjointSolve): VjpRule {
  const { sweepNodes, sStar, sNew, stateOutputs, config, report } = args;
  return (ctx) => {
    const g = ctx.graph;
    const gBar = sStar.map((s, j) => {
      const parts = stateOutputs[j].flatMap((k) => (ctx.gradOutputs[k] ? [ctx.gradOutputs[k]!] : []));
      return parts.length === 0 ? filledLike(g, s, 0) : parts.reduce((a, b) => add(g, a, b));
    });
    const jacobianT = (into: typeof g, w: readonly Value[]) =>
      vjpThrough({ nodes: sweepNodes, seeds: new Map(sNew.map((s, j) => [s, w[j]])), wrt: sStar, into, scope: 'adjoint_vjp' });
    const step: AdjointStep = (into, w) => {
      const aTw = jacobianT(into, w);
      return gBar.map((gb, j) => (aTw[j] ? add(into, gb, aTw[j]!) : gb));
    };
    const { w, iterations } = solve(g, gBar, step, config);
    report.backwardIterations = iterations;

    // θ̄ and ā: the same sweep's VJP, seeded with w, towards the wanted operands. The loss's reverse pass
    // left this sweep's own parameter cotangents (from y = O(S*) and any other reader of its values)
    // to this VJP: linear in the seeds, so one pass gives both, and each weight gradient is computed once.
    const operands = [...ctx.inputs, ...ctx.captures];
    const wanted = operands.flatMap((v, k) => (v && ctx.wants[k] && k >= ctx.inputs.length ? [v] : []));
    const seeds = new Map(sNew.map((s, j) => [s, w[j]]));
    const outside = args.deferral && ctx.takeDeferred?.(args.deferral);
    for (const [v, c] of outside ?? []) seeds.set(v, seeds.has(v) ? add(g, seeds.get(v)!, c) : c);
    const grads = vjpThrough({ nodes: sweepNodes, seeds, wrt: wanted, into: g, scope: 'adjoint_params', resolving: args.deferral });
    const byValue = new Map(wanted.map((v, i) => [v, grads[i]]));
    return operands.map((v, k) => (v && k >= ctx.inputs.length ? byValue.get(v) : undefined));
  };
}
