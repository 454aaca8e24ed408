// spectral.onnx (src/lower/spectral.ts): the per-sample estimate of ρ(∂F/∂S)
// at the fixed point, checked against exact eigenvalues: of a matrix built
// with known ones (z ← Az + x, whose Jacobian is A), and of a dense TWNN
// region's Jacobian taken column by column by central differences of its sweep
// and handed to numpy's eig.
import { describe, expect, it } from 'vitest';
import { Graph, Tensor, type Value } from '../../src/ir/index.js';
import { defineModel, dense, region, sequential, tanh } from '../../src/index.js';
import { stageExport } from '../../src/lower/artifacts.js';
import { regionSweep } from '../../src/lower/fixed-point.js';
import { buildNetwork } from '../../src/lower/inference.js';
import { buildSpectralGraph, spectralRadii } from '../../src/lower/spectral.js';
import { SPECTRAL_FILE } from '../../src/contract/files.js';
import type { ModelSpec } from '../../src/twnn/spec.js';
import { linearGraph, solve, transposed, type Matrix } from './analytic-helpers.js';
import { checkedRunner, paramFeeds, randomTensor } from './region-helpers.js';
import { compileGraph } from '../helpers/ort.js';
import { python } from '../cli/run-cli.js';

const steps = (k: number) => Tensor.fromNumbers('int64', [], [k]);

/** A P D P⁻¹ with P = I + 0.3·N(0, 1): eigenvalues D's, eigenvectors far from orthogonal. */
function withEigenvalues(d: Matrix, seed: number): Matrix {
  const n = d.length;
  const noise = randomTensor([n, n], seed, 0.3).toNumbers();
  const p = d.map((row, i) => row.map((_, j) => (i === j ? 1 : 0) + noise[i * n + j]));
  const pd = p.map((row) => d[0].map((_, j) => row.reduce((s, v, k) => s + v * d[k][j], 0)));
  // X = P D P⁻¹ solves Pᵀ Xᵀ = (P D)ᵀ: row j of X is the column of Xᵀ that row j of P D gives.
  const pt = transposed(p);
  return pd.map((row) => solve(pt, row));
}

/** Block diagonal: 2×2 rotation-scalings r·[[cos θ, −sin θ], [sin θ, cos θ]] for [r, θ] pairs, then the reals. */
function blocks(pairs: [number, number][], reals: number[]): Matrix {
  const n = 2 * pairs.length + reals.length;
  const m: Matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  pairs.forEach(([r, t], k) => {
    const i = 2 * k;
    [m[i][i], m[i][i + 1], m[i + 1][i], m[i + 1][i + 1]] = [r * Math.cos(t), -r * Math.sin(t), r * Math.sin(t), r * Math.cos(t)];
  });
  reals.forEach((v, k) => (m[2 * pairs.length + k][2 * pairs.length + k] = v));
  return m;
}

describe('the spectral radius estimate on z ← Az + x, whose Jacobian is A', () => {
  const cases: [string, Matrix, number][] = [
    ['a complex dominant pair 0.9·e^{±1.1i}', withEigenvalues(blocks([[0.9, 1.1]], [0.5, -0.3, 0.1]), 1), 0.9],
    ['a real dominant pair ±0.8', withEigenvalues(blocks([], [0.8, -0.8, 0.5, 0.2, -0.1]), 2), 0.8],
    ['one real dominant 1.3 (diverging) over a complex pair 0.9', withEigenvalues(blocks([[0.9, 2]], [1.3, 0.4, -0.6]), 3), 1.3],
    ['a real dominant −0.7 (non-normal)', withEigenvalues(blocks([[0.3, 0.5]], [-0.7, 0.6, 0.05]), 4), 0.7],
  ];

  it.each(cases)('%s: within 1e-8 after 100 power steps, for every sample', async (_, a, rho) => {
    const g = linearGraph(false, { mode: 'implicit' }, a, { maxIter: 40 });
    const [{ radius }] = spectralRadii(g, g.input('power_steps', 'int64', []));
    g.output('spectral_radius', radius);
    const run = await checkedRunner(g);
    const x = randomTensor([3, a.length], 5);
    const out = await run.run({ x, A: Tensor.fromNumbers('float64', [a.length, a.length], a.flat()), power_steps: steps(100) });
    await run.release();
    for (const estimate of out.spectral_radius.toNumbers()) expect(Math.abs(estimate - rho)).toBeLessThan(1e-8);
  });

  it("the norm ratio ‖Aᵀv‖ that plain power iteration reads is wrong for the complex pair (so the Arnoldi read-out is needed)", () => {
    const a = cases[0][1];
    let v: number[] = a.map((_, i) => (i % 2 === 0 ? 1 : -1));
    const ratios: number[] = [];
    for (let k = 0; k < 110; k++) {
      const w = a[0].map((_, j) => a.reduce((s, row, i) => s + row[j] * v[i], 0)); // Aᵀv
      const ratio = Math.hypot(...w) / Math.hypot(...v);
      if (k >= 100) ratios.push(ratio);
      v = w.map((x) => x / Math.hypot(...w));
    }
    expect(Math.max(...ratios.map((r) => Math.abs(r - 0.9)))).toBeGreaterThan(1e-2);
  });
});

// --- a dense TWNN region -----------------------------------------------------------------------

const D = 5;
const block = () => sequential(dense(D, D), tanh());
const spec = (gateBias: number, maxIter = 200): ModelSpec =>
  defineModel({
    name: 'spectral_dense',
    input: { shape: ['B', D], dtype: 'float' },
    net: sequential({
      region1: region({ blocks: [block(), block(), block()], wormholes: [{ from: 3, to: 1, gateBias }], iterate: { tol: 1e-12, maxIter } }),
      head: dense(D, 2),
    }),
  });

/**
 * Per sample, ∂F/∂S at the forward Loop's S* by central differences of one
 * sweep (a graph with the states as inputs: the forward ops only, no VJP rule),
 * and numpy's eigenvalues of it, largest modulus first, as [re, im].
 */
async function exactEigenvalues(s: ModelSpec, feeds: Record<string, Tensor>): Promise<[number, number][][]> {
  const net = buildNetwork(s, { dtype: 'float64' }, 'input');
  const g: Graph = net.graph;
  const [rs] = g.nodes.flatMap((n) => regionSweep(n) ?? []);
  const states = rs.sStar.map((v, j) => g.input(`s${j}`, v.dtype, v.shape));
  const at = rs.replay(states);
  rs.sStar.forEach((v, j) => g.output(`s_star${j}`, v));
  at.sources.forEach((v: Value, j) => g.output(`f${j}`, v));
  const run = await compileGraph(g);
  expect(rs.sStar.length).toBe(1);
  // S* does not depend on the sweep's own state input.
  const base = await run.run({ ...feeds, s0: Tensor.zeros('float64', [feeds.x.shape[0], rs.sStar[0].shape[1] as number]) });
  const sStar = base.s_star0;
  const [batch, d] = sStar.shape;
  const f = async (delta: number, i: number) => {
    const s = sStar.toNumbers().map((v, k) => (k % d === i ? v + delta : v));
    return (await run.run({ ...feeds, s0: Tensor.fromNumbers('float64', sStar.shape, s) })).f0.toNumbers();
  };
  const eps = 1e-6;
  const jacobians = Array.from({ length: batch }, () => Array.from({ length: d }, () => new Array<number>(d).fill(0)));
  for (let i = 0; i < d; i++) {
    // Column i for every sample at once: a sample's sweep reads only its own row.
    const [plus, minus] = [await f(eps, i), await f(-eps, i)];
    for (let b = 0; b < batch; b++) for (let r = 0; r < d; r++) jacobians[b][r][i] = (plus[b * d + r] - minus[b * d + r]) / (2 * eps);
  }
  await run.release();
  const code = [
    'import json, sys, numpy as np',
    'out = []',
    'for j in json.loads(sys.argv[1]):',
    '    e = np.linalg.eigvals(np.array(j))',
    '    e = e[np.argsort(-np.abs(e))]',
    '    out.append([[float(v.real), float(v.imag)] for v in e])',
    'print(json.dumps(out))',
  ].join('\n');
  return JSON.parse(python(code, [JSON.stringify(jacobians)])) as [number, number][][];
}

describe("a dense TWNN region's spectral.onnx against numpy's eigenvalues of the exact Jacobian", () => {
  const x = randomTensor([8, D], 11, 2);

  const estimateAndExact = async (s: ModelSpec, weights?: Map<string, Tensor>, input = x) => {
    const built = buildSpectralGraph(s, { dtype: 'float64', ...(weights ? { weights } : {}) });
    const feeds = { x: input, ...paramFeeds(built.params) };
    const run = await checkedRunner(built.graph);
    const out = await run.run({ ...feeds, power_steps: steps(200) });
    await run.release();
    const eigen = await exactEigenvalues(s, feeds);
    return { estimate: out.spectral_radius.toNumbers(), eigen, rho: eigen.map((e) => Math.hypot(...e[0])) };
  };

  it('matches ρ within 1e-4 (relative) per sample, complex dominant pairs among them, and stays below 1 at initialisation', async () => {
    const { estimate, eigen, rho } = await estimateAndExact(spec(0));
    estimate.forEach((e, b) => expect(Math.abs(e - rho[b]) / rho[b], `sample ${b}: ${e} vs ${rho[b]}`).toBeLessThan(1e-4));
    expect(Math.max(...rho)).toBeLessThan(1);
    // The estimator's hard case is covered: some sample's dominant eigenvalues are a complex pair.
    expect(eigen.filter((e) => Math.abs(e[0][1]) > 1e-6).length).toBeGreaterThan(0);
  });

  it('flags a region whose wormhole gate was opened up: ρ > 1 exactly where the exact ρ is, within 1e-4', async () => {
    // Gate bias 4 (open), projections and block weights ×2, block biases 0: about the origin the sweep's
    // Jacobian has ρ ≈ 1.35, so samples near it drift away slowly and stop unsettled after 6 sweeps,
    // while larger inputs saturate the tanh and settle where ρ < 1.
    const opened = spec(4, 6);
    const weights = new Map(
      buildSpectralGraph(opened, { dtype: 'float64' }).params.map((p) => {
        const factor = p.name.includes('proj') || /\.b\d\.0\.weight$/.test(p.name) ? 2 : /\.b\d\.0\.bias$/.test(p.name) ? 0 : 1;
        return [p.name, Tensor.fromNumbers('float64', p.shape, p.value.toNumbers().map((v) => v * factor))];
      }),
    );
    const scales = [1e-3, 1e-3, 1e-3, 1e-3, 1, 1, 1, 1];
    const xs = Tensor.fromNumbers('float64', x.shape, x.toNumbers().map((v, i) => v * scales[Math.floor(i / D)]));
    const { estimate, rho } = await estimateAndExact(opened, weights, xs);
    estimate.forEach((e, b) => expect(Math.abs(e - rho[b]) / rho[b], `sample ${b}: ${e} vs ${rho[b]}`).toBeLessThan(1e-4));
    expect(rho.filter((r) => r > 1).length).toBeGreaterThan(0);
    expect(rho.filter((r) => r < 1).length).toBeGreaterThan(0);
    estimate.forEach((e, b) => expect(e > 1, `sample ${b}: ${e} vs ${rho[b]}`).toBe(rho[b] > 1));
  });
});

describe('the spectral.onnx export', () => {
  it('is written only on request, byte-identical across exports, and listed in the manifest with its inputs and outputs', () => {
    const plain = stageExport(spec(0), { dtype: 'float64' });
    expect(plain.files.map(([name]) => name)).not.toContain(SPECTRAL_FILE);
    const [a, b] = [stageExport(spec(0), { dtype: 'float64', spectral: true }), stageExport(spec(0), { dtype: 'float64', spectral: true })];
    const bytes = (s: typeof a) => s.files.find(([name]) => name === SPECTRAL_FILE)![1];
    expect(Buffer.from(bytes(a)).equals(Buffer.from(bytes(b)))).toBe(true);
    const listed = a.manifest.graphs[SPECTRAL_FILE];
    expect(listed.inputs.slice(0, 2).map((v) => v.name)).toEqual(['x', 'power_steps']);
    expect(listed.inputs.slice(2).map((v) => v.name)).toEqual(a.manifest.params.map((p) => p.name));
    expect(listed.outputs.map((v) => v.name)).toEqual(['spectral_radius']);
    expect(a.manifest.files[SPECTRAL_FILE].sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('with two regions: spectral_radius.<region> for each, and spectral_radius their maximum per sample', async () => {
    const twoRegions = defineModel({
      name: 'two_regions',
      input: { shape: ['B', D], dtype: 'float' },
      net: sequential({
        first: region({ blocks: [block(), block()], wormholes: [{ from: 2, to: 1, gateBias: 0 }] }),
        second: region({ blocks: [block(), block()], wormholes: [{ from: 2, to: 1, gateBias: 2 }] }),
      }),
    });
    const built = buildSpectralGraph(twoRegions, { dtype: 'float64' });
    expect(built.graph.outputs.map((v) => v.name)).toEqual(['spectral_radius', 'spectral_radius.first', 'spectral_radius.second']);
    const run = await checkedRunner(built.graph);
    const out = await run.run({ x: randomTensor([4, D], 3), ...paramFeeds(built.params), power_steps: steps(100) });
    await run.release();
    const [first, second] = [out['spectral_radius.first'].toNumbers(), out['spectral_radius.second'].toNumbers()];
    expect([...first, ...second].every((r) => r > 0 && r < 1)).toBe(true);
    expect(first).not.toEqual(second);
    expect(out.spectral_radius.toNumbers()).toEqual(first.map((r, b) => Math.max(r, second[b])));
  });

  it('names the model when it has no fixed-point region', () => {
    const plainNet = defineModel({ name: 'no_region', input: { shape: ['B', D], dtype: 'float' }, net: sequential(dense(D, D), tanh()) });
    expect(() => buildSpectralGraph(plainNet)).toThrow("model 'no_region': spectral.onnx estimates the spectral radius of a fixed-point region's sweep, and the model has no region");
  });
});
