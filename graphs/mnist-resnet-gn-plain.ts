// graphs/mnist-resnet.ts without its wormholes: the same stem, the same GroupNorm
// basic blocks B1..B4 (same parameter names and shapes, minus the wormholes'),
// the same head and training settings (lr 1e-3, cosine, 8 epochs: see
// graphs/mnist-resnet.ts), run once front to back. The like-for-like baseline that
// isolates what the fixed-point iterators add (paper Table III's "ResNet-36"
// against "TWRNN").
import { basicBlock, batchNorm2d, conv2d, dense, defineModel, flatten, globalAvgPool, relu, sequential } from '../src/index.js';

const gn = { norm: 'group', groups: 8 } as const;

export default defineModel({
  name: 'mnist-resnet-gn-plain',
  description: 'Plain ResNet for MNIST with the TWNN ResNet\'s GroupNorm blocks: conv stem /2, B1 16, B2 16->32/2, B3 32, B4 32->64, global average pool, dense 64 -> 10',
  input: { shape: ['B', 1, 28, 28], dtype: 'float' },
  net: sequential({
    stem: sequential({ conv: conv2d(1, 16, 3, { stride: 2, padding: 1, bias: false }), bn: batchNorm2d(16), relu: relu() }),
    B1: basicBlock(16, 16, gn),
    B2: basicBlock(16, 32, { stride: 2, ...gn }),
    B3: basicBlock(32, 32, gn),
    B4: basicBlock(32, 64, gn),
    pool: globalAvgPool(),
    flatten: flatten(),
    head: dense(64, 10),
  }),
  task: { loss: 'cross_entropy', data: { kind: 'mnist', layout: 'image' }, train: { epochs: 8, batch: 64, lr: 1e-3, lrSchedule: 'cosine', optimizer: 'adam' } },
});
