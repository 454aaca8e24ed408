// The TWNN MLP for MNIST (paper abstract, Table II): a stem, a fixed-point region of three
// dense blocks with a temporal wormhole from block 3 back to block 1, and a linear head.
// The wormhole's gate starts closed (bias -4), so easy digits settle in two sweeps; open
// gates make the region iterate longer. Trained with the implicit (adjoint fixed-point)
// backward, Table II settings: Adam, batch 64, lr 1e-3, tol 1e-3, maxIter 300.
import { defineModel, dense, region, relu, sequential, tanh } from '../src/index.js';

const block = () => sequential(dense(256, 256), tanh());

export default defineModel({
  name: 'mnist-mlp',
  description: 'TWNN MLP for MNIST: 784 -> 256 relu -> region[3 x (256 tanh)], wormhole 3->1 -> 10 logits',
  input: { shape: ['B', 784], dtype: 'float' },
  net: sequential({
    stem: sequential(dense(784, 256), relu()),
    region1: region({
      blocks: [block(), block(), block()],
      wormholes: [{ from: 3, to: 1, gateBias: -4 }],
      iterate: { tol: 1e-3, maxIter: 300 },
      backward: 'implicit',
    }),
    head: dense(256, 10),
  }),
  task: { loss: 'cross_entropy', data: { kind: 'mnist', layout: 'flat' }, train: { epochs: 2, batch: 64, lr: 1e-3, optimizer: 'adam' } },
});
