// Active-set sweeps and loop-invariant hoisting (issue 11, src/lower/loop-body.ts):
// each step of a region's forward, adjoint and tangent Loops computes only the
// samples still iterating, and what a Loop body would recompute every step from
// outer values alone runs once before the Loop. Neither may change a number:
// each sample's output, sweeps, adjoint or tangent steps and gradient equal its
// batch-of-1 run and the dense form's, on the trained TWNN ResNet, whose
// samples settle after very different numbers of sweeps.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import mnistResnet from '../../graphs/mnist-resnet.js';
import mnistMlp from '../../graphs/mnist-mlp.js';
import { Graph, Tensor, type Node } from '../../src/ir/index.js';
import { buildInferenceGraph, type BuildOptions } from '../../src/lower/inference.js';
import { buildJvpGraph } from '../../src/lower/jvp.js';
import { buildGradGraph } from '../../src/lower/training.js';
import { readInitializers, readModelFile } from '../../src/onnx/load.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { openSession } from '../../src/runtime/session.js';
import type { ParamInfo } from '../../src/twnn/module.js';
import type { ModelSpec } from '../../src/twnn/spec.js';
import { checkBatch } from '../../tools/gradient-accuracy.js';
import { REPO } from '../cli/run-cli.js';
import { relativeError, sampleOf } from './region-helpers.js';

type Outputs = Record<string, Tensor>;

async function runOnce(graph: Graph, feeds: Record<string, Tensor>): Promise<Outputs> {
  const session = await openSession(serializeModel(graph), { where: graph.name });
  try {
    return await session.run(feeds);
  } finally {
    await session.close();
  }
}

/** The graph's outputs for the whole batch, and for each sample alone. */
async function batchAndAlone(graph: Graph, feeds: Record<string, Tensor>, perSample: readonly string[], rows: number): Promise<{ batch: Outputs; alone: Outputs[] }> {
  const session = await openSession(serializeModel(graph), { where: graph.name });
  try {
    const batch = await session.run(feeds);
    const alone: Outputs[] = [];
    for (let b = 0; b < rows; b++) {
      const one = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, perSample.includes(k) ? sampleOf(v, b) : v]));
      alone.push(await session.run(one));
    }
    return { batch, alone };
  } finally {
    await session.close();
  }
}

function loopNamed(g: Graph, name: string): Node {
  const node = g.nodes.find((n) => n.opType === 'Loop' && n.name === name);
  if (!node) throw new Error(`no Loop '${name}' in ${g.name}`);
  return node;
}

function weightsOf(name: string): Promise<Map<string, Tensor>> {
  const file = resolve(REPO, 'exported/paper', name, 'model.onnx');
  if (!existsSync(file)) throw new Error(`${file}: the committed paper run is missing`);
  return readModelFile(file).then((m) => readInitializers(m, file));
}

const ROWS = 6;

function gradFeeds(graph: Graph, params: readonly ParamInfo[], batch: { x: Tensor; target: Tensor }): Record<string, Tensor> {
  return { x: batch.x, target: batch.target, ...Object.fromEntries(params.filter((p) => graph.inputs.some((v) => v.name === p.name)).map((p) => [p.name, p.value])) };
}

// The ResNet's stem normalises with batch statistics in training graphs, so only
// the MLP's training graph is per-sample end to end: there, a sample alone must
// get what it gets in the batch.
describe('graphs/mnist-mlp.ts grad.onnx, trained weights', () => {
  it('each sample gets its batch-of-1 sweeps, adjoint steps and x-gradient; the parameters\' gradient is the mean of the samples\'', async () => {
    const spec = mnistMlp;
    const batch = await checkBatch(spec, 'float32', ROWS);
    const { graph, params } = buildGradGraph(spec, { weights: await weightsOf('mnist-mlp') });
    const { batch: out, alone } = await batchAndAlone(graph, gradFeeds(graph, params, batch), ['x', 'target'], ROWS);
    expect(new Set(out.iterations.toNumbers()).size).toBeGreaterThan(1);
    alone.forEach((one, b) => {
      expect(out.iterations.get(b), `sample ${b}`).toBe(one.iterations.get(0));
      // The loss is a batch mean: alone, a sample's ḡ is B times larger. The adjoint's relative stop is
      // scale-free, but float32 rounds the scaled series differently, so a step more or less may happen.
      expect(Math.abs(Number(out.iterations_backward.get(b)) - Number(one.iterations_backward.get(0))), `sample ${b}`).toBeLessThanOrEqual(1);
      const scaled = sampleOf(out['grad.x'], b).toNumbers().map((v) => v * ROWS);
      expect(relativeError(scaled, one['grad.x'].toNumbers(), 1e-6), `grad.x of sample ${b}`).toBeLessThan(1e-3);
    });
    for (const name of Object.keys(out).filter((k) => k.startsWith('grad.') && k !== 'grad.x')) {
      const singles = alone.map((one) => one[name].toNumbers());
      const mean = out[name].toNumbers().map((_, i) => singles.reduce((s, one) => s + one[i], 0) / ROWS);
      expect(relativeError(out[name].toNumbers(), mean, 1e-3), name).toBeLessThan(1e-3);
    }
  });
});

describe.each([
  ['graphs/mnist-resnet.ts', mnistResnet, 'mnist-resnet', 1e-5],
  ['graphs/mnist-mlp.ts', mnistMlp, 'mnist-mlp', 1e-5],
] as const)('%s, trained weights', (_file, spec: ModelSpec, run, tol) => {
  let options: BuildOptions;
  let batch: { x: Tensor; target: Tensor };
  beforeAll(async () => {
    options = { weights: await weightsOf(run) };
    batch = await checkBatch(spec, 'float32', ROWS);
  });
  const build = (sweeps: 'active' | 'dense') => ({ ...options, regionOverrides: { sweeps } });

  it('inference: each sample gets its batch-of-1 y and sweeps, and the dense form gets the same', async () => {
    const { batch: out, alone } = await batchAndAlone(buildInferenceGraph(spec, build('active')).graph, { x: batch.x }, ['x'], ROWS);
    const sweeps = out.iterations.toNumbers();
    expect(new Set(sweeps).size, `sweeps ${sweeps}`).toBeGreaterThan(1);
    alone.forEach((one, b) => {
      expect(out.iterations.get(b), `sample ${b}`).toBe(one.iterations.get(0));
      expect(relativeError(sampleOf(out.y, b).toNumbers(), one.y.toNumbers(), 1)).toBeLessThan(tol);
    });
    const dense = await runOnce(buildInferenceGraph(spec, build('dense')).graph, { x: batch.x });
    expect(dense.iterations.toNumbers()).toEqual(sweeps);
    expect(relativeError(dense.y.toNumbers(), out.y.toNumbers(), 1)).toBeLessThan(tol);
  });

  it('grad.onnx: the same sweeps, adjoint steps and gradients as the dense form', async () => {
    const { graph, params } = buildGradGraph(spec, build('active'));
    const feeds = gradFeeds(graph, params, batch);
    const out = await runOnce(graph, feeds);
    expect(new Set(out.iterations_backward.toNumbers()).size).toBeGreaterThan(1);
    const dense = await runOnce(buildGradGraph(spec, build('dense')).graph, feeds);
    expect(dense.iterations.toNumbers()).toEqual(out.iterations.toNumbers());
    expect(dense.iterations_backward.toNumbers()).toEqual(out.iterations_backward.toNumbers());
    const gradNames = Object.keys(out).filter((k) => k.startsWith('grad.'));
    expect(gradNames.length).toBeGreaterThan(4);
    for (const name of gradNames) expect(relativeError(dense[name].toNumbers(), out[name].toNumbers(), 1e-3), name).toBeLessThan(1e-5);
  });

  it.each([undefined, 'phantom:4'] as const)('the adjoint Loops\' bodies keep only what varies (backward %s): the sweep\'s linearisation is computed once, before them', (backward) => {
    const { graph } = buildGradGraph(spec, { ...options, regionOverrides: backward ? { backward: { mode: 'phantom', k: 4 } } : {} });
    const adjoints = graph.nodes.filter((n) => n.opType === 'Loop' && /\/(adjoint|phantom)$/.test(n.name));
    expect(adjoints.length).toBeGreaterThan(0);
    for (const loop of adjoints) {
      const body = loop.subgraphs()[0];
      // Every body node but a literal reads something the body computes (its inputs included).
      const invariant = body.nodes.filter((n) => n.opType !== 'Constant' && n.inputs.every((v) => !v || v.graph !== body));
      expect(invariant.map((n) => n.name), loop.name).toEqual([]);
      const hoisted = graph.nodes.filter((n) => n !== loop && n.name.startsWith(`${loop.name}/`));
      expect(hoisted.length, `${loop.name}: nodes hoisted before it`).toBeGreaterThan(5);
    }
  });

  it('without hoisting (a measuring override) the adjoint bodies recompute the invariants, to the same gradients', async () => {
    // Every node in the adjoint Loops' bodies, the working sets' nested Loops included.
    const nodesIn = (body: Graph): number => body.nodes.reduce((s, n) => s + 1 + n.subgraphs().reduce((t, sub) => t + nodesIn(sub), 0), 0);
    const bodySize = (g: Graph) => g.nodes.filter((n) => n.opType === 'Loop' && n.name.endsWith('/adjoint')).reduce((s, n) => s + nodesIn(n.subgraphs()[0]), 0);
    const hoisted = buildGradGraph(spec, build('active'));
    const inline = buildGradGraph(spec, { ...options, regionOverrides: { hoistInvariants: false } });
    expect(bodySize(inline.graph)).toBeGreaterThan(bodySize(hoisted.graph));
    const feeds = gradFeeds(hoisted.graph, hoisted.params, batch);
    const [a, b] = [await runOnce(hoisted.graph, feeds), await runOnce(inline.graph, feeds)];
    expect(b.iterations_backward.toNumbers()).toEqual(a.iterations_backward.toNumbers());
    for (const name of Object.keys(a).filter((k) => k.startsWith('grad.'))) expect(relativeError(b[name].toNumbers(), a[name].toNumbers(), 1e-3), name).toBeLessThan(1e-5);
  });

  // Lazy compaction (issue 21): working sets gathered when fewer than compactBelow of their rows still
  // iterate, settled rows frozen inside them. 0 keeps one working set to the end; 1 gathers every step.
  it.each([0, 0.5, 0.9, 1])('compactBelow %s: each sample gets its batch-of-1 y and sweeps, and grad.onnx the eager form\'s adjoint steps and gradients', async (compactBelow) => {
    const lazy = { ...options, regionOverrides: { compactBelow } };
    const inference = buildInferenceGraph(spec, lazy).graph;
    const forward = loopNamed(inference, 'region1/iterate');
    const nested = forward.subgraphs()[0].nodes.filter((n) => n.opType === 'Loop');
    expect(nested.map((n) => n.name)).toEqual(compactBelow < 1 ? ['region1/iterate/working_set'] : []);
    if (compactBelow < 1) {
      // A working set's step reads its rows and shapes from the set's graph: no row bookkeeping per step.
      const perStep = nested[0].subgraphs()[0].nodes.map((n) => n.opType);
      for (const op of ['Gather', 'ScatterND', 'NonZero', 'Shape']) expect(perStep, op).not.toContain(op);
    }
    const { batch: out, alone } = await batchAndAlone(inference, { x: batch.x }, ['x'], ROWS);
    alone.forEach((one, b) => {
      expect(out.iterations.get(b), `sample ${b}`).toBe(one.iterations.get(0));
      expect(relativeError(sampleOf(out.y, b).toNumbers(), one.y.toNumbers(), 1)).toBeLessThan(tol);
    });
    const { graph, params } = buildGradGraph(spec, lazy);
    const feeds = gradFeeds(graph, params, batch);
    const [got, eager] = [await runOnce(graph, feeds), await runOnce(buildGradGraph(spec, { ...options, regionOverrides: { compactBelow: 1 } }).graph, feeds)];
    expect(got.iterations.toNumbers()).toEqual(eager.iterations.toNumbers());
    expect(got.iterations_backward.toNumbers()).toEqual(eager.iterations_backward.toNumbers());
    for (const name of Object.keys(eager).filter((k) => k.startsWith('grad.'))) expect(relativeError(got[name].toNumbers(), eager[name].toNumbers(), 1e-3), name).toBeLessThan(1e-5);
  });

  it('jvp.onnx: each sample gets its batch-of-1 tangent and tangent steps', async () => {
    const { graph } = buildJvpGraph(spec, build('active'));
    expect(loopNamed(graph, 'region1/tangent').loopConfig?.sweeps).toBe('active');
    const xDot = Tensor.fromNumbers('float32', batch.x.shape, batch.x.toNumbers().map((_, i) => Math.sin(i) * 0.1));
    const { batch: out, alone } = await batchAndAlone(graph, { x: batch.x, x_dot: xDot }, ['x', 'x_dot'], ROWS);
    alone.forEach((one, b) => {
      expect(out.iterations_tangent.get(b), `sample ${b}`).toBe(one.iterations_tangent.get(0));
      expect(relativeError(sampleOf(out.y_dot, b).toNumbers(), one.y_dot.toNumbers(), 1e-3)).toBeLessThan(1e-4);
    });
  });
});
