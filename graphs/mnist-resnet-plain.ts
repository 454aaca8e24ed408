// Plain residual network for MNIST (paper Task A's architecture without the
// wormhole): conv stem, basic blocks B1..B4, global average pool, dense head.
//   stem: conv3x3 1->16, BN, ReLU             [B,1,28,28] -> [B,16,28,28]
//   B1: 16->16   B2: 16->32 stride 2          -> [B,32,14,14]
//   B3: 32->32   B4: 32->64 stride 2          -> [B,64,7,7]
//   global average pool, flatten, dense 64->10 logits
// Conv networks build in float32 only (onnxruntime's CPU EP has no float64 Conv).
import { basicBlock, batchNorm2d, conv2d, dense, defineModel, flatten, globalAvgPool, relu, sequential } from '../src/index.js';

export default defineModel({
  name: 'mnist-resnet-plain',
  description: 'Plain ResNet for MNIST: conv stem, basic blocks B1..B4 (16, 16->32/2, 32, 32->64/2), global average pool, dense 64 -> 10',
  input: { shape: ['B', 1, 28, 28], dtype: 'float' },
  net: sequential({
    stem: sequential({ conv: conv2d(1, 16, 3, { padding: 1, bias: false }), bn: batchNorm2d(16), relu: relu() }),
    B1: basicBlock(16, 16),
    B2: basicBlock(16, 32, { stride: 2 }),
    B3: basicBlock(32, 32),
    B4: basicBlock(32, 64, { stride: 2 }),
    pool: globalAvgPool(),
    flatten: flatten(),
    head: dense(64, 10),
  }),
  task: { loss: 'cross_entropy', data: { kind: 'mnist', layout: 'image' }, train: { epochs: 2, batch: 64, lr: 1e-3, optimizer: 'adam' } },
});
