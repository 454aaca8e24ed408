// Analytic fixed points for the lowering tests: a hand-written sweep built
// straight through lowerFixedPoint (no TWNN region), and the linear contraction
// z = Az + b with its closed forms.
import { backward } from '../../src/autodiff/transform.js';
import { Graph, Tensor, type Value } from '../../src/ir/index.js';
import { add, gemm, mul, reduceSum } from '../../src/ops/index.js';
import { lowerFixedPoint, type BackwardMode, type FixedPointConfig, type Sweep } from '../../src/lower/fixed-point.js';
import { BuildContext } from '../../src/twnn/module.js';
import { regionSweeps } from '../../src/twnn/region-sweeps.js';
import { init } from '../../src/twnn/index.js';

/** A config for a hand-written sweep: no wormholes, float64-tight tolerances. */
export function fixedPointConfig(region: string, backwardMode: BackwardMode, overrides: Partial<FixedPointConfig> = {}): FixedPointConfig {
  return {
    region, tol: 1e-14, maxIter: 500, minIter: 1, norm: 'max', solver: { kind: 'plain' }, returnIterate: 'best', onMaxIter: 'warn',
    backward: backwardMode, backwardTol: 1e-14, backwardMaxIter: 500, backwardNorm: 'max', backwardSolver: { kind: 'plain' },
    jacobianPenalty: 0, sweeps: 'active', compactBelow: 0.5, wormholes: [], ...overrides,
  };
}

/**
 * A graph holding one fixed point of `makeSweep` over input `x` [B, n]: outputs
 * `y`, `iterations`, `residual`; training graphs add the loss Σ u ⊙ y and
 * `grad.<param>` / `grad.x` for the given parameters.
 */
export function analyticGraph(options: {
  n: number;
  training: boolean;
  config: FixedPointConfig;
  params?: [name: string, value: Tensor][];
  makeSweep: (ctx: BuildContext, x: Value, params: Value[]) => Sweep;
}): Graph {
  const g = new Graph(`analytic_${options.config.region}`);
  const weights = new Map(options.params ?? []);
  const ctx = new BuildContext(g, { dtype: 'float64', seed: 0, mode: 'input', weights, training: options.training });
  const x = g.input('x', 'float64', ['B', options.n]);
  const params = (options.params ?? []).map(([name, t]) => ctx.param(name, t.shape, init.zeros()));
  const y = lowerFixedPoint(regionSweeps(ctx, options.makeSweep(ctx, x, params), options.config.region), options.config);
  g.output('y', y);
  const [report] = ctx.iterators;
  g.output('iterations', report.iterations);
  g.output('residual', report.residual);
  if (options.training) {
    const u = g.input('u', 'float64', y.shape);
    const loss = reduceSum(g, mul(g, u, y), [], false);
    const grads = backward(g, loss, [...params, x]);
    params.forEach((p, i) => g.output(`grad.${p.name}`, grads[i]));
    g.output('grad.x', grads[params.length]);
    if (report.backwardIterations) g.output('iterations_backward', report.backwardIterations);
  }
  return g;
}

// --- small dense linear algebra for the closed forms --------------------------------------

export type Matrix = number[][];

/** Solve M z = r by Gaussian elimination with partial pivoting. */
export function solve(m: Matrix, r: readonly number[]): number[] {
  const n = r.length;
  const a = m.map((row, i) => [...row, r[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let i = c + 1; i < n; i++) if (Math.abs(a[i][c]) > Math.abs(a[p][c])) p = i;
    [a[c], a[p]] = [a[p], a[c]];
    for (let i = c + 1; i < n; i++) {
      const f = a[i][c] / a[c][c];
      for (let k = c; k <= n; k++) a[i][k] -= f * a[c][k];
    }
  }
  const z = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = a[i][n];
    for (let k = i + 1; k < n; k++) s -= a[i][k] * z[k];
    z[i] = s / a[i][i];
  }
  return z;
}

export const identityMinus = (a: Matrix): Matrix => a.map((row, i) => row.map((v, j) => (i === j ? 1 : 0) - v));
export const transposed = (a: Matrix): Matrix => a[0].map((_, j) => a.map((row) => row[j]));
export const rows = (t: Tensor): number[][] => {
  const n = t.shape[1];
  return [...Array(t.shape[0]).keys()].map((b) => t.toNumbers().slice(b * n, (b + 1) * n));
};

// --- (a) a linear contraction z = A z + b ------------------------------------------------

// ‖A‖∞ = 0.8 < 1, so the spectral radius is below 1 and z ← Az + b converges.
export const A: Matrix = [
  [0.3, -0.2, 0.1],
  [0.1, 0.4, -0.3],
  [0.2, 0.1, 0.25],
];

/** z ← A z + b with A a parameter and b the input x (rows are samples: z Aᵀ + b). */
export const linearSweep = (ctx: BuildContext, b: Value, [a]: Value[]): Sweep => (sOld) => {
  // F(0) = A·0 + b = b.
  const z = sOld ? add(ctx.graph, gemm(ctx.graph, sOld[0], a, undefined, { transB: true }), b) : b;
  return { sources: [z], output: z };
};

export function linearGraph(training: boolean, backwardMode: BackwardMode, matrix: Matrix = A, overrides: Partial<FixedPointConfig> = {}): Graph {
  const n = matrix.length;
  return analyticGraph({
    n,
    training,
    config: fixedPointConfig('linear', backwardMode, overrides),
    params: [['A', Tensor.fromNumbers('float64', [n, n], matrix.flat())]],
    makeSweep: linearSweep,
  });
}


/**
 * The closed forms of the linear contraction z = Az + b with the loss
 * L = Σ_s ⟨u_s, z*_s⟩: z* = (I − A)⁻¹ b, ∂L/∂b_s = (I − A)⁻ᵀ u_s,
 * ∂L/∂A = Σ_s ((I − A)⁻ᵀ u_s) z*_sᵀ (rows are samples).
 *
 * @example const { zStar, bBar, aBar } = linearClosedForms(b, u);
 */
export function linearClosedForms(b: Tensor, u: Tensor, a: Matrix = A): { zStar: number[][]; bBar: number[][]; aBar: number[][] } {
  const inverse = identityMinus(a);
  const zStar = rows(b).map((bs) => solve(inverse, bs));
  const bBar = rows(u).map((us) => solve(transposed(inverse), us));
  const aBar = a.map((row, i) => row.map((_, j) => bBar.reduce((s, w, k) => s + w[i] * zStar[k][j], 0)));
  return { zStar, bBar, aBar };
}
