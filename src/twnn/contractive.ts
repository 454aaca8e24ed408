// Contractive regions: the sweep S ↦ F(S) is a contraction in the state by
// construction, with a stated bound ρ < 1 (`region({ ..., contractive: { bound: ρ } })`).
//
// Setting. S = (h_j)_{j∈J}, the outputs of the wormholes' source blocks; every
// wormhole w enters the same block i (its `to`):
//
//   u_i = h_{i-1} + Σ_w g_w ⊙ α_w·P_w(S_{from_w}),   g_w = sigmoid(G_w·h_{i-1} + c_w)
//
// Blocks before i receive no wormhole, so h_{i-1} and hence every gate g_w are the
// same for every S (the ordinary gate also reads P(S): its derivative
// diag(g)P + diag(P(S))·diag(σ')·G_p·P grows with |P(S)|, unbounded, which is why
// the contractive gate does not see the state, and why wormholes into different
// blocks are refused: a later target's gate would read an h that depends on S).
//
// Bound. For two states S, S' (Δ their difference; per sample, ℓ2), with
// 0 < g < 1, b_w = α_w·‖P_w‖₂ and L_k a Lipschitz bound of block k
// (src/twnn/lipschitz.ts):
//
//   ‖Δu_i‖ ≤ Σ_w b_w ‖ΔS_{from_w}‖ ≤ (Σ_w b_w) ‖ΔS‖
//   ‖Δh_j‖ ≤ (Π_{k=i..j} L_k) ‖Δu_i‖                        for j ≥ i
//   ‖ΔF‖  ≤ Σ_{j∈J} ‖Δh_j‖ ≤ c · (Σ_w b_w) ‖ΔS‖,   c = Σ_{j∈J} Π_{k=i..j} L_k
//
// So with each wormhole's budget β = ρ / (n·c) (n wormholes) and
// α_w = min(1, β/‖P_w‖) (so b_w ≤ β), Lip(F) ≤ ρ. α and c are computed in the
// graph from the current weights on every sweep (and hoisted out of the Loops,
// reading only parameters), so the bound holds after every optimizer step: no
// buffers, no lag, and P is only shrunk when the blocks demand it. Gradients flow
// through α into P and the blocks' weights by the ordinary VJP rules.
//
// Consequences (Banach): the fixed point exists and is unique, plain iteration
// reaches it from any start with ‖S_t − S*‖ ≤ ρ^t ‖S_0 − S*‖, and the adjoint
// w ← ḡ + (∂F/∂S)ᵀ w contracts at the same rate (‖Jᵀ‖₂ = ‖J‖₂ ≤ ρ), so the
// implicit gradient's Loop settles too, and phantom:k's Neumann series converges.
//
// Cost. The bound is certified, not tight: the Schatten-8 norm over-estimates
// ‖W‖₂, a 3×3 conv's bound carries a factor 3, and the products over blocks
// multiply the slack, so P may be shrunk well below what contraction needs.
// Blocks without a bound (normalisation layers, skip gates) are refused by name.
import { SpecError } from '../ir/index.js';
import * as ops from '../ops/index.js';
import { boundProduct, boundSum, boundValue, lipschitzOf, type LipschitzBound } from './lipschitz.js';
import type { BuildContext, Module } from './module.js';
import { checkOptions, type KeysOf } from './options.js';
import { finite } from './validate.js';

/** `contractive: { bound }`: the Lipschitz bound ρ < 1 the sweep is held to. */
export interface ContractiveSpec {
  /** ρ in (0, 1) (default 0.9): Lip(S ↦ F(S)) ≤ ρ, per sample in ℓ2. */
  bound?: number;
}

const CONTRACTIVE_KEYS: KeysOf<ContractiveSpec> = { bound: true };

/** ρ when `contractive: true`. */
const DEFAULT_CONTRACTION_BOUND = 0.9;

/**
 * A region's `contractive` option as its bound ρ, or undefined when off.
 *
 * @example resolveContractive(true) // 0.9
 * @example resolveContractive({ bound: 0.5 }) // 0.5
 */
export function resolveContractive(value: boolean | ContractiveSpec | undefined): number | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return DEFAULT_CONTRACTION_BOUND;
  checkOptions('region: contractive', value, CONTRACTIVE_KEYS);
  if (value.bound === undefined) return DEFAULT_CONTRACTION_BOUND;
  const bound = finite('region', 'contractive.bound', value.bound);
  if (!(bound > 0 && bound < 1)) throw new SpecError(`region: contractive.bound must be in (0, 1) (a contraction), got ${bound}`);
  return bound;
}

/**
 * The one block every wormhole of a contractive region must enter; a SpecError
 * naming the two wormholes that disagree otherwise.
 *
 * @example contractiveTarget([{ from: 2, to: 1 }, { from: 3, to: 1 }]) // 1
 */
export function contractiveTarget(wormholes: readonly { from: number; to: number }[]): number {
  const [first] = wormholes;
  const other = wormholes.find((w) => w.to !== first.to);
  if (other) {
    throw new SpecError(
      `region: contractive needs every wormhole to enter the same block, but ${first.from} -> ${first.to} and ${other.from} -> ${other.to} differ: ` +
        `block ${Math.max(first.to, other.to)}'s gate would read a state that depends on the other wormhole, which no bound covers`,
    );
  }
  return first.to;
}

/** What `wormholeBudget` needs of the region. */
interface BudgetArgs {
  region: string;
  bound: number;
  /** Block scopes and modules, in order. */
  names: readonly string[];
  modules: readonly Module[];
  /** The block (1-based) every wormhole enters. */
  target: number;
  /** The source blocks (1-based): the state. */
  sources: readonly number[];
  wormholes: number;
}

/**
 * β = ρ / (n·c), the most ‖α·P‖₂ each wormhole may have (see the head of this
 * file), emitted at the region's scope from the blocks' current weights.
 *
 * @example const budget = wormholeBudget(ctx, { region: 'region1', bound: 0.9, names, modules, target: 1, sources: [2], wormholes: 1 });
 */
export function wormholeBudget(ctx: BuildContext, a: BudgetArgs): LipschitzBound {
  const last = Math.max(...a.sources);
  const lip: LipschitzBound[] = [];
  for (let k = a.target; k <= last; k++) {
    try {
      lip.push(ctx.scope(a.names[k - 1], () => lipschitzOf(ctx, a.modules[k - 1])));
    } catch (e) {
      if (!(e instanceof SpecError)) throw e;
      throw new SpecError(`region '${a.region}': contractive: block '${a.names[k - 1]}' on the looped path: ${e.message}`);
    }
  }
  const through = (j: number) => boundProduct(ctx, lip.slice(0, j - a.target + 1));
  const c = boundSum(ctx, a.sources.map(through));
  return scaleInverse(ctx, c, a.bound / a.wormholes);
}

function scaleInverse(ctx: BuildContext, c: LipschitzBound, numerator: number): LipschitzBound {
  return typeof c === 'number' ? numerator / c : ops.div(ctx.graph, boundValue(ctx, numerator), c);
}
