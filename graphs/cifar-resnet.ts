// The ResNet-style TWNN of paper Task A (Fig. 5) on CIFAR-10, as the paper ran
// it: graphs/mnist-resnet.ts with 3-channel 32x32 input and full resolution.
//   stem: conv3x3 3->16, BN, ReLU                        [B,3,32,32] -> [B,16,32,32]
//   region1: B1 16->16, B2 16->32 stride 2, wormhole B2->B1   -> [B,32,16,16]
//   region2: B3 32->32, B4 32->64 stride 2, wormhole B4->B3   -> [B,64,8,8]
//   global average pool, flatten, dense 64->10 logits
// Both wormholes come from strided blocks: 2x2 stride-2 ConvTranspose projections.
// Region blocks use GroupNorm (per sample, docs/DESIGN.md §1). CIFAR-10 is not on any
// registry here: put the binary batches (cifar-10-batches-bin) in
// data/cifar-10-batches-bin, or change `dir` below; docs/CIFAR.md has the commands.
// Training: Table IV's lr 1e-3 and tol 1e-3, maxIter 300, Adam, batch 64, cosine decay.
import { basicBlock, batchNorm2d, conv2d, dense, defineModel, flatten, globalAvgPool, region, relu, sequential } from '../src/index.js';

const gn = { norm: 'group', groups: 8 } as const;
const iterate = { tol: 1e-3, maxIter: 300 };

export default defineModel({
  name: 'cifar-resnet',
  description: 'TWNN ResNet for CIFAR-10 (paper Fig. 5): conv stem, region[B1 16, B2 16->32/2] wormhole 2->1, region[B3 32, B4 32->64/2] wormhole 4->3, GroupNorm blocks, global average pool, dense 64 -> 10',
  input: { shape: ['B', 3, 32, 32], dtype: 'float' },
  net: sequential({
    stem: sequential({ conv: conv2d(3, 16, 3, { padding: 1, bias: false }), bn: batchNorm2d(16), relu: relu() }),
    region1: region({
      blocks: { B1: basicBlock(16, 16, gn), B2: basicBlock(16, 32, { stride: 2, ...gn }) },
      wormholes: [{ from: 'B2', to: 'B1', gateBias: -4 }],
      iterate,
      backward: 'implicit',
    }),
    region2: region({
      blocks: { B3: basicBlock(32, 32, gn), B4: basicBlock(32, 64, { stride: 2, ...gn }) },
      wormholes: [{ from: 'B4', to: 'B3', gateBias: -4 }],
      iterate,
      backward: 'implicit',
    }),
    pool: globalAvgPool(),
    flatten: flatten(),
    head: dense(64, 10),
  }),
  task: { loss: 'cross_entropy', data: { kind: 'cifar10', dir: 'data/cifar-10-batches-bin' }, train: { epochs: 30, batch: 64, lr: 1e-3, lrSchedule: 'cosine', optimizer: 'adam' } },
});
