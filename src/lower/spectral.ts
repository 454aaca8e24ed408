/**
 * Spectral diagnostics (spectral.onnx): per region and per sample, an
 * estimate of ρ(A), the spectral radius of A = ∂F/∂S at the fixed point S*.
 * Plain iteration settles when ρ(A) < 1, and the sweeps it needs grow like
 * log(tol)/log ρ(A); a ρ that creeps towards 1 during training is the trouble
 * the sweep counts show only later.
 *
 * Derivation. ρ(Aᵀ) = ρ(A), and Aᵀu is one VJP of the sweep at S* (the map
 * the adjoint Loop iterates, src/lower/adjoint.ts), so the estimate needs no
 * new rule. Power iteration from a fixed Rademacher probe v₀,
 *   v_{k+1} = Aᵀv_k / ‖Aᵀv_k‖,
 * pulls v_k into the dominant invariant subspace of Aᵀ at the rate
 * |λ₃|/|λ₁| per step once that subspace is taken as two-dimensional. Reading
 * ρ off ‖Aᵀv_k‖ alone is wrong for a real matrix whose dominant eigenvalues
 * are a complex pair r·e^{±iθ} (or ±r): v_k then turns in a plane and its
 * norm ratio oscillates around r without settling. So the last iterate gets
 * two steps of Arnoldi instead:
 *   q₁ = v_K,  y = Aᵀq₁,  h₁₁ = q₁·y,  r = y − h₁₁q₁,  h₂₁ = ‖r‖,  q₂ = r/h₂₁,
 *   z = Aᵀq₂,  h₁₂ = q₁·z,  h₂₂ = q₂·z,
 * and the estimate is the larger modulus of the eigenvalues of the 2×2
 * H = [[h₁₁, h₁₂], [h₂₁, h₂₂]] (the Ritz values of Aᵀ on span{v_K, Aᵀv_K}):
 * with t = (h₁₁ + h₂₂)/2, δ = det H, disc = t² − δ,
 *   ρ̂ = √δ               when disc < 0 (a complex pair, both of modulus √δ),
 *   ρ̂ = |t| + √disc      otherwise.
 * When span{v_K, Aᵀv_K} is invariant (two dominant eigenvalues, real or a
 * pair, and the rest decayed) the Ritz values are those eigenvalues exactly;
 * the error falls like (|λ₃|/|λ₁|)^K. When v_K is already an eigenvector
 * (h₂₁ ≤ √ε·‖y‖, ε the dtype's epsilon), q₂ would be rounding noise whose
 * Rayleigh quotient can exceed ρ for a non-normal A, so ρ̂ = |h₁₁| there.
 * Limits: three or more dominant eigenvalues of one modulus (a rotation of
 * order ≥ 3), or a gap |λ₃|/|λ₁| near 1, leave an estimate between the Ritz
 * values, which for a non-normal A may be off in either direction; more
 * `power_steps` is the remedy for the second.
 *
 * The probe is the Jacobian penalty's hashed Rademacher probe with a fixed
 * key (src/lower/jacobian.ts), so the export stays deterministic and two runs
 * on the same weights and batch give the same estimate.
 */
import { SpecError, Tensor, type DType, type Value } from '../ir/index.js';
import { abs, add, div, expand, filledLike, less, loop, mul, reduceSum, reshape, reshapeLike, scalar, shapeOf, slice, sqrt, sub, where } from '../ops/index.js';
import { vjpThrough } from '../autodiff/vjp-through.js';
import type { Graph } from '../ir/index.js';
import type { ModelSpec } from '../twnn/spec.js';
import { regionSweep, type RegionSweep } from './fixed-point.js';
import { buildNetwork, type BuildOptions, type BuiltGraph } from './inference.js';
import { rademacher, staticSize } from './jacobian.js';
import { emitIntoBody } from './loop-body.js';
import { pruneDeadNodes } from './prune.js';
import { sampleRows } from './settle.js';

/** The power steps twnn feeds spectral.onnx when the caller does not say (eval, train --spectral). */
export const DEFAULT_POWER_STEPS = 50;

/**
 * Build `spec`'s spectral graph: inputs `x`, `power_steps` (int64 []: the
 * power iterations before the Arnoldi read-out; 0 is allowed) and every
 * parameter and buffer as a plain input (as grad.onnx, so a trainer feeds the
 * weights it holds), in declaration order; outputs `spectral_radius` ([B]:
 * the largest estimate over the regions) and, with several regions,
 * `spectral_radius.<region>` for each. Layers run in inference mode,
 * skip-gated blocks in their dense form.
 *
 * @example
 * const { graph } = buildSpectralGraph(sineSpec, { dtype: 'float64' });
 * // run with { x, power_steps: 50n, ...weights }: spectral_radius ≈ ρ(∂F/∂S at S*) per sample
 */
export function buildSpectralGraph(spec: ModelSpec, options: BuildOptions = {}): BuiltGraph {
  const net = buildNetwork(spec, { ...options, blockSkipping: 'off' }, 'input');
  const { graph: g } = net;
  const radii = spectralRadii(g, g.input('power_steps', 'int64', []));
  if (radii.length === 0) throw new SpecError(`model '${spec.name}': spectral.onnx estimates the spectral radius of a fixed-point region's sweep, and the model has no region`);
  g.output('spectral_radius', radii.map((r) => r.radius).reduce((a, b) => where(g, less(g, a, b), b, a)));
  if (radii.length > 1) for (const r of radii) g.output(`spectral_radius.${r.region}`, r.radius);
  pruneDeadNodes(g, { subgraphs: true });
  // x and power_steps first, then the parameters as the network declared them.
  g.inputs.sort((a, b) => rank(a) - rank(b));
  return { graph: g, params: net.params };
}

/**
 * For each fixed-point region of the inference-mode graph `g` (its top-level
 * forward Loops, in graph order), the estimate ρ̂ ([B]) of the spectral
 * radius of ∂F/∂S at the Loop's S*, after `steps` (int64 []) power
 * iterations: nodes emitted into `g`, nothing declared as an output.
 *
 * @example const [{ region, radius }] = spectralRadii(g, g.input('power_steps', 'int64', []));
 */
export function spectralRadii(g: Graph, steps: Value): { region: string; radius: Value }[] {
  return g.nodes
    .flatMap((n) => regionSweep(n) ?? [])
    .map((r) => ({ region: r.config.region, radius: g.scope(`${r.config.region.split('.').join('/')}/spectral`, () => spectralRadius(g, r, steps)) }));
}

function rank(v: Value): number {
  return v.name === 'x' ? 0 : v.name === 'power_steps' ? 1 : 2;
}

/** ρ̂ per sample ([B]) of one region: power iteration through the sweep's VJP at S*, then the 2×2 Arnoldi read-out. */
function spectralRadius(g: Graph, region: RegionSweep, steps: Value): Value {
  const { sStar, config } = region;
  const start = g.nodes.length;
  const at = region.replay(sStar);
  const sweepNodes = g.nodes.slice(start);
  const dtype = sStar[0].dtype;
  const sizes = sStar.map((s) => staticSize(s, `region '${config.region}' spectral radius`));
  const offsets = sizes.map((_, j) => sizes.slice(0, j).reduce((a, n) => a + n, 0));

  // Aᵀ on [B, d] rows: split into the states, one VJP of the sweep at S*, back to rows.
  const aT = (into: Graph, rows: Value): Value => {
    const parts = sStar.map((s, j) => reshapeLike(into, slice(into, rows, [offsets[j]], [offsets[j] + sizes[j]], [1]), s));
    const seeds = new Map<Value, Value>();
    at.sources.forEach((s, j) => seeds.set(s, seeds.has(s) ? add(into, seeds.get(s)!, parts[j]) : parts[j]));
    const cotangents = vjpThrough({ nodes: sweepNodes, seeds, wrt: sStar, into, scope: 'power_vjp' });
    return sampleRows(into, cotangents.map((c, j) => c ?? filledLike(into, sStar[j], 0)));
  };

  const probe = sampleRows(g, sStar.map((s, j) => expand(g, rademacher(g, s, g.constant(Tensor.scalar(0, 'int64')), j + 1), shapeOf(g, s))));
  const { carried } = loop(g, {
    name: 'power',
    fixedName: `${config.region.split('.').join('/')}/power`,
    maxTrip: steps,
    carried: [normalized(g, probe)],
    carriedNames: ['v'],
    doc: `twnn spectral radius of region '${config.region}': v <- (dF/dS)^T v / |(dF/dS)^T v| at the fixed point, power_steps times`,
    body: (b, it) => ({ carried: emitIntoBody(b, (scratch) => [normalized(scratch, aT(scratch, it.carried[0]))], { hoist: config.hoistInvariants ?? true }) }),
  });

  const q1 = carried[0];
  const y = aT(g, q1);
  const h11 = dot(g, q1, y);
  const r = sub(g, y, mul(g, h11, q1));
  const h21 = norm(g, r);
  const q2 = div(g, r, atLeast(g, h21));
  const z = aT(g, q2);
  const h12 = dot(g, q1, z);
  const h22 = dot(g, q2, z);
  const half = scalar(g, 0.5, dtype);
  const t = mul(g, add(g, h11, h22), half);
  const det = sub(g, mul(g, h11, h22), mul(g, h12, h21));
  const disc = sub(g, mul(g, t, t), det);
  const zero = scalar(g, 0, dtype);
  const ritz = where(g, less(g, disc, zero), sqrt(g, atLeast(g, det, 0)), add(g, abs(g, t), sqrt(g, atLeast(g, disc, 0))));
  const eigenvector = less(g, h21, mul(g, norm(g, y), scalar(g, Math.sqrt(EPSILON[dtype] ?? FLOAT32_EPSILON), dtype)));
  return reshape(g, where(g, eigenvector, abs(g, h11), ritz), [-1]);
}

/** Machine epsilon of the float dtypes a model is built in (float32's for the others). */
const EPSILON: Partial<Record<DType, number>> = { float64: 2 ** -52 };
const FLOAT32_EPSILON = 2 ** -23;

/** Per-row dot product of two [B, d] values: [B, 1]. */
function dot(g: Graph, a: Value, b: Value): Value {
  return reduceSum(g, mul(g, a, b), [1], true);
}

/** Per-row Euclidean norm: [B, 1]. */
function norm(g: Graph, a: Value): Value {
  return sqrt(g, dot(g, a, a));
}

/** max(v, least): a zero row stays zero instead of becoming NaN when divided by its norm. */
function atLeast(g: Graph, v: Value, least: number = 1e-30): Value {
  const bound = scalar(g, least, v.dtype);
  return where(g, less(g, v, bound), bound, v);
}

function normalized(g: Graph, rows: Value): Value {
  return div(g, rows, atLeast(g, norm(g, rows)));
}
