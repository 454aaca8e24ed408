// The ResNet-style TWNN for MNIST (paper Task A, Fig. 5): a conv stem, basic
// residual blocks B1..B4, a fixed-point iterator after B2 with a wormhole back to
// B1, another after B4 with a wormhole back to B3, then pooling and a dense head.
//   stem: conv3x3 1->16 stride 2, BN, ReLU               [B,1,28,28] -> [B,16,14,14]
//   region1: B1 16->16, B2 16->32 stride 2, wormhole B2->B1   -> [B,32,7,7]
//   region2: B3 32->32, B4 32->64, wormhole B4->B3             -> [B,64,7,7]
//   global average pool, flatten, dense 64->10 logits
// Blocks inside a region normalise per sample (GroupNorm, 8 groups): BatchNorm's
// batch statistics would couple the samples' fixed points (docs/DESIGN.md §1). Wormhole
// B2->B1 comes from a strided block, so its projection is a 2x2 stride-2
// ConvTranspose back onto B1's finer input; B4->B3 keeps the resolution, so a 1x1
// conv maps 64 channels onto 32. Both gates start closed (bias -4).
// The stem's stride 2 is for CPU time: every sweep of the regions runs at 14x14
// and 7x7 instead of 28x28 and 14x14 (about 3x cheaper per step, measured).
// Training: Table II's Adam, batch 64, lr 1e-3, tol 1e-3, maxIter 300, with a
// cosine decay of the lr over 8 epochs (decaying settles the weights at the end
// of a short run); docs/RESULTS.md has the measured accuracy and time per epoch.
// lr 2e-3 is too much for this TWNN: with the old truncated adjoint its sweeps rose
// from 7 to 27 per sample within 500 steps and its loss went NaN (at step 525; at step
// 471 with the gradient norm clipped to 1); with the exact adjoint its loss collapses
// to chance by step 300 (38% test accuracy after one epoch), with or without a
// Jacobian penalty (graphs/mnist-resnet-jacobian.ts), while the same blocks without
// wormholes train at 2e-3.
// Conv networks build in float32 only.
import { basicBlock, batchNorm2d, conv2d, dense, defineModel, flatten, globalAvgPool, region, relu, sequential, type BasicBlockOptions, type ModelSpec, type RegionSpec } from '../src/index.js';

const iterate = { tol: 1e-3, maxIter: 300 };

/** What a variant of this TWNN changes: its name, settings shared by both regions, and the learning rate. */
export interface MnistResnetVariant {
  name: string;
  note?: string;
  regions?: Pick<RegionSpec, 'jacobianPenalty' | 'backwardSolver' | 'contractive'> & { iterate?: RegionSpec['iterate'] };
  /** The blocks' norm: `group` (default) or `none` (graphs/fashion-resnet-contractive.ts: a contractive region cannot bound a norm). */
  norm?: 'group' | 'none';
  lr?: number;
  /** A skip gate on each of B1..B4 (graphs/fashion-resnet-skip.ts). */
  skip?: BasicBlockOptions['skip'];
}

/**
 * This file's TWNN ResNet, or a variant of it (graphs/mnist-resnet-jacobian.ts).
 *
 * @example export default mnistResnet({ name: 'mnist-resnet-jacobian', regions: { jacobianPenalty: 1 }, lr: 2e-3 });
 */
export function mnistResnet(variant: MnistResnetVariant = { name: 'mnist-resnet' }): ModelSpec {
  // Lazy compaction (compactBelow 0.9): its samples settle over tens of sweeps, so gathering the unsettled rows
  // only when a tenth of a working set has settled beats gathering them every step (docs/PERFORMANCE.md).
  const shared = { backward: 'implicit' as const, compactBelow: 0.9, ...variant.regions, iterate: { ...iterate, ...variant.regions?.iterate } };
  const gn: BasicBlockOptions = { ...(variant.norm === 'none' ? { norm: 'none' } : { norm: 'group', groups: 8 }), ...(variant.skip ? { skip: variant.skip } : {}) };
  return defineModel({
    name: variant.name,
    description:
      'TWNN ResNet for MNIST (paper Fig. 5): conv stem /2, region[B1 16, B2 16->32/2] wormhole 2->1, region[B3 32, B4 32->64] wormhole 4->3, ' +
      `${variant.norm === 'none' ? 'unnormalised' : 'GroupNorm'} blocks, global average pool, dense 64 -> 10${variant.note ? `; ${variant.note}` : ''}`,
    input: { shape: ['B', 1, 28, 28], dtype: 'float' },
    net: sequential({
      stem: sequential({ conv: conv2d(1, 16, 3, { stride: 2, padding: 1, bias: false }), bn: batchNorm2d(16), relu: relu() }),
      region1: region({
        blocks: { B1: basicBlock(16, 16, gn), B2: basicBlock(16, 32, { stride: 2, ...gn }) },
        wormholes: [{ from: 'B2', to: 'B1', gateBias: -4 }],
        ...shared,
      }),
      region2: region({
        blocks: { B3: basicBlock(32, 32, gn), B4: basicBlock(32, 64, gn) },
        wormholes: [{ from: 'B4', to: 'B3', gateBias: -4 }],
        ...shared,
      }),
      pool: globalAvgPool(),
      flatten: flatten(),
      head: dense(64, 10),
    }),
    task: { loss: 'cross_entropy', data: { kind: 'mnist', layout: 'image' }, train: { epochs: 8, batch: 64, lr: variant.lr ?? 1e-3, lrSchedule: 'cosine', optimizer: 'adam' } },
  });
}

export default mnistResnet();
