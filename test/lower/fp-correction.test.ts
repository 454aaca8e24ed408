// Fixed-point correction (task.train.fpCorrection, src/lower/fp-correction.ts) on
// a small dense TWNN in float64: each term is the task loss of the output
// phantomSteps sweeps past the sample's iterate at k/(n+1) of its sweeps; its
// gradient, with that detached iterate held fixed, matches central
// differences; and train.onnx's update is the task loss's gradient plus the
// weighted terms' gradients.
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/autodiff/transform.js';
import { mseLoss } from '../../src/autodiff/losses.js';
import { trainingOutputMeaning } from '../../src/contract/outputs.js';
import { basicBlock, batchNorm2d, conv2d, defineModel, dense, flatten, globalAvgPool, region, sequential, tanh, type ModelSpec } from '../../src/index.js';
import { Graph, SpecError, Tensor } from '../../src/ir/index.js';
import { lowerFixedPoint } from '../../src/lower/fixed-point.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { correctionWeights, fixedPointCorrection } from '../../src/lower/fp-correction.js';
import { buildInferenceGraph } from '../../src/lower/inference.js';
import { buildGradGraph, buildTrainGraph, buildTrainStepsGraph } from '../../src/lower/training.js';
import { BuildContext } from '../../src/twnn/module.js';
import type { FixedPointCorrection } from '../../src/twnn/task.js';
import type { IterateSpec } from '../../src/twnn/region.js';
import { compileGraph } from '../helpers/ort.js';
import { dot, randomTensor, relativeError, shifted } from './region-helpers.js';
import { randn, seededRandom } from '../helpers/rng.js';

const B = 3;
// Scaled so that the samples settle at different sweeps (9, 11, 11).
const x = randomTensor([B, 3], 1, 3);
const target = randomTensor([B, 2], 2, 0.5);

/**
 * stem 3 -> 4 tanh, a region of two dense tanh blocks with a half-open wormhole 2 -> 1 (and with `regions` 2, a
 * second such region after it), head 4 -> 2; mse, plain SGD.
 */
function twnn(iterate: IterateSpec, fpCorrection?: FixedPointCorrection, regions = 1, backward: 'implicit' | 'unrolled' | 'phantom:3' = 'implicit'): ModelSpec {
  const block = () => sequential(dense(4, 4), tanh());
  const loop = () => region({ blocks: [block(), block()], wormholes: [{ from: 2, to: 1, gateBias: 0 }], iterate, backwardTol: 1e-13, backward });
  return defineModel({
    name: 'fp-correction-test',
    input: { shape: ['B', 3], dtype: 'float' },
    net: sequential({
      stem: sequential(dense(3, 4), tanh()),
      region1: loop(),
      ...(regions === 2 ? { region2: loop() } : {}),
      head: dense(4, 2),
    }),
    task: { loss: 'mse', train: { optimizer: 'sgd', ...(fpCorrection ? { fpCorrection } : {}) } },
  });
}

const settled = { tol: 1e-9, maxIter: 200 };

/**
 * The correction terms built the way train.onnx builds them, but with each
 * term's detached iterate a graph input (`zin.<k>.<j>`), so finite differences
 * can hold it fixed; the iterates the region keeps are outputs (`z.<k>.<j>`),
 * and each term's gradient (`grad.<k>.<param>`).
 */
function termsGraph(spec: ModelSpec, settings: Required<FixedPointCorrection>) {
  const graph = new Graph('fp_terms');
  const ctx = new BuildContext(graph, { dtype: 'float64', seed: 0, mode: 'input', training: true, lowerRegion: lowerFixedPoint, correctionTerms: settings.terms });
  const xIn = graph.input('x', 'float64', ['B', 3]);
  spec.net.build(ctx, xIn);
  const kept = ctx.iterators.flatMap((report, r) => {
    const iterates = report.correctionIterates!;
    iterates.forEach((states, k) => states.forEach((s, j) => graph.output(`z.${r}.${k + 1}.${j}`, s)));
    report.correctionIterates = iterates.map((states, k) => states.map((s, j) => graph.input(`zin.${r}.${k + 1}.${j}`, s.dtype, ['B', ...s.shape.slice(1)])));
    return iterates.flatMap((states, k) => states.map((s, j) => ({ name: `zin.${r}.${k + 1}.${j}`, width: s.shape[1] as number })));
  });
  const t = graph.input('target', 'float64', ['B', 2]);
  const { terms } = fixedPointCorrection(graph, { context: ctx, net: spec.net, x: xIn, settings, lossOf: (y) => mseLoss(graph, y, t), model: spec.name });
  graph.output('terms', terms);
  const params = ctx.params.map((p) => graph.inputs.find((v) => v.name === p.name)!);
  for (let k = 0; k < settings.terms; k++) {
    const seed = graph.constant(Tensor.fromNumbers('float64', [settings.terms], Array.from({ length: settings.terms }, (_, i) => (i === k ? 1 : 0))));
    const grads = backward(graph, terms, params, { seed, allowUnused: true, scope: `term${k + 1}` });
    ctx.params.forEach((p, i) => graph.output(`grad.${k + 1}.${p.name}`, grads[i]));
  }
  return { graph, params: ctx.params, kept };
}

/** The iterates the regions keep (a first run, fed anything), as feeds of the `zin.*` inputs. */
async function keptIterates(run: Awaited<ReturnType<typeof compileGraph>>, base: Record<string, Tensor>, kept: readonly { name: string; width: number }[]): Promise<Record<string, Tensor>> {
  const zeros = Object.fromEntries(kept.map((z) => [z.name, Tensor.fromNumbers('float64', [B, z.width], new Array(B * z.width).fill(0))]));
  const first = await run.run({ ...base, ...zeros });
  return Object.fromEntries(kept.map((z) => [z.name, first[z.name.replace('zin', 'z')]]));
}

function feedsOf(params: readonly { name: string; value: Tensor }[]): Record<string, Tensor> {
  return Object.fromEntries(params.map((p) => [p.name, p.value]));
}

describe('fixed-point correction terms', () => {
  it('term k is the task loss of the output phantomSteps sweeps past the iterate at k/(n+1) of the sweeps', async () => {
    // tol 0: every sample runs all 7 sweeps, so t_1 = floor(7/3) = 2 and t_2 = floor(14/3) = 4.
    const spec = twnn({ tol: 0, maxIter: 7 }, { terms: 2, phantomSteps: 2 });
    const train = buildTrainGraph(spec, { dtype: 'float64' });
    const feeds = { x, target, lr: Tensor.scalar(0.1, 'float64'), step: Tensor.fromNumbers('int64', [], [1]), ...feedsOf(train.params) };
    const out = await (await compileGraph(train.graph)).run(feeds);
    expect(out.fp_correction.shape).toEqual([2]);
    expect(out.iterations.toNumbers()).toEqual([7, 7, 7]);
    // The model that stops after t_k + phantomSteps sweeps returns that output (tol 0, its last iterate).
    for (const [k, sweeps] of [[0, 4], [1, 6]]) {
      const stopped = buildInferenceGraph(twnn({ tol: 0, maxIter: sweeps, returnIterate: 'last' }), { dtype: 'float64' });
      const y = (await (await compileGraph(stopped.graph)).run({ x })).y.toNumbers();
      const t = target.toNumbers();
      const mse = y.reduce((s, v, i) => s + (v - t[i]) ** 2, 0) / y.length;
      expect(Math.abs(out.fp_correction.get(k) - mse)).toBeLessThan(1e-12 * Math.max(1, mse));
    }
    // The task loss is the fixed point's (here the 7th sweep's), not a term's.
    expect(out.loss.get(0)).not.toBeCloseTo(out.fp_correction.get(1), 10);
  });

  it("each sample's iterate is at k/(n+1) of its own sweeps", async () => {
    const p = 1;
    const spec = twnn(settled, { terms: 2, phantomSteps: p });
    const train = buildTrainGraph(spec, { dtype: 'float64' });
    const out = await (await compileGraph(train.graph)).run({ x, target, lr: Tensor.scalar(0.1, 'float64'), step: Tensor.fromNumbers('int64', [], [1]), ...feedsOf(train.params) });
    const sweeps = out.iterations.toNumbers();
    expect(new Set(sweeps).size).toBeGreaterThan(1);
    // The batch mse is the mean of the samples' own: each sample stopped at its own t_k(s) + p sweeps.
    const rows = x.toNumbers();
    const t = target.toNumbers();
    for (const k of [1, 2]) {
      let sum = 0;
      for (let s = 0; s < B; s++) {
        const at = Math.max(1, Math.floor((k * sweeps[s]) / 3));
        const stopped = buildInferenceGraph(twnn({ tol: 0, maxIter: at + p, returnIterate: 'last' }), { dtype: 'float64' });
        const y = (await (await compileGraph(stopped.graph)).run({ x: Tensor.fromNumbers('float64', [1, 3], rows.slice(3 * s, 3 * s + 3)) })).y.toNumbers();
        sum += y.reduce((acc, v, i) => acc + (v - t[2 * s + i]) ** 2, 0) / 2;
      }
      expect(Math.abs(out.fp_correction.get(k - 1) - sum / B)).toBeLessThan(1e-12);
    }
  });

  it.each([1, 2])("each term's gradient, with its detached iterates held fixed, matches central differences (%i regions)", async (regions) => {
    const settings = { terms: 2, gamma: 0.8, phantomSteps: 2 };
    const spec = twnn(settled, settings, regions);
    const built = termsGraph(spec, settings);
    const run = await compileGraph(built.graph);
    const base: Record<string, Tensor> = { x, target, ...feedsOf(built.params) };
    const z = await keptIterates(run, base, built.kept);
    // Samples settle at different sweeps, so their iterates sit at different sweep numbers; none is the fixed point.
    expect(z['zin.0.1.0'].toNumbers()).not.toEqual(z['zin.0.2.0'].toNumbers());
    const feeds = { ...base, ...z };
    const at = await run.run(feeds);
    const random = seededRandom(11);
    const eps = 1e-6;
    for (let k = 1; k <= settings.terms; k++) {
      // One random direction over every parameter at once.
      const dirs = built.params.map((p) => randn(random, p.value.size));
      const analytic = built.params.reduce((s, p, i) => s + dot(at[`grad.${k}.${p.name}`].toNumbers(), dirs[i]), 0);
      const moved = async (sign: number) => {
        const shiftedFeeds = { ...feeds, ...Object.fromEntries(built.params.map((p, i) => [p.name, shifted(p.value, dirs[i], sign * eps)])) };
        return (await run.run(shiftedFeeds)).terms.get(k - 1);
      };
      const numeric = ((await moved(1)) - (await moved(-1))) / (2 * eps);
      expect(Math.abs(analytic - numeric)).toBeLessThan(1e-7 * Math.max(1, Math.abs(numeric)));
      expect(Math.abs(analytic)).toBeGreaterThan(1e-4);
    }
  });

  it("train.onnx's update is the task loss's gradient plus the weighted terms' gradients", async () => {
    const settings = { terms: 2, gamma: 0.5, phantomSteps: 1 };
    const spec = twnn(settled, settings);
    const built = termsGraph(spec, settings);
    const termsRun = await compileGraph(built.graph);
    const params = feedsOf(built.params);
    const z = await keptIterates(termsRun, { x, target, ...params }, built.kept);
    const terms = await termsRun.run({ x, target, ...params, ...z });

    const grad = await (await compileGraph(buildGradGraph(spec, { dtype: 'float64' }).graph)).run({ x, target, ...params });
    const train = buildTrainGraph(spec, { dtype: 'float64' });
    expect(train.fpCorrection).toEqual(settings);
    const lr = 1;
    const stepped = await (await compileGraph(train.graph)).run({ x, target, lr: Tensor.scalar(lr, 'float64'), step: Tensor.fromNumbers('int64', [], [1]), ...params });
    expect(stepped.loss.get(0)).toBeCloseTo(grad.loss.get(0), 12);
    expect(relativeError(stepped.fp_correction.toNumbers(), terms.terms.toNumbers())).toBeLessThan(1e-12);
    const weights = correctionWeights(settings);
    expect(weights).toEqual([0.25, 0.5]);
    for (const p of built.params) {
      const update = p.value.toNumbers().map((v, i) => (v - stepped[`${p.name}.new`].get(i)) / lr);
      const expected = grad[`grad.${p.name}`].toNumbers().map((g, i) => g + weights.reduce((s, w, k) => s + w * terms[`grad.${k + 1}.${p.name}`].get(i), 0));
      expect(relativeError(update, expected, 1e-9), p.name).toBeLessThan(1e-8);
    }
    // The correction moves every region parameter: the update is not the task gradient's alone.
    const gate = 'region1.wormhole_b2_b1.gate.weight';
    expect(relativeError(grad[`grad.${gate}`].toNumbers(), p(stepped, params, gate))).toBeGreaterThan(1e-3);
  });

  it('train_steps.onnx reports the terms per step, the first as train.onnx does', async () => {
    const spec = twnn(settled, { terms: 3 });
    const train = buildTrainGraph(spec, { dtype: 'float64' });
    const steps = buildTrainStepsGraph(spec, { dtype: 'float64' }, train);
    const stack = (t: Tensor) => Tensor.fromNumbers('float64', [2, ...t.shape], [...t.toNumbers(), ...t.toNumbers()]);
    const common = { lr: Tensor.scalar(0.1, 'float64'), step: Tensor.fromNumbers('int64', [], [1]), ...feedsOf(train.params) };
    const one = await (await compileGraph(train.graph)).run({ x, target, ...common });
    const two = await (await compileGraph(steps.graph)).run({ x: stack(x), target: stack(target), ...common });
    expect(two.fp_correction.shape).toEqual([2, 3]);
    expect(relativeError(two.fp_correction.toNumbers().slice(0, 3), one.fp_correction.toNumbers())).toBeLessThan(1e-12);
  });
});

describe('fixed-point correction with other settings', () => {
  it('builds byte-identical train.onnx and train_steps.onnx from the same spec and seed', () => {
    const spec = twnn(settled, { terms: 2 }, 2);
    const bytes = () => {
      const train = buildTrainGraph(spec, { seed: 4 });
      return [serializeModel(train.graph), serializeModel(buildTrainStepsGraph(spec, { seed: 4 }, train).graph)].map((b) => Buffer.from(b));
    };
    const [a, b] = [bytes(), bytes()];
    expect(a[0].equals(b[0]) && a[1].equals(b[1])).toBe(true);
  });

  it('gives the same terms whichever backward mode the region has', async () => {
    const terms: number[][] = [];
    for (const backward of ['implicit', 'unrolled', 'phantom:3'] as const) {
      const train = buildTrainGraph(twnn(settled, { terms: 2 }, 1, backward), { dtype: 'float64' });
      const out = await (await compileGraph(train.graph)).run({ x, target, lr: Tensor.scalar(0.1, 'float64'), step: Tensor.fromNumbers('int64', [], [1]), ...feedsOf(train.params) });
      terms.push(out.fp_correction.toNumbers());
    }
    expect(relativeError(terms[1], terms[0])).toBeLessThan(1e-12);
    expect(relativeError(terms[2], terms[0])).toBeLessThan(1e-12);
  });

  it('takes plain iterates for a region that solves with Anderson acceleration', async () => {
    const train = buildTrainGraph(twnn({ ...settled, solver: 'anderson' }, { terms: 2 }), { dtype: 'float64' });
    const out = await (await compileGraph(train.graph)).run({ x, target, lr: Tensor.scalar(0.1, 'float64'), step: Tensor.fromNumbers('int64', [], [1]), ...feedsOf(train.params) });
    expect(out.fp_correction.toNumbers().every((v) => Number.isFinite(v) && v > 0)).toBe(true);
  });

  it("updates a head BatchNorm's running statistics from the task's pass alone", async () => {
    // A conv TWNN (float32: onnxruntime has no float64 Conv) with BatchNorm in the stem and the head.
    const spec = (fpCorrection?: FixedPointCorrection) =>
      defineModel({
        name: 'fp-correction-bn',
        input: { shape: ['B', 1, 6, 6], dtype: 'float' },
        net: sequential({
          stem: sequential({ conv: conv2d(1, 4, 3, { padding: 1 }), bn: batchNorm2d(4), act: tanh() }),
          region1: region({
            blocks: [basicBlock(4, 4, { norm: 'group', groups: 2 }), basicBlock(4, 4, { norm: 'group', groups: 2 })],
            wormholes: [{ from: 2, to: 1, gateBias: 0 }],
            iterate: { tol: 1e-4, maxIter: 50 },
          }),
          bn: batchNorm2d(4),
          pool: globalAvgPool(),
          flatten: flatten(),
          head: dense(4, 2),
        }),
        task: { loss: 'mse', train: { optimizer: 'sgd', ...(fpCorrection ? { fpCorrection } : {}) } },
      });
    const images = randomTensor([4, 1, 6, 6], 5, 1, 'float32');
    const labels = randomTensor([4, 2], 6, 1, 'float32');
    const step = async (s: ModelSpec) => {
      const train = buildTrainGraph(s);
      return (await compileGraph(train.graph)).run({ x: images, target: labels, lr: Tensor.scalar(0.1, 'float32'), step: Tensor.fromNumbers('int64', [], [1]), ...feedsOf(train.params) });
    };
    const plain = await step(spec());
    const corrected = await step(spec({ terms: 2, phantomSteps: 1 }));
    for (const buffer of ['stem.bn.running_mean', 'stem.bn.running_var', 'bn.running_mean', 'bn.running_var']) {
      expect(corrected[`${buffer}.new`].toNumbers(), buffer).toEqual(plain[`${buffer}.new`].toNumbers());
    }
    expect(corrected.loss.get(0)).toBe(plain.loss.get(0));
    // The terms' heads normalise with their own batch's statistics: their losses differ from the task loss.
    expect(corrected.fp_correction.toNumbers().every((v) => Number.isFinite(v) && v !== plain.loss.get(0))).toBe(true);
    // ... and the correction changes the update.
    expect(corrected['head.weight.new'].toNumbers()).not.toEqual(plain['head.weight.new'].toNumbers());
  });
});

describe('fpCorrection settings', () => {
  const spec = (fpCorrection: unknown) => twnn(settled, fpCorrection as FixedPointCorrection);

  it("fills in torchdeq's defaults and grad.onnx stays the task loss's gradient", () => {
    expect(buildTrainGraph(spec({ terms: 2 })).fpCorrection).toEqual({ terms: 2, gamma: 0.8, phantomSteps: 1 });
    expect(buildGradGraph(spec({ terms: 2 })).graph.outputs.map((v) => v.name)).not.toContain('fp_correction');
    expect(buildTrainGraph(spec({ terms: 2 }), { fpCorrection: null }).graph.outputs.map((v) => v.name)).not.toContain('fp_correction');
  });

  it('refuses bad settings, naming the field', () => {
    expect(() => spec({})).toThrow("task.train.fpCorrection.terms is required: how many intermediate iterates get a loss term (torchdeq's n_states - 1)");
    expect(() => spec({ terms: 0 })).toThrow(/task\.train\.fpCorrection\.terms must be a positive integer/);
    expect(() => spec({ terms: 2, gamma: 1.5 })).toThrow('task.train.fpCorrection.gamma must be at most 1');
    expect(() => spec({ terms: 2, gamma: 0 })).toThrow('task.train.fpCorrection.gamma must be a finite number > 0, got 0');
    expect(() => spec({ terms: 2, phantomSteps: 1.5 })).toThrow(/task\.train\.fpCorrection\.phantomSteps must be a positive integer/);
    expect(() => spec({ terms: 2, n_states: 3 })).toThrow(/fpCorrection.*n_states/);
  });

  it('the contract says what fp_correction holds', () => {
    expect(trainingOutputMeaning('fp_correction')).toMatch(/^\[n\]: the task loss of each fixed-point correction term/);
    expect(trainingOutputMeaning('y')).toBeUndefined();
  });

  it('refuses a network without a fixed-point region', () => {
    const plain = defineModel({
      name: 'plain',
      input: { shape: ['B', 3], dtype: 'float' },
      net: sequential(dense(3, 4), tanh(), dense(4, 2)),
      task: { loss: 'mse', train: { fpCorrection: { terms: 1 } } },
    });
    expect(() => buildTrainGraph(plain)).toThrow(new SpecError("model 'plain': task.train.fpCorrection needs a fixed-point region, and the network has none"));
  });
});

/** The gradient train.onnx applied to `name` (SGD, lr 1): its old value minus its new. */
function p(stepped: Record<string, Tensor>, params: Record<string, Tensor>, name: string): number[] {
  return params[name].toNumbers().map((v, i) => v - stepped[`${name}.new`].get(i));
}
