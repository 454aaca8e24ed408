// graphs/cifar-resnet.ts without its wormholes (paper Table III's "ResNet-36"
// against "TWRNN", at this scale): the same stem, GroupNorm blocks B1..B4, head
// and training settings, run once front to back. See docs/CIFAR.md.
import { basicBlock, batchNorm2d, conv2d, dense, defineModel, flatten, globalAvgPool, relu, sequential } from '../src/index.js';

const gn = { norm: 'group', groups: 8 } as const;

export default defineModel({
  name: 'cifar-resnet-gn-plain',
  description: "Plain ResNet for CIFAR-10 with the TWNN ResNet's GroupNorm blocks: conv stem, B1 16, B2 16->32/2, B3 32, B4 32->64/2, global average pool, dense 64 -> 10",
  input: { shape: ['B', 3, 32, 32], dtype: 'float' },
  net: sequential({
    stem: sequential({ conv: conv2d(3, 16, 3, { padding: 1, bias: false }), bn: batchNorm2d(16), relu: relu() }),
    B1: basicBlock(16, 16, gn),
    B2: basicBlock(16, 32, { stride: 2, ...gn }),
    B3: basicBlock(32, 32, gn),
    B4: basicBlock(32, 64, { stride: 2, ...gn }),
    pool: globalAvgPool(),
    flatten: flatten(),
    head: dense(64, 10),
  }),
  task: { loss: 'cross_entropy', data: { kind: 'cifar10', dir: 'data/cifar-10-batches-bin' }, train: { epochs: 30, batch: 64, lr: 1e-3, lrSchedule: 'cosine', optimizer: 'adam' } },
});
