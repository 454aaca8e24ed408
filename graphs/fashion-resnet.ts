// The MNIST TWNN ResNet (graphs/mnist-resnet.ts) on Fashion-MNIST (issue 14):
// the same stem, blocks, wormholes and iterator, trained on Zalando's clothing
// images, which plain CNNs do not solve (~91-93%), so architectures differ.
// The two baselines (fashion-resnet-gn-plain.ts, fashion-resnet-deep-plain.ts)
// train for the same epochs. The data come from Debian's dataset-fashion-mnist.
import { defineModel, type ModelSpec } from '../src/index.js';
import mnistResnet from './mnist-resnet.js';

/** Epochs every Fashion-MNIST graph trains for: the study compares them at equal epochs. */
export const FASHION_EPOCHS = 10;

/**
 * `spec` retargeted at Fashion-MNIST: its network and training settings, the
 * data and epoch count swapped, named `name`.
 *
 * @example export default onFashionMnist(mnistResnetPlain, 'fashion-resnet-plain');
 */
export function onFashionMnist(spec: ModelSpec, name: string): ModelSpec {
  return defineModel({
    name,
    description: `${spec.description ?? spec.name}; on Fashion-MNIST`,
    input: { shape: [...spec.input.shape], dtype: 'float' },
    net: spec.net,
    task: { loss: 'cross_entropy', data: { kind: 'fashion-mnist', layout: 'image' }, train: { ...spec.task?.train, epochs: FASHION_EPOCHS } },
  });
}

export default onFashionMnist(mnistResnet, 'fashion-resnet');
