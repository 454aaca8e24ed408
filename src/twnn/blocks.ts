// Residual blocks with torchvision's structure and parameter names
// (conv1, bn1, conv2, bn2, [conv3, bn3,] downsample.0, downsample.1), so a
// torchvision-style state_dict maps onto them key for key.
import { SpecError, type Value } from '../ir/index.js';
import * as ops from '../ops/index.js';
import { relu } from './activations.js';
import { conv2d } from './conv2d.js';
import { groupNorm2d } from './group-norm.js';
import type { BuildContext, Module } from './module.js';
import { batchNorm2d } from './norm.js';
import { sequential } from './sequential.js';
import { boundProduct, boundSum, lipschitzOf } from './lipschitz.js';
import { positiveInt } from './validate.js';
import { checkOptions, type KeysOf } from './options.js';
import { gatedResidual, resolveSkipGate, type ResolvedSkipGate, type SkipGateOptions } from './skip-gate.js';

export interface BasicBlockOptions {
  /** Stride of the first 3x3 conv and of the shortcut (2 halves H and W). Default 1. */
  stride?: number;
  /**
   * `batch` (default): BatchNorm, as torchvision. `group`: per-sample GroupNorm
   * (torchvision's `norm_layer`, same names bn1/bn2), which blocks inside a
   * fixed-point region need (docs/DESIGN.md §1). `none`: no normalisation
   * (the convs keep no bias either), for the blocks of a contractive region,
   * which cannot bound a norm layer (src/twnn/lipschitz.ts).
   */
  norm?: 'batch' | 'group' | 'none';
  /** Groups of the GroupNorm layers (default 8; must divide outChannels). */
  groups?: number;
  /**
   * A learned per-sample skip gate on the residual branch (paper Eq. 5-6):
   * `relu(shortcut + s ⊙ main(x))`; in inference graphs samples with
   * s < threshold skip the branch (src/twnn/skip-gate.ts). `true`: the defaults.
   */
  skip?: SkipGateOptions | true;
}

const BASIC_BLOCK_KEYS: KeysOf<BasicBlockOptions> = { stride: true, norm: true, groups: true, skip: true };

export interface BottleneckOptions {
  /** Stride of the 3x3 conv and of the shortcut. Default 1. */
  stride?: number;
  /** Output channels = width · expansion. Default 4. */
  expansion?: number;
  /** A learned per-sample skip gate on the residual branch, as basicBlock's. */
  skip?: SkipGateOptions | true;
}

const BOTTLENECK_KEYS: KeysOf<BottleneckOptions> = { stride: true, expansion: true, skip: true };

/** A residual block: `relu(main(x) + shortcut(x))`, each part built in its scope; with a skip gate, `relu(shortcut + s ⊙ main(x))`. */
function residual(kind: string, main: readonly [string, Module][], downsample: Module | undefined, skip: ResolvedSkipGate | undefined): Module {
  const branch = (ctx: BuildContext, x: Value) => main.reduce((acc, [name, m]) => ctx.scope(name, () => m.build(ctx, acc)), x);
  return {
    kind,
    build(ctx, x) {
      const shortcutOf = () => (downsample ? ctx.scope('downsample', () => downsample.build(ctx, x)) : x);
      // A gated block needs its shortcut and gate before it knows which rows run the branch.
      if (skip) return gatedResidual(ctx, x, (rows) => branch(ctx, rows), shortcutOf(), skip);
      const h = branch(ctx, x);
      return ops.relu(ctx.graph, ops.add(ctx.graph, h, shortcutOf()));
    },
    lipschitz(ctx) {
      if (skip) throw new SpecError(`layer '${ctx.scopeName}' (${kind} with a skip gate) has no Lipschitz bound: the gate s(x) multiplies an unbounded branch`);
      const main_ = boundProduct(ctx, main.map(([name, m]) => ctx.scope(name, () => lipschitzOf(ctx, m))));
      // relu is 1-Lipschitz; the branches add.
      return boundSum(ctx, [main_, downsample ? ctx.scope('downsample', () => lipschitzOf(ctx, downsample)) : 1]);
    },
  };
}

/** 1x1 conv + norm projection, used when the shortcut must change channels or resolution. */
function projection(inChannels: number, outChannels: number, stride: number, norm: ((channels: number) => Module) | undefined): Module {
  const conv = conv2d(inChannels, outChannels, 1, { stride, bias: false });
  // torchvision's names (downsample.0, downsample.1) whether or not a norm follows.
  return norm ? sequential(conv, norm(outChannels)) : sequential(conv);
}

/**
 * torchvision's BasicBlock: conv3x3(stride)–BN–ReLU–conv3x3–BN, plus the
 * input (identity, or a 1x1 conv + BN projection when the stride or the channel
 * count changes), then ReLU. Convs have no bias (BatchNorm follows).
 *
 * @example
 * basicBlock(16, 16)                // [B,16,H,W] -> [B,16,H,W]
 * basicBlock(16, 32, { stride: 2 }) // [B,16,H,W] -> [B,32,H/2,W/2]
 * basicBlock(16, 16, { norm: 'group', groups: 8 }) // per-sample norm, for a region's blocks
 * basicBlock(32, 64, { norm: 'group', skip: { cost: 0.01 } }) // samples may skip it (paper Eq. 5-6)
 */
export function basicBlock(inChannels: number, outChannels: number, options: BasicBlockOptions = {}): Module {
  checkOptions('basicBlock: options', options, BASIC_BLOCK_KEYS);
  positiveInt('basicBlock', 'inChannels', inChannels);
  positiveInt('basicBlock', 'outChannels', outChannels);
  const stride = positiveInt('basicBlock', 'stride', options.stride ?? 1);
  if (options.norm !== undefined && options.norm !== 'batch' && options.norm !== 'group' && options.norm !== 'none') {
    throw new SpecError(`basicBlock: norm must be 'batch', 'group' or 'none', got ${JSON.stringify(options.norm)}`);
  }
  const groups = positiveInt('basicBlock', 'groups', options.groups ?? 8);
  const norm =
    options.norm === 'none' ? undefined : options.norm === 'group' ? (channels: number) => groupNorm2d(groups, channels) : (channels: number) => batchNorm2d(channels);
  const normed = (name: string, channels: number): [string, Module][] => (norm ? [[name, norm(channels)]] : []);
  const main: [string, Module][] = [
    ['conv1', conv2d(inChannels, outChannels, 3, { stride, padding: 1, bias: false })],
    ...normed('bn1', outChannels),
    ['relu', relu()],
    ['conv2', conv2d(outChannels, outChannels, 3, { padding: 1, bias: false })],
    ...normed('bn2', outChannels),
  ];
  const needsProjection = stride !== 1 || inChannels !== outChannels;
  const skip = options.skip === undefined ? undefined : resolveSkipGate('basicBlock', options.skip);
  return residual('basicBlock', main, needsProjection ? projection(inChannels, outChannels, stride, norm) : undefined, skip);
}

/**
 * torchvision's Bottleneck (ResNet v1.5: the stride sits on the 3x3 conv):
 * conv1x1–BN–ReLU–conv3x3(stride)–BN–ReLU–conv1x1–BN to `width·expansion`
 * channels, plus the input (identity or projection), then ReLU.
 *
 * @example
 * bottleneck(64, 16)                // [B,64,H,W] -> [B,64,H,W]
 * bottleneck(64, 32, { stride: 2 }) // [B,64,H,W] -> [B,128,H/2,W/2]
 */
export function bottleneck(inChannels: number, width: number, options: BottleneckOptions = {}): Module {
  checkOptions('bottleneck: options', options, BOTTLENECK_KEYS);
  positiveInt('bottleneck', 'inChannels', inChannels);
  positiveInt('bottleneck', 'width', width);
  const stride = positiveInt('bottleneck', 'stride', options.stride ?? 1);
  const expansion = positiveInt('bottleneck', 'expansion', options.expansion ?? 4);
  const outChannels = width * expansion;
  const main: [string, Module][] = [
    ['conv1', conv2d(inChannels, width, 1, { bias: false })],
    ['bn1', batchNorm2d(width)],
    ['relu1', relu()],
    ['conv2', conv2d(width, width, 3, { stride, padding: 1, bias: false })],
    ['bn2', batchNorm2d(width)],
    ['relu2', relu()],
    ['conv3', conv2d(width, outChannels, 1, { bias: false })],
    ['bn3', batchNorm2d(outChannels)],
  ];
  const needsProjection = stride !== 1 || inChannels !== outChannels;
  const skip = options.skip === undefined ? undefined : resolveSkipGate('bottleneck', options.skip);
  return residual('bottleneck', main, needsProjection ? projection(inChannels, outChannels, stride, batchNorm2d) : undefined, skip);
}
