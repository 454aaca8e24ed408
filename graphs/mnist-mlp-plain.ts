// Plain MNIST MLP baseline: flattened 28x28 images in, 10 class logits out.
// 784 -> 256 relu -> 128 relu -> 10.
import { defineModel, dense, relu, sequential } from '../src/index.js';

export default defineModel({
  name: 'mnist-mlp-plain',
  description: 'Plain MNIST MLP (784 -> 256 relu -> 128 relu -> 10 logits)',
  input: { shape: ['B', 784], dtype: 'float' },
  net: sequential(dense(784, 256), relu(), dense(256, 128), relu(), dense(128, 10)),
  task: { kind: 'classification', classes: 10 },
});
