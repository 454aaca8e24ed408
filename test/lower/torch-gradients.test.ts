// grad.onnx and train.onnx against PyTorch autograd (torch_gradients.py): the
// same architecture (described from the twnn modules), the same weights
// (load_state_dict(strict=True), so names and layouts must be torch's), the
// same batch; loss, every parameter gradient, the input gradient and the
// BatchNorm running statistics must agree.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import mlpSpec from '../../graphs/mnist-mlp-plain.js';
import sineSpec from '../../graphs/sine-mlp.js';
import {
  batchNorm2d,
  conv2d,
  defineModel,
  dense,
  flatten,
  globalAvgPool,
  maxPool2d,
  relu,
  sequential,
  Tensor,
  type DType,
  type Module,
  type ModelSpec,
  type ParamInfo,
} from '../../src/index.js';
import { buildGradGraph, buildTrainGraph } from '../../src/lower/training.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { randn, seededRandom } from '../helpers/rng.js';
import { runModel } from '../twnn/support.js';

interface TorchResult {
  loss: number;
  grads: Record<string, number[]>;
  grad_x: number[];
  buffers: Record<string, number[]>;
}

/** A twnn module tree as torch_gradients.py's NET; `fixed` gives modules that do not expose their geometry, by scope path. */
function describeNet(m: Module, fixed: Readonly<Record<string, object>> = {}, path = ''): object {
  if (fixed[path]) return fixed[path];
  const r = m as unknown as Record<string, unknown>;
  switch (m.kind) {
    case 'sequential': {
      const children = r.children as [string, Module][];
      return { kind: 'sequential', children: children.map(([name, child]) => [name, describeNet(child, fixed, path ? `${path}.${name}` : name)]) };
    }
    case 'dense':
      return { kind: 'dense', inFeatures: r.inFeatures, outFeatures: r.outFeatures, bias: r.bias };
    case 'conv2d':
      return { kind: 'conv2d', ...Object.fromEntries(['inChannels', 'outChannels', 'kernel', 'stride', 'padding', 'dilation', 'groups', 'bias'].map((k) => [k, r[k]])) };
    case 'batchNorm2d':
      return { kind: 'batchNorm2d', channels: r.channels, eps: r.eps, momentum: r.momentum };
    case 'relu':
    case 'tanh':
    case 'sigmoid':
    case 'flatten':
    case 'globalAvgPool':
      return { kind: m.kind };
    default:
      throw new Error(`describeNet: no description for module '${path}' of kind '${m.kind}'`);
  }
}

function torchGradients(spec: ModelSpec, fixed: Readonly<Record<string, object>>, dtype: DType, params: readonly ParamInfo[], weights: ReadonlyMap<string, Tensor>, x: Tensor, target: Tensor, loss: string): TorchResult {
  const dir = mkdtempSync(join(tmpdir(), 'twnn-torch-grad-'));
  try {
    const file = join(dir, 'case.json');
    const payload = {
      arch: describeNet(spec.net, fixed),
      dtype,
      loss,
      params: Object.fromEntries(params.map((p) => [p.name, { shape: p.shape, data: weights.get(p.name)!.toNumbers() }])),
      x: { shape: x.shape, data: x.toNumbers() },
      target: { shape: target.shape, data: target.toNumbers() },
    };
    writeFileSync(file, JSON.stringify(payload));
    const script = resolve(fileURLToPath(import.meta.url), '../torch_gradients.py');
    // The first python3 on PATH does not see Debian's torch.
    const run = spawnSync('/usr/bin/python3', [script, file], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
    if (run.status !== 0) throw new Error(`torch_gradients.py failed (exit ${run.status}): ${run.stderr || run.error?.message}`);
    return JSON.parse(run.stdout) as TorchResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `|a − e| <= rtol·max(|e|, floor·max|e|)` elementwise: relative, except that
 * entries far below the tensor's scale, where the rounding of the larger terms
 * they are computed from dominates, are held to a fraction `floor` of the
 * scale. `floor` 1 is the relative error in the max norm.
 */
function expectRelClose(actual: readonly number[], expected: readonly number[], rtol: number, what: string, floor = 1e-3): void {
  expect(actual.length, `${what}: element count`).toBe(expected.length);
  const scale = expected.reduce((m, e) => Math.max(m, Math.abs(e)), 0);
  expect(scale, `${what}: an all-zero reference proves nothing`).toBeGreaterThan(0);
  const bad = actual.findIndex((a, i) => !(Math.abs(a - expected[i]) <= rtol * Math.max(Math.abs(expected[i]), floor * scale)));
  if (bad >= 0) expect.fail(`${what}: element ${bad} is ${actual[bad]}, torch has ${expected[bad]} (rtol ${rtol}, scale ${scale})`);
}

const randomData = (seed: number, n: number, scale = 1) => randn(seededRandom(seed), n).map((v) => v * scale);

/** Labels 0..classes-1 drawn from a seed. */
function labels(seed: number, batch: number, classes: number): Tensor {
  const random = seededRandom(seed);
  return Tensor.fromNumbers('int64', [batch], Array.from({ length: batch }, () => Math.floor(random() * classes)));
}

/** Run grad.onnx for `spec` and compare it with torch; returns torch's result for further checks. */
async function compareGradients(
  spec: ModelSpec,
  options: {
    dtype: DType;
    x: Tensor;
    target: Tensor;
    rtol: number;
    /** See expectRelClose. */
    floor?: number;
    fixed?: Record<string, object>;
    weights?: (params: readonly ParamInfo[]) => Map<string, Tensor>;
  },
): Promise<TorchResult> {
  const { dtype, x, target } = options;
  const drawn = buildGradGraph(spec, { dtype, seed: 3 });
  const weights = options.weights?.(drawn.params) ?? new Map(drawn.params.map((p) => [p.name, p.value]));
  const grad = buildGradGraph(spec, { dtype, seed: 3, weights });
  const feeds: Record<string, Tensor> = { x, target };
  for (const v of grad.graph.inputs) if (weights.has(v.name)) feeds[v.name] = weights.get(v.name)!;
  const out = await runModel(serializeModel(grad.graph), feeds);
  const reference = torchGradients(spec, options.fixed ?? {}, dtype, grad.params, weights, x, target, grad.loss);

  expectRelClose([out.loss.get(0)], [reference.loss], options.rtol, 'loss');
  expect(Object.keys(reference.grads).sort()).toEqual([...grad.trainable].sort());
  for (const name of grad.trainable) expectRelClose(out[`grad.${name}`].toNumbers(), reference.grads[name], options.rtol, `grad.${name}`, options.floor);
  expectRelClose(out['grad.x'].toNumbers(), reference.grad_x, options.rtol, 'grad.x', options.floor);
  return reference;
}

describe('grad.onnx matches torch autograd in float64', () => {
  it('graphs/mnist-mlp-plain (cross-entropy), to 1e-6 relative', async () => {
    await compareGradients(mlpSpec, { dtype: 'float64', x: Tensor.fromNumbers('float64', [5, 784], randomData(1, 5 * 784)), target: labels(2, 5, 10), rtol: 1e-6 });
  });

  it('graphs/sine-mlp (mean squared error), to 1e-6 relative', async () => {
    await compareGradients(sineSpec, {
      dtype: 'float64',
      x: Tensor.fromNumbers('float64', [6, 16], randomData(4, 6 * 16)),
      target: Tensor.fromNumbers('float64', [6, 1], randomData(5, 6)),
      rtol: 1e-6,
    });
  });
});

/**
 * A small conv net with train-mode BatchNorm and both kinds of pooling. A conv
 * bias right before BatchNorm has an exactly zero gradient (the batch mean
 * absorbs it), which would compare rounding noise; conv2's bias comes before a ReLU.
 */
const convNet = defineModel({
  name: 'conv-bn-pool',
  input: { shape: ['B', 2, 8, 8] },
  net: sequential({
    conv1: conv2d(2, 4, 3, { padding: 1, bias: false }),
    bn1: batchNorm2d(4),
    act1: relu(),
    pool: maxPool2d(2),
    conv2: conv2d(4, 6, 3, { padding: 1 }),
    act2: relu(),
    bn2: batchNorm2d(6, { eps: 1e-3, momentum: 0.2 }),
    gap: globalAvgPool(),
    flat: flatten(),
    head: dense(6, 3),
  }),
  task: { loss: 'cross_entropy' },
});
const CONV_FIXED = { pool: { kind: 'maxPool2d', kernel: [2, 2], stride: [2, 2], padding: [0, 0] } };

/** BatchNorm at its initial values would hide a mix-up of its tensors: random scales, shifts and running statistics. */
function randomizedBatchNorm(params: readonly ParamInfo[]): Map<string, Tensor> {
  const random = seededRandom(7);
  const draws: Record<string, () => number> = {
    weight: () => 0.5 + random(),
    bias: () => random() - 0.5,
    running_mean: () => random() - 0.5,
    running_var: () => 0.5 + 1.5 * random(),
  };
  const weights = new Map(params.map((p) => [p.name, p.value]));
  for (const p of params) {
    const suffix = p.name.split('.').pop()!;
    if (p.name.startsWith('bn') && draws[suffix]) weights.set(p.name, Tensor.fromNumbers(p.dtype, p.shape, Array.from({ length: p.value.size }, draws[suffix])));
  }
  return weights;
}

describe('a conv net with train-mode BatchNorm and pooling matches torch in float32', () => {
  const x = Tensor.fromNumbers('float32', [4, 2, 8, 8], randomData(8, 4 * 2 * 8 * 8));
  const target = labels(9, 4, 3);

  // float32 sums over at most a few hundred terms, and BatchNorm's backward subtracts
  // batch means, so small entries carry the rounding of the large ones: 1e-4 relative
  // to each tensor's largest entry is still two orders above that rounding.
  it('grad.onnx: loss, parameter and input gradients to 1e-4 relative (max norm)', async () => {
    await compareGradients(convNet, { dtype: 'float32', x, target, rtol: 1e-4, floor: 1, fixed: CONV_FIXED, weights: randomizedBatchNorm });
  });

  it("train.onnx: running statistics as torch updates them, and SGD's step p − lr·grad", async () => {
    const drawn = buildGradGraph(convNet, { seed: 3 });
    const weights = randomizedBatchNorm(drawn.params);
    const train = buildTrainGraph(convNet, { seed: 3, weights, optimizer: { kind: 'sgd' } });
    const lr = 0.25;
    const feeds: Record<string, Tensor> = { x, target, lr: Tensor.scalar(lr, 'float32'), step: Tensor.scalar(1, 'int64') };
    for (const p of train.params) feeds[p.name] = weights.get(p.name)!;
    const out = await runModel(serializeModel(train.graph), feeds);
    const reference = torchGradients(convNet, CONV_FIXED, 'float32', train.params, weights, x, target, 'cross_entropy');

    expect(train.buffers).toEqual(['bn1.running_mean', 'bn1.running_var', 'bn2.running_mean', 'bn2.running_var']);
    for (const name of train.buffers) {
      const before = weights.get(name)!.toNumbers();
      expect(out[`${name}.new`].toNumbers(), `${name} must change in train mode`).not.toEqual(before);
      expectRelClose(out[`${name}.new`].toNumbers(), reference.buffers[name], 1e-4, `${name}.new`);
    }
    for (const name of train.trainable) {
      const expected = weights.get(name)!.toNumbers().map((p, i) => p - lr * reference.grads[name][i]);
      expectRelClose(out[`${name}.new`].toNumbers(), expected, 1e-4, `${name}.new`);
    }
  });
});
