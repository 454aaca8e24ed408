// What skip-gated blocks (src/twnn/skip-gate.ts) add to the graphs a spec
// builds: model.onnx outputs each block's per-sample gate, and the training
// graphs add the blocks' cost terms to what the optimizer minimises.
import type { Graph, Value } from '../ir/index.js';
import { add, mul, reduceMean, scalar } from '../ops/index.js';
import type { BuildContext } from '../twnn/module.js';
import type { NamedOutputs } from './iterations.js';


/**
 * `skip_gate.<block>` ([B]: each sample's gate s; the block was skipped where
 * s < its threshold, which the manifest records) for every skip-gated block.
 *
 * @example for (const [name, v] of skipGateOutputs(ctx)) g.output(name, v);
 */
export function skipGateOutputs(ctx: BuildContext): NamedOutputs {
  return ctx.settledSkipGates().map((r) => [`skip_gate.${r.block}`, r.gate]);
}

/**
 * Σ γ·mean_b(s_b) over the skip-gated blocks with a cost γ > 0 (each at its
 * region's fixed point), or undefined when there is none.
 *
 * @example const cost = skipCost(g, ctx); if (cost) objective = add(g, objective, cost);
 */
export function skipCost(g: Graph, ctx: BuildContext): Value | undefined {
  const terms = ctx.settledSkipGates()
    .filter((r) => r.cost > 0)
    .map((r) => mul(g, reduceMean(g, r.gate, [0], false), scalar(g, r.cost, r.gate.dtype)));
  return terms.length > 0 ? terms.reduce((a, b) => add(g, a, b)) : undefined;
}

/**
 * Each skip-gated block's threshold, for the manifest (what a `skip_gate.*`
 * output is compared with).
 *
 * @example skipGateThresholds(ctx) // { 'region2.B4': 0.5 }
 */
export function skipGateThresholds(ctx: BuildContext): Record<string, number> {
  return Object.fromEntries(ctx.settledSkipGates().map((r) => [r.block, r.threshold]));
}
