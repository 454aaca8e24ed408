// Conv networks against PyTorch: same architecture, same weights (loaded with
// load_state_dict(strict=True), so the parameter names and layouts must be
// torch's), same input; outputs agree to float32 precision.
import { describe, expect, it } from 'vitest';
import resnetSpec from '../../graphs/mnist-resnet-plain.js';
import {
  avgPool2d,
  batchNorm2d,
  bottleneck,
  buildInferenceGraph,
  conv2d,
  defineModel,
  dense,
  flatten,
  globalAvgPool,
  leakyRelu,
  maxPool2d,
  paramWeights,
  sequential,
  sigmoid,
  softmax,
  tanh,
  Tensor,
  type ModelSpec,
  type ParamInfo,
} from '../../src/index.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { seededRandom } from '../helpers/rng.js';
import { expectAllClose, randomTensor, runModel, torchForward } from './support.js';

/** Every layer factory with non-default geometry, in one network. */
const layerZoo = defineModel({
  name: 'layer-zoo',
  input: { shape: ['B', 3, 12, 12] },
  net: sequential({
    c1: conv2d(3, 8, [3, 5], { padding: [1, 2] }),
    a1: leakyRelu(0.2),
    p1: maxPool2d(3, { stride: 2, padding: 1 }),
    c2: conv2d(8, 8, 3, { padding: 2, dilation: 2, groups: 4 }),
    bn: batchNorm2d(8, { eps: 1e-3 }),
    a2: sigmoid(),
    p2: avgPool2d(3, { stride: 1, padding: 1 }),
    blk: bottleneck(8, 4, { stride: 2 }),
    p3: avgPool2d(2, { stride: 1 }),
    gap: globalAvgPool(),
    flat: flatten(),
    fc: dense(16, 5),
    t: tanh(),
    fc2: dense(5, 4, { bias: false }),
    sm: softmax(),
  }),
});

/**
 * BatchNorm at its initial values (scale 1, shift 0, mean 0, var 1) is almost
 * the identity and would hide a mix-up of its four tensors; give them random
 * values (variances positive) through `weights`.
 */
function randomizedBatchNorm(params: readonly ParamInfo[]): Map<string, Tensor> {
  const random = seededRandom(7);
  const draws: Record<string, () => number> = {
    weight: () => 0.5 + random(),
    bias: () => random() - 0.5,
    running_mean: () => random() - 0.5,
    running_var: () => 0.5 + 1.5 * random(),
  };
  const layers = params.filter((p) => p.name.endsWith('.running_mean')).map((p) => p.name.slice(0, -'.running_mean'.length));
  const weights = paramWeights(params);
  for (const layer of layers) {
    for (const [suffix, draw] of Object.entries(draws)) {
      const p = params.find((q) => q.name === `${layer}.${suffix}`)!;
      weights.set(p.name, Tensor.fromNumbers('float32', p.shape, Array.from({ length: p.value.size }, draw)));
    }
  }
  expect(layers.length).toBeGreaterThan(0);
  return weights;
}

async function compareWithTorch(spec: ModelSpec, inputShape: number[]): Promise<void> {
  const initial = buildInferenceGraph(spec, { seed: 3 });
  const weights = randomizedBatchNorm(initial.params);
  const { graph, params } = buildInferenceGraph(spec, { seed: 3, weights });
  const x = randomTensor('float32', inputShape, 11);
  const out = await runModel(serializeModel(graph), { x });
  const reference = torchForward(spec.name, params, x);
  expect(out.y.shape).toEqual(reference.shape);
  expectAllClose(out.y.toNumbers(), reference.data, 1e-4, 1e-4);
}

describe('conv networks match PyTorch', () => {
  it('graphs/mnist-resnet-plain', async () => {
    await compareWithTorch(resnetSpec, [3, 1, 28, 28]);
  });

  it('a zoo of every layer with non-default geometry', async () => {
    await compareWithTorch(layerZoo, [2, 3, 12, 12]);
  });
});
