/**
 * Fixed-point correction (torchdeq's `fp_correction`; Bai et al., "Deep
 * Equilibrium Optical Flow Estimation", 2022): train.onnx minimises the task
 * loss of the fixed point plus the same loss of a few intermediate iterates,
 * each reached through a phantom gradient, so the early sweeps are trained to
 * head for the fixed point too and the iteration stays short and stable.
 *
 * Definition. A region whose sample s ran T_s forward sweeps (S_1 = F(0),
 * S_{t+1} = F(S_t)) keeps, for term k = 1..n, the iterate
 *   S_{t_k}   with   t_k(s) = max(1, ⌊k·T_s/(n+1)⌋),
 * a fixed fraction of the sample's own sweeps (per-sample settling gives every
 * sample its own T_s; fixed sweep numbers would be the fixed point for the
 * quick samples and early for the slow ones). The iterate is detached: z_k =
 * sg(S_{t_k}). Term k's region output is O(F^p(z_k)), p = phantomSteps sweeps
 * from z_k that read the region's parameters and its input, and the rest of
 * the network (every later layer, and with several regions each region's own
 * term-k output in its place) maps it to y_k. With the task loss ℓ:
 *
 *   objective = ℓ(y*) + Σ_k γ^(n+1−k) ℓ(y_k)
 *
 * torchdeq's `exp` weights with n_states = n + 1: the fixed point weighs 1.
 * The gradient of term k is that of the p unrolled sweeps at fixed z_k:
 *   ∂ℓ_k/∂θ = ∂ℓ/∂y_k · d y_k/dθ |_{z_k fixed},
 * the phantom gradient of Geng et al. (2021) from an intermediate state. No
 * gradient flows through S_{t_k} into the forward iteration.
 *
 * Lowering. After the forward Loop, a plain Loop (`<region>/fp_correction`,
 * not differentiated: its VJP rule returns nothing) sweeps the whole batch
 * from S_1 for max_s t_n(s) − 1 steps and keeps each sample's S_{t_k} as it
 * passes. These are plain sweeps, so with the anderson or broyden solver the
 * iterates are the plain iteration's, not the solver's. The network is then
 * built again per term (BuildContext.correctionTerm): the same parameters,
 * each region p sweeps from its z_k (src/twnn/region-sweeps.ts). In these
 * builds BatchNorm layers normalise with the term's own batch statistics, as
 * torch's train-mode module applied to each iterate would, but their running
 * statistics follow the task's pass alone (a second update per step would
 * move them twice as fast); skip gates add no cost.
 */
import { SpecError, Tensor, type Graph, type Value } from '../ir/index.js';
import { add, concat, div, equal, less, loop, mul, reduceMax, reshape, scalar, sub, where } from '../ops/index.js';
import type { FixedPointConfig, RegionSweeps } from '../twnn/iterator.js';
import type { BuildContext, Module } from '../twnn/module.js';
import type { FixedPointCorrection } from '../twnn/task.js';
import { emitIntoBody } from './loop-body.js';
import { batchMask } from './settle.js';
import { producerOf } from './settling-loop.js';

/**
 * The detached iterates S_{t_k} (k = 1..terms) of a region whose forward
 * sweeps per sample are `iterations` (int64 [B]), emitted into `sweeps.graph`.
 *
 * @example report.correctionIterates = correctionIterates(sweeps, config, fp.iterations, 2);
 */
export function correctionIterates(sweeps: RegionSweeps, config: FixedPointConfig, iterations: Value, terms: number): Value[][] {
  const g = sweeps.graph;
  const i64 = (v: number) => g.constant(Tensor.scalar(v, 'int64'));
  const first = sweeps.first.sources;
  const m = first.length;
  // t_k = max(1, floor(k·T/(n+1))): integer division of non-negative int64 truncates.
  const at = Array.from({ length: terms }, (_, i) => {
    const t = div(g, mul(g, iterations, i64(i + 1)), i64(terms + 1));
    return where(g, less(g, t, i64(1)), i64(1), t);
  });
  const steps = sub(g, reduceMax(g, at[terms - 1], [], false), i64(1));
  const { carried } = loop(g, {
    name: 'fp_correction',
    fixedName: `${config.region.split('.').join('/')}/fp_correction`,
    maxTrip: steps,
    carried: [...first, ...at.flatMap(() => first)],
    ...(config.stateNames ? { carriedNames: [...config.stateNames, ...at.flatMap((_, k) => config.stateNames!.map((n) => `term${k + 1}.${n}`))] } : {}),
    doc: `twnn fixed-point correction of region '${config.region}': each sample's iterates after ${at.map((_, k) => `${k + 1}/${terms + 1}`).join(', ')} of its sweeps`,
    body: (b, it) => {
      const sOld = it.carried.slice(0, m);
      // Not differentiated, so loop invariants may leave the body (the forward Loop of a training graph keeps them).
      const sNew = emitIntoBody(b, (scratch) => sweeps.sweep(sOld, scratch).sources, { hoist: config.hoistInvariants ?? true });
      const sweepsDone = add(b, it.iteration, b.constant(Tensor.scalar(2, 'int64')));
      const kept = at.flatMap((t, k) => {
        const now = equal(b, t, sweepsDone);
        return sNew.map((s, j) => where(b, batchMask(b, now, s), s, it.carried[m + k * m + j]));
      });
      return { carried: [...sNew, ...kept] };
    },
  });
  const node = producerOf(carried[0]);
  node.loopConfig = { role: 'fp_correction', region: config.region, terms };
  // The iterates are detached: no gradient flows into the forward iteration through them.
  node.customVjp = (ctx) => [...ctx.inputs, ...ctx.captures].map(() => undefined);
  return at.map((_, k) => carried.slice(m + k * m, m + (k + 1) * m));
}

/** What the correction terms of a training graph need. */
export interface CorrectionArgs {
  context: BuildContext;
  /** The network the context built (the spec's `net`). */
  net: Module;
  /** The graph input it was built from. */
  x: Value;
  settings: Required<FixedPointCorrection>;
  /** The task loss of a network output (the same target). */
  lossOf: (y: Value) => Value;
  /** For messages. */
  model: string;
}

/** Each term's task loss ℓ_k ([n], k = 1..n) and what the optimizer adds to the loss: Σ γ^(n+1−k) ℓ_k. */
export interface CorrectionTerms {
  terms: Value;
  objective: Value;
}

/**
 * Build the network once per correction term and return the terms' losses
 * and their weighted sum (see the head of this file). Every region must have
 * kept its iterates (the context built with `correctionTerms`).
 *
 * @example const { terms, objective } = fixedPointCorrection(g, { context, net: spec.net, x, settings, lossOf, model: spec.name });
 */
export function fixedPointCorrection(g: Graph, args: CorrectionArgs): CorrectionTerms {
  const { context, net, x, settings, lossOf, model } = args;
  const { terms: n, phantomSteps } = settings;
  if (context.iterators.length === 0) throw new SpecError(`model '${model}': task.train.fpCorrection needs a fixed-point region, and the network has none`);
  const missing = context.iterators.find((r) => r.correctionIterates?.length !== n);
  if (missing) throw new SpecError(`model '${model}': region '${missing.region}' kept no iterates for the fixed-point correction (built without correctionTerms ${n})`);
  const losses = Array.from({ length: n }, (_, i) =>
    g.scope(`fp_correction_${i + 1}`, () => {
      const y = context.correctionTerm({ term: i + 1, phantomSteps }, () => net.build(context, x));
      return lossOf(y);
    }),
  );
  const weights = correctionWeights(settings);
  return g.scope('fp_correction', () => {
    const weighted = losses.map((l, i) => mul(g, l, scalar(g, weights[i], l.dtype)));
    return {
      terms: concat(g, losses.map((l) => reshape(g, l, [1])), 0),
      objective: weighted.reduce((a, b) => add(g, a, b)),
    };
  });
}

/**
 * Term k's weight γ^(n+1−k), k = 1..n (torchdeq's `exp` weights; the fixed point's is 1).
 *
 * @example correctionWeights({ terms: 2, gamma: 0.5, phantomSteps: 1 }) // [0.25, 0.5]
 */
export function correctionWeights(settings: Pick<Required<FixedPointCorrection>, 'terms' | 'gamma'>): number[] {
  return Array.from({ length: settings.terms }, (_, i) => settings.gamma ** (settings.terms - i));
}
