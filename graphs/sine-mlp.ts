// Plain sine-wave MLP (paper Task B without wormholes): predicts the next
// sample of a sine wave from a window of the previous 16 samples.
// 16 -> 32 tanh -> 32 tanh -> 1.
import { defineModel, dense, sequential, tanh } from '../src/index.js';

export default defineModel({
  name: 'sine-mlp',
  description: 'Plain MLP predicting the next sine sample from a window of 16 (16 -> 32 tanh -> 32 tanh -> 1)',
  input: { shape: ['B', 16], dtype: 'float' },
  net: sequential(dense(16, 32), tanh(), dense(32, 32), tanh(), dense(32, 1)),
  task: { loss: 'mse', data: { kind: 'sine', window: 16, length: 10000 }, train: { epochs: 20, batch: 64, lr: 1e-3, optimizer: 'adam' } },
});
