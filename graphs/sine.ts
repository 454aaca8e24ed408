// Draft (tuning in progress).
import { defineModel, dense, region, sequential, tanh } from '../src/index.js';

const WINDOW = 16;
const H = 32;
const block = () => sequential(dense(H, H), tanh());

export default defineModel({
  name: 'sine',
  description: 'TWNN predicting the next sine sample',
  input: { shape: ['B', WINDOW], dtype: 'float' },
  net: sequential({
    stem: sequential(dense(WINDOW, H), tanh()),
    region1: region({
      blocks: [block(), block()],
      wormholes: [{ from: 2, to: 1, gateBias: -4 }],
      iterate: { tol: 1e-3, maxIter: 300 },
      backward: 'implicit',
    }),
    head: dense(H, 1),
  }),
  task: { loss: 'mse', data: { kind: 'sine', window: WINDOW, length: 10000 }, train: { epochs: 10, batch: 64, lr: 1e-3, optimizer: 'adam' } },
});
