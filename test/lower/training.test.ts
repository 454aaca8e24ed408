// The training graphs (grad.onnx, train.onnx, train_steps.onnx), the model
// contract's iteration outputs, and the export of all of them: names and shapes
// of docs/DESIGN.md §3, onnx's checker, train.onnx against its own parts, K fused steps
// against K single ones, a short training run, and byte-identical exports.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import mlpSpec from '../../graphs/mnist-mlp-plain.js';
import resnetSpec from '../../graphs/mnist-resnet-plain.js';
import sineSpec from '../../graphs/sine-mlp.js';
import { Graph, Tensor, type DType, type Value } from '../../src/ir/index.js';
import type { OptimizerConfig } from '../../src/autodiff/optimizers.js';
import { batchNorm2d, buildInferenceGraph, conv2d, defineModel, dense, exportModel, flatten, relu, sequential, SpecError, tanh, type Manifest, type ModelSpec } from '../../src/index.js';
import { inlineGraph } from '../../src/lower/inline.js';
import { buildGradGraph, buildTrainGraph, buildTrainStepsGraph, taskLoss, type TrainingGraph } from '../../src/lower/training.js';
import { onnx } from '../../src/onnx/proto.js';
import { region } from '../../src/twnn/region.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { add, gather, loop, mul } from '../../src/ops/index.js';
import { compileGraph, runGraph } from '../helpers/ort.js';
import { expectOnnxValid } from '../helpers/onnx-checker.js';
import { randn, seededRandom } from '../helpers/rng.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-training-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshDir = () => join(root, `out${counter++}`);

const describeAll = (vs: readonly Value[]) => vs.map((v) => v.describe());
const random = (seed: number, n: number, scale = 1) => randn(seededRandom(seed), n).map((v) => v * scale);

/** Feeds for a train graph's first step: a batch, lr, step 1, the initial parameters and zero optimizer state. */
function firstStepFeeds(t: TrainingGraph, x: Tensor, target: Tensor, lr: number): Record<string, Tensor> {
  const dtype = x.dtype;
  const feeds: Record<string, Tensor> = { x, target, lr: Tensor.scalar(lr, dtype), step: Tensor.scalar(1, 'int64') };
  for (const p of t.params) {
    feeds[p.name] = p.value;
    for (const slot of t.state[p.name] ?? []) feeds[`${p.name}.${slot}`] = Tensor.zeros(dtype, p.shape);
  }
  return feeds;
}

/** The feeds of the next step: every `<name>.new` output replaces input `<name>`. */
function nextFeeds(feeds: Record<string, Tensor>, out: Record<string, Tensor>): Record<string, Tensor> {
  const next: Record<string, Tensor> = { ...feeds, step: Tensor.scalar(feeds.step.get(0) + 1, 'int64') };
  for (const name of Object.keys(feeds)) if (out[`${name}.new`]) next[name] = out[`${name}.new`];
  return next;
}

const bnNet = defineModel({
  name: 'bn-net',
  input: { shape: ['B', 1, 4, 4] },
  net: sequential({ conv: conv2d(1, 2, 3, { padding: 1 }), bn: batchNorm2d(2), act: relu(), flat: flatten() }),
});

/** A wormhole with an open gate (bias +1), so samples take several sweeps. */
const regionNet = defineModel({
  name: 'region-net',
  input: { shape: ['B', 4] },
  net: sequential(dense(4, 8), region({ blocks: [sequential(dense(8, 8), tanh()), sequential(dense(8, 8), tanh())], wormholes: [{ from: 2, to: 1, gateBias: 1 }] }), dense(8, 1)),
});

describe('graph contracts (docs/DESIGN.md §3)', () => {
  it('grad.onnx: x, target and the parameters in; loss, grad.<param> and grad.x out; no initializers', () => {
    const { graph, trainable, loss } = buildGradGraph(sineSpec);
    expect(loss).toBe('mse');
    expect(graph.initializers).toEqual([]);
    expect(describeAll(graph.inputs)).toEqual([
      'x: float32[B,16]', 'target: float32[B,1]',
      '0.weight: float32[32,16]', '0.bias: float32[32]', '2.weight: float32[32,32]', '2.bias: float32[32]', '4.weight: float32[1,32]', '4.bias: float32[1]',
    ]);
    expect(describeAll(graph.outputs)).toEqual([
      'loss: float32[]',
      ...['0.weight: float32[32,16]', '0.bias: float32[32]', '2.weight: float32[32,32]', '2.bias: float32[32]', '4.weight: float32[1,32]', '4.bias: float32[1]'].map((s) => `grad.${s}`),
      'grad.x: float32[B,16]',
      'iterations: int64[B]', 'iterations_backward: int64[B]', 'unsettled: int64[B]',
    ]);
    expect(trainable).toEqual(['0.weight', '0.bias', '2.weight', '2.bias', '4.weight', '4.bias']);
  });

  it('cross-entropy graphs take int64 labels [B] as target', () => {
    expect(taskLoss(mlpSpec)).toBe('cross_entropy');
    const { graph } = buildGradGraph(mlpSpec, { dtype: 'float64' });
    expect(describeAll(graph.inputs.slice(0, 2))).toEqual(['x: float64[B,784]', 'target: int64[B]']);
  });

  it('train.onnx: lr, step, states in; new parameters, states, counts out', () => {
    const t = buildTrainGraph(sineSpec, { optimizer: { kind: 'sgd', momentum: 0.9 } });
    expect(t.state).toEqual(Object.fromEntries(t.trainable.map((n) => [n, ['m']])));
    const names = (vs: readonly Value[]) => vs.map((v) => v.name);
    expect(names(t.graph.inputs)).toEqual(['x', 'target', 'lr', 'step', ...t.trainable, ...t.trainable.map((n) => `${n}.m`)]);
    expect(names(t.graph.outputs)).toEqual(['loss', ...t.trainable.flatMap((n) => [`${n}.new`, `${n}.m.new`]), 'iterations', 'iterations_backward', 'unsettled']);
    expect(describeAll(t.graph.inputs.slice(2, 4))).toEqual(['lr: float32[]', 'step: int64[]']);
    expect(describeAll(t.graph.outputs.slice(-3))).toEqual(['iterations: int64[B]', 'iterations_backward: int64[B]', 'unsettled: int64[B]']);
    const adam = buildTrainGraph(sineSpec);
    expect(adam.optimizer).toMatchObject({ kind: 'adam', lr: 1e-3 });
    expect(names(adam.graph.outputs).slice(1, 4)).toEqual(['0.weight.new', '0.weight.m.new', '0.weight.v.new']);
  });

  it('train_steps.onnx: x and target stacked [K, ...], the same outputs with per-step ones stacked', () => {
    const t = buildTrainStepsGraph(sineSpec);
    expect(describeAll(t.graph.inputs.slice(0, 2))).toEqual(['x: float32[K,B,16]', 'target: float32[K,B,1]']);
    const one = buildTrainGraph(sineSpec);
    expect(t.graph.inputs.slice(2).map((v) => v.describe())).toEqual(describeAll(one.graph.inputs.slice(2)));
    expect(t.graph.outputs.map((v) => v.name)).toEqual(one.graph.outputs.map((v) => v.name));
    expect(t.graph.outputs[0].rank).toBe(1);
    expect(t.graph.outputs.at(-1)!.shape[1]).toBe('B');
  });

  it.each(['float32', 'float64'] as DType[])('every training graph passes the onnx checker (%s)', (dtype) => {
    const models = [sineSpec, mlpSpec].flatMap((spec) => {
      const train = buildTrainGraph(spec, { dtype });
      return [buildGradGraph(spec, { dtype }).graph, train.graph, buildTrainStepsGraph(spec, { dtype }, train).graph].map((g) => serializeModel(g));
    });
    expectOnnxValid(models);
  });

  it('model.onnx reports one sweep and a zero residual per sample for a plain network', async () => {
    const { graph } = buildInferenceGraph(sineSpec, { dtype: 'float64' });
    expect(describeAll(graph.outputs)).toEqual(['y: float64[B,1]', 'iterations: int64[B]', 'residual: float64[B]', 'unsettled: int64[B]']);
    const out = await runGraph(graph, { x: Tensor.fromNumbers('float64', [3, 16], random(1, 48)) });
    expect(out.iterations.toNumbers()).toEqual([1, 1, 1]);
    expect(out.residual.toNumbers()).toEqual([0, 0, 0]);
    expect(out.unsettled.toNumbers()).toEqual([0, 0, 0]);
  });

  it('explains a loss the network output cannot take, and float64 conv training', () => {
    const cube = defineModel({ name: 'cube', input: { shape: ['B', 3, 2] }, net: relu() });
    expect(() => buildGradGraph(cube, { loss: 'cross_entropy' })).toThrow(SpecError);
    expect(() => buildGradGraph(cube, { loss: 'cross_entropy' })).toThrow(/model 'cube': cross_entropy needs logits \[B, classes\], but the network's output is .*float32\[B,3,2\]/);
    expect(() => buildTrainGraph(resnetSpec, { dtype: 'float64' })).toThrow(/conv networks must be built in float32/);
  });
});

describe('train.onnx computes what its parts compute', () => {
  it("equals grad.onnx's gradients put through Adam by hand (float64)", async () => {
    const x = Tensor.fromNumbers('float64', [4, 16], random(2, 64));
    const target = Tensor.fromNumbers('float64', [4, 1], random(3, 4));
    const grad = buildGradGraph(sineSpec, { dtype: 'float64' });
    const train = buildTrainGraph(sineSpec, { dtype: 'float64', optimizer: { kind: 'adam', weightDecay: 0.01 } });
    const feeds = firstStepFeeds(train, x, target, 0.01);
    const g = await runGraph(grad.graph, Object.fromEntries(grad.graph.inputs.map((v) => [v.name, feeds[v.name]])));
    // A second step, so that bias correction with t = 2 and non-zero state are exercised.
    const first = await runGraph(train.graph, feeds);
    const secondFeeds = nextFeeds(feeds, first);
    const second = await runGraph(train.graph, secondFeeds);
    const g2 = await runGraph(grad.graph, Object.fromEntries(grad.graph.inputs.map((v) => [v.name, secondFeeds[v.name]])));
    expect(first.loss.get(0)).toBe(g.loss.get(0));
    expect(second.loss.get(0)).toBe(g2.loss.get(0));

    const [b1, b2, eps, wd, lr] = [0.9, 0.999, 1e-8, 0.01, 0.01];
    for (const name of train.trainable) {
      const p0 = feeds[name].toNumbers();
      const adam = (p: number[], grads: number[], m: number[], v: number[], t: number) => {
        const d = grads.map((gv, i) => gv + wd * p[i]);
        const m1 = m.map((mv, i) => b1 * mv + (1 - b1) * d[i]);
        const v1 = v.map((vv, i) => b2 * vv + (1 - b2) * d[i] * d[i]);
        const stepSize = lr / (1 - b1 ** t);
        const root = Math.sqrt(1 - b2 ** t);
        return { p: p.map((pv, i) => pv - (stepSize * m1[i]) / (Math.sqrt(v1[i]) / root + eps)), m: m1, v: v1 };
      };
      const s1 = adam(p0, g[`grad.${name}`].toNumbers(), p0.map(() => 0), p0.map(() => 0), 1);
      const s2 = adam(s1.p, g2[`grad.${name}`].toNumbers(), s1.m, s1.v, 2);
      for (const [got, want, what] of [
        [first[`${name}.new`], s1.p, 'p'], [first[`${name}.v.new`], s1.v, 'v'],
        [second[`${name}.new`], s2.p, 'p'], [second[`${name}.m.new`], s2.m, 'm'], [second[`${name}.v.new`], s2.v, 'v'],
      ] as const) {
        got.toNumbers().forEach((a, i) => expect(Math.abs(a - want[i]), `${name} ${what}[${i}]`).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(want[i]))));
      }
    }
    expect(first.iterations.toNumbers()).toEqual([1, 1, 1, 1]);
    expect(first.iterations_backward.toNumbers()).toEqual([1, 1, 1, 1]);
  });
});

describe('train_steps.onnx', () => {
  /** K batches shaped like `train`'s x and target inputs, stacked [K, ...] and one by one. */
  function batches(train: TrainingGraph, k: number, batch: number) {
    const [xIn, targetIn] = train.graph.inputs;
    const shape = (v: Value) => v.shape.map((d) => (d === 'B' ? batch : (d as number)));
    const size = (v: Value) => shape(v).reduce((a, b) => a * b, 1);
    const xs = Array.from({ length: k }, (_, i) => Tensor.fromNumbers(xIn.dtype, shape(xIn), random(10 + i, size(xIn))));
    const targets = Array.from({ length: k }, (_, i) =>
      train.loss === 'mse'
        ? Tensor.fromNumbers(targetIn.dtype, shape(targetIn), random(20 + i, size(targetIn)))
        : Tensor.fromNumbers('int64', [batch], random(20 + i, batch).map((v) => Math.floor(Math.abs(v) * 3) % 10)),
    );
    const stack = (ts: Tensor[]) => Tensor.fromNumbers(ts[0].dtype, [k, ...ts[0].shape], ts.flatMap((t) => t.toNumbers()));
    return { xs, targets, x: stack(xs), target: stack(targets) };
  }

  /** Returns the per-sample forward and backward iteration counts of the K steps. */
  async function compareSteps(spec: ModelSpec, dtype: DType, optimizer: OptimizerConfig | undefined, exact: boolean): Promise<{ iterations: number[]; backwardIterations: number[] }> {
    const k = 3;
    const train = buildTrainGraph(spec, { dtype, ...(optimizer ? { optimizer } : {}) });
    const steps = buildTrainStepsGraph(spec, { dtype }, train);
    const data = batches(train, k, 4);
    const single = await compileGraph(train.graph);
    let feeds = firstStepFeeds(train, data.xs[0], data.targets[0], 0.01);
    const fused = await runGraph(steps.graph, { ...feeds, x: data.x, target: data.target, step: Tensor.scalar(5, 'int64') });
    feeds = { ...feeds, step: Tensor.scalar(5, 'int64') };
    const losses: number[] = [];
    const iterations: number[] = [];
    const backwardIterations: number[] = [];
    let out: Record<string, Tensor> = {};
    for (let i = 0; i < k; i++) {
      out = await single.run({ ...feeds, x: data.xs[i], target: data.targets[i] });
      losses.push(out.loss.get(0));
      iterations.push(...out.iterations.toNumbers());
      backwardIterations.push(...out.iterations_backward.toNumbers());
      feeds = nextFeeds(feeds, out);
    }
    await single.release();

    expect(fused.loss.shape).toEqual([k]);
    expect(fused.iterations.shape).toEqual([k, 4]);
    expect(fused.iterations.toNumbers(), 'iterations').toEqual(iterations);
    expect(fused.iterations_backward.toNumbers(), 'iterations_backward').toEqual(backwardIterations);
    const close = (a: readonly number[], b: readonly number[], what: string) => {
      if (exact) expect(a, what).toEqual(b);
      else a.forEach((v, i) => expect(Math.abs(v - b[i]), `${what}[${i}]`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(b[i]))));
    };
    close(fused.loss.toNumbers(), losses, 'loss');
    expect(new Set(losses).size, 'the steps must differ').toBe(k);
    for (const v of train.graph.outputs.filter((o) => o.name.endsWith('.new'))) close(fused[v.name].toNumbers(), out[v.name].toNumbers(), v.name);
    return { iterations, backwardIterations };
  }

  it('runs K = 3 Adam steps exactly as 3 train.onnx steps do, in float64 (step numbers continue from the input)', async () => {
    await compareSteps(sineSpec, 'float64', undefined, true);
  });

  it('the same for SGD with momentum and clipping on the cross-entropy MLP in float64', async () => {
    await compareSteps(mlpSpec, 'float64', { kind: 'sgd', momentum: 0.9, weightDecay: 1e-3, clipNorm: 1 }, true);
  });

  it('carries BatchNorm running statistics through the steps (float32, conv)', async () => {
    await compareSteps(bnNet, 'float32', { kind: 'adamw' }, false);
  });

  it('copies fixed-point regions (Loops, adjoint Loops) into the step: exact in float64, iteration counts per step', async () => {
    const counts = await compareSteps(regionNet, 'float64', undefined, true);
    // The open gate makes samples take more than the plain sweep and its check.
    expect(Math.max(...counts.iterations)).toBeGreaterThan(2);
    expect(Math.max(...counts.backwardIterations)).toBeGreaterThan(1);
  });

  it('agrees to float tolerance in float32', async () => {
    await compareSteps(sineSpec, 'float32', undefined, false);
  });
});

describe('train mode BatchNorm', () => {
  it('grad.onnx reads no running statistics; train.onnx returns their updates', () => {
    const grad = buildGradGraph(bnNet);
    expect(grad.buffers).toEqual(['bn.running_mean', 'bn.running_var']);
    expect(grad.graph.inputs.map((v) => v.name)).toEqual(['x', 'target', 'conv.weight', 'conv.bias', 'bn.weight', 'bn.bias']);
    const train = buildTrainGraph(bnNet, { optimizer: { kind: 'sgd' } });
    expect(train.graph.inputs.map((v) => v.name)).toEqual(['x', 'target', 'lr', 'step', 'conv.weight', 'conv.bias', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var']);
    expect(train.graph.outputs.map((v) => v.name)).toEqual([
      'loss', 'conv.weight.new', 'conv.bias.new', 'bn.weight.new', 'bn.bias.new', 'bn.running_mean.new', 'bn.running_var.new', 'iterations', 'iterations_backward', 'unsettled',
    ]);
    // The new running statistics are computed, not the inputs passed through.
    const producer = (name: string) => train.graph.outputs.find((v) => v.name === name)!.source;
    expect(producer('bn.running_mean.new')).not.toMatchObject({ node: { opType: 'Identity' } });
  });
});

describe('a short training run through train.onnx', () => {
  it('sine-mlp: 200 Adam steps (lr 0.01) bring the mean squared error below 1e-3 and below 1% of the first loss', async () => {
    // Paper Task B's series: 50 samples per period; windows of 16 predict the next sample.
    const series = Array.from({ length: 1000 }, (_, t) => Math.sin((t * 2 * Math.PI) / 50));
    const windows = series.length - 16;
    const train = buildTrainGraph(sineSpec, { seed: 1 });
    const model = await compileGraph(train.graph);
    const pick = seededRandom(5);
    const batch = 64;
    let feeds = firstStepFeeds(train, Tensor.zeros('float32', [batch, 16]), Tensor.zeros('float32', [batch, 1]), 0.01);
    const losses: number[] = [];
    for (let step = 0; step < 200; step++) {
      const starts = Array.from({ length: batch }, () => Math.floor(pick() * windows));
      const x = Tensor.fromNumbers('float32', [batch, 16], starts.flatMap((s) => series.slice(s, s + 16)));
      const target = Tensor.fromNumbers('float32', [batch, 1], starts.map((s) => series[s + 16]));
      const out = await model.run({ ...feeds, x, target });
      losses.push(out.loss.get(0));
      feeds = nextFeeds(feeds, out);
    }
    await model.release();
    const last = losses.slice(-20).reduce((a, b) => a + b) / 20;
    expect(last).toBeLessThan(1e-3);
    expect(last).toBeLessThan(losses[0] / 100);
  });
});

describe('exportModel writes every artifact', () => {
  const FILES = ['grad.onnx', 'manifest.json', 'model.onnx', 'train.onnx', 'train_steps.onnx'];

  it('model.onnx, grad.onnx, train.onnx, train_steps.onnx, then manifest.json; byte-identical twice', async () => {
    const [a, b] = [freshDir(), freshDir()];
    const { files } = await exportModel(sineSpec, a, { seed: 2 });
    await exportModel(sineSpec, b, { seed: 2 });
    expect(files).toEqual(['model.onnx', 'grad.onnx', 'train.onnx', 'train_steps.onnx', 'manifest.json'].map((f) => join(a, f)));
    expect(readdirSync(a).sort()).toEqual(FILES);
    for (const f of FILES) expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), f).toBe(true);
    expectOnnxValid(FILES.filter((f) => f.endsWith('.onnx')).map((f) => join(a, f)));
  });

  it('describes task, training and every graph in the manifest, with each file sha256', async () => {
    const dir = freshDir();
    const { manifest } = await exportModel(mlpSpec, dir, { optimizer: { kind: 'adamw', clipNorm: 5 } });
    const onDisk = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    expect(onDisk).toEqual(manifest);
    expect(manifest.task).toEqual({ loss: 'cross_entropy', data: { kind: 'mnist', layout: 'flat' }, target: { name: 'target', dtype: 'int64', shape: ['B'] } });
    // lr comes from the spec's task.train, kind and clipping from the options, the rest from torch's defaults.
    expect(manifest.training).toEqual({
      optimizer: { kind: 'adamw', lr: mlpSpec.task!.train!.lr, momentum: 0, weightDecay: 1e-2, betas: [0.9, 0.999], eps: 1e-8, clipNorm: 5 },
      trainable: ['0.weight', '0.bias', '2.weight', '2.bias', '4.weight', '4.bias'],
      buffers: [],
      state: Object.fromEntries(['0.weight', '0.bias', '2.weight', '2.bias', '4.weight', '4.bias'].map((n) => [n, ['m', 'v']])),
    });
    expect(Object.keys(manifest.graphs)).toEqual(['grad.onnx', 'model.onnx', 'train.onnx', 'train_steps.onnx']);
    expect(manifest.graphs['model.onnx'].outputs.map((v) => v.name)).toEqual(['y', 'iterations', 'residual', 'unsettled']);
    expect(manifest.graphs['train_steps.onnx'].inputs[0]).toEqual({ name: 'x', dtype: 'float32', shape: ['K', 'B', 784] });
    for (const f of FILES.filter((name) => name !== 'manifest.json')) {
      const bytes = readFileSync(join(dir, f));
      expect(manifest.files[f], f).toEqual({ bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    }
    const train = onnx.ModelProto.decode(readFileSync(join(dir, 'train.onnx')));
    const meta = Object.fromEntries(train.metadataProps.map((p) => [p.key, p.value]));
    expect(meta['twnn.role']).toBe('train');
    expect(JSON.parse(meta['twnn.optimizer'])).toEqual(manifest.training.optimizer);
  });
});

describe('inlineGraph', () => {
  it('copies a graph with a Loop into a Loop body of another model, giving the same results', async () => {
    // source: y = Σ_{i<3} x·w (a Loop reading the outer w), out = y + x
    const source = new Graph('source');
    const sx = source.input('x', 'float64', [2]);
    const sw = source.input('w', 'float64', [2]);
    const zero = source.constant(Tensor.zeros('float64', [2]));
    const { carried: [sum] } = loop(source, { name: 'acc', maxTrip: 3, carried: [zero], body: (b, it) => ({ carried: [add(b, it.carried[0], mul(b, sx, sw))] }) });
    source.output('out', add(source, sum, sx));

    // target: for each row r of X [R,2]: acc ← inline(source)(X[r], acc)
    const target = new Graph('target');
    const xs = target.input('X', 'float64', ['R', 2]);
    const w0 = target.input('w0', 'float64', [2]);
    const { carried: [final] } = loop(target, {
      name: 'rows',
      maxTrip: 2,
      carried: [w0],
      body: (b, it) => {
        const [out] = inlineGraph(b, source, new Map([[sx, gather(b, xs, it.iteration, 0)], [sw, it.carried[0]]]), 'rows/copy');
        return { carried: [out] };
      },
    });
    target.output('final', final);
    expectOnnxValid(serializeModel(target));

    const X = Tensor.fromNumbers('float64', [2, 2], [1, 2, 0.5, -1]);
    const out = await runGraph(target, { X, w0: Tensor.fromNumbers('float64', [2], [3, 4]) });
    // row 0: 3·(1,2)·(3,4) + (1,2) = (10, 26); row 1: 3·(0.5,-1)·(10,26) + (0.5,-1) = (15.5, -79)
    expect(out.final.toNumbers()).toEqual([15.5, -79]);
  });

  it('refuses a source input without a binding', () => {
    const source = new Graph('s');
    const a = source.input('a', 'float32', [1]);
    source.output('b', add(source, a, a));
    expect(() => inlineGraph(new Graph('t'), source, new Map(), 'copy')).toThrow(/input 'a' of graph 's' has no binding in graph 't'/);
  });
});
