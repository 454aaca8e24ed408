// A deeper plain ResNet for MNIST: twice the basic blocks of graphs/mnist-resnet.ts
// (two per stage where the TWNN has one), the same GroupNorm blocks, stem, head
// and training settings (lr 1e-3, cosine, 8 epochs: see graphs/mnist-resnet.ts),
// no wormholes. Paper Table III compares the TWNN with a
// deeper plain network ("ResNet-50"); this is that comparison at MNIST scale.
//   stem: conv3x3 1->16 stride 2, BN, ReLU        [B,1,28,28] -> [B,16,14,14]
//   B1a, B1b: 16   B2a: 16->32 stride 2, B2b: 32  -> [B,32,7,7]
//   B3a, B3b: 32   B4a: 32->64, B4b: 64           -> [B,64,7,7]
//   global average pool, flatten, dense 64->10 logits
import { basicBlock, batchNorm2d, conv2d, dense, defineModel, flatten, globalAvgPool, relu, sequential } from '../src/index.js';

const gn = { norm: 'group', groups: 8 } as const;

export default defineModel({
  name: 'mnist-resnet-deep-plain',
  description: 'Deep plain ResNet for MNIST: conv stem /2, 8 GroupNorm basic blocks (16, 16, 16->32/2, 32, 32, 32, 32->64, 64), global average pool, dense 64 -> 10',
  input: { shape: ['B', 1, 28, 28], dtype: 'float' },
  net: sequential({
    stem: sequential({ conv: conv2d(1, 16, 3, { stride: 2, padding: 1, bias: false }), bn: batchNorm2d(16), relu: relu() }),
    B1a: basicBlock(16, 16, gn),
    B1b: basicBlock(16, 16, gn),
    B2a: basicBlock(16, 32, { stride: 2, ...gn }),
    B2b: basicBlock(32, 32, gn),
    B3a: basicBlock(32, 32, gn),
    B3b: basicBlock(32, 32, gn),
    B4a: basicBlock(32, 64, gn),
    B4b: basicBlock(64, 64, gn),
    pool: globalAvgPool(),
    flatten: flatten(),
    head: dense(64, 10),
  }),
  task: { loss: 'cross_entropy', data: { kind: 'mnist', layout: 'image' }, train: { epochs: 8, batch: 64, lr: 1e-3, lrSchedule: 'cosine', optimizer: 'adam' } },
});
