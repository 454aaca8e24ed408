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
 * order 1/B — and silently returns a truncated series. Anderson acceleration
 * (backwardSolver) applies here as in the forward Loop: on this linear map it
 * is restarted GMRES.
 *
 * phantom:k truncates the Neumann series w = Σ_{i<k} (Aᵀ)ⁱ ḡ (k − 1 adjoint
 * steps, no convergence test): the gradient of k unrolled sweeps at S*
 * (torchdeq's phantom gradient); k = 1 is Jacobian-free backprop (w = ḡ).
 */
import type { Node, Value, VjpRule } from '../ir/index.js';
import { add, constantOfShape, filledLike, loop, shapeOf } from '../ops/index.js';
import type { FixedPointConfig, IteratorReport } from '../twnn/iterator.js';
import { vjpThrough } from '../autodiff/vjp-through.js';
import { emitIntoBody } from './loop-body.js';
import { linearLoopSettings, producerOf, settlingLoop, solverFields } from './settling-loop.js';

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
}

/**
 * The VJP rule of a region's forward Loop in implicit or phantom mode.
 * Operands are the Loop's inputs (trip count, cond, initial states: none get
 * a gradient, as the fixed point does not depend on its starting guess)
 * followed by its captures (parameters, the region input).
 *
 * @example loopNode.customVjp = adjointVjp({ sweepNodes, sStar, sNew, stateOutputs, config, report });
 */
export function adjointVjp(args: AdjointArgs): VjpRule {
  const { sweepNodes, sStar, sNew, stateOutputs, config, report } = args;
  return (ctx) => {
    const g = ctx.graph;
    const gBar = sStar.map((s, j) => {
      const parts = stateOutputs[j].flatMap((k) => (ctx.gradOutputs[k] ? [ctx.gradOutputs[k]!] : []));
      return parts.length === 0 ? filledLike(g, s, 0) : parts.reduce((a, b) => add(g, a, b));
    });
    const jacobianT = (into: typeof g, w: readonly Value[]) =>
      vjpThrough({ nodes: sweepNodes, seeds: new Map(sNew.map((s, j) => [s, w[j]])), wrt: sStar, into, scope: 'adjoint_vjp' });
    const step = (into: typeof g, w: readonly Value[]) => {
      const aTw = jacobianT(into, w);
      return gBar.map((gb, j) => (aTw[j] ? add(into, gb, aTw[j]!) : gb));
    };
    const regionPath = config.region.split('.').join('/');

    let w: Value[];
    let iterations: Value;
    const phantomSteps = config.backward.mode === 'phantom' ? config.backward.k - 1 : undefined;
    if (phantomSteps === 0) {
      w = gBar;
      iterations = constantOfShape(g, shapeOf(g, gBar[0], 0, 1), 0, 'int64');
    } else if (phantomSteps !== undefined) {
      // A fixed number of steps, no convergence test: not a settling loop.
      const { carried } = loop(g, {
        name: 'phantom',
        fixedName: `${regionPath}/phantom`,
        maxTrip: phantomSteps,
        carried: gBar,
        ...(config.stateNames ? { carriedNames: config.stateNames.map((n) => `w.${n}`) } : {}),
        doc: `twnn phantom gradient of region '${config.region}': ${phantomSteps} adjoint steps`,
        // Hoisted like the settling loops' bodies (src/lower/loop-body.ts): the linearisation is computed once.
        body: (b, it) => ({ carried: emitIntoBody(b, (scratch) => step(scratch, it.carried), { hoist: config.hoistInvariants ?? true }) }),
      });
      w = carried;
      producerOf(carried[0]).loopConfig = { role: 'phantom', region: config.region, backward: `phantom:${phantomSteps + 1}`, steps: phantomSteps };
      iterations = constantOfShape(g, shapeOf(g, gBar[0], 0, 1), phantomSteps, 'int64');
    } else {
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
      w = adjoint.states;
      iterations = adjoint.iterations;
    }
    report.backwardIterations = iterations;

    // θ̄ and ā: the same sweep's VJP, seeded with w, towards the wanted operands.
    const operands = [...ctx.inputs, ...ctx.captures];
    const wanted = operands.flatMap((v, k) => (v && ctx.wants[k] && k >= ctx.inputs.length ? [v] : []));
    const grads = vjpThrough({ nodes: sweepNodes, seeds: new Map(sNew.map((s, j) => [s, w[j]])), wrt: wanted, into: g, scope: 'adjoint_params' });
    const byValue = new Map(wanted.map((v, i) => [v, grads[i]]));
    return operands.map((v, k) => (v && k >= ctx.inputs.length ? byValue.get(v) : undefined));
  };
}
