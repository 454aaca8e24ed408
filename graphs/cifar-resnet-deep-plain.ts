// A deeper plain ResNet for CIFAR-10: twice the basic blocks of
// graphs/cifar-resnet.ts, no wormholes (paper Table III's "ResNet-50" against
// "TWRNN", at this scale). See docs/CIFAR.md.
import { basicBlock, batchNorm2d, conv2d, dense, defineModel, flatten, globalAvgPool, relu, sequential } from '../src/index.js';

const gn = { norm: 'group', groups: 8 } as const;

export default defineModel({
  name: 'cifar-resnet-deep-plain',
  description: 'Deep plain ResNet for CIFAR-10: conv stem, 8 GroupNorm basic blocks (16, 16, 16->32/2, 32, 32, 32, 32->64/2, 64), global average pool, dense 64 -> 10',
  input: { shape: ['B', 3, 32, 32], dtype: 'float' },
  net: sequential({
    stem: sequential({ conv: conv2d(3, 16, 3, { padding: 1, bias: false }), bn: batchNorm2d(16), relu: relu() }),
    B1a: basicBlock(16, 16, gn),
    B1b: basicBlock(16, 16, gn),
    B2a: basicBlock(16, 32, { stride: 2, ...gn }),
    B2b: basicBlock(32, 32, gn),
    B3a: basicBlock(32, 32, gn),
    B3b: basicBlock(32, 32, gn),
    B4a: basicBlock(32, 64, { stride: 2, ...gn }),
    B4b: basicBlock(64, 64, gn),
    pool: globalAvgPool(),
    flatten: flatten(),
    head: dense(64, 10),
  }),
  task: { loss: 'cross_entropy', data: { kind: 'cifar10', dir: 'data/cifar-10-batches-bin' }, train: { epochs: 30, batch: 64, lr: 1e-3, lrSchedule: 'cosine', optimizer: 'adam' } },
});
