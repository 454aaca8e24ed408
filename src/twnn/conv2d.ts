// 2-D convolution layer, stored like torch.nn.Conv2d: `weight`
// [outChannels, inChannels/groups, kH, kW], `bias` [outChannels].
import { SpecError } from '../ir/index.js';
import * as ops from '../ops/index.js';
import { fanInUniform, kaimingUniform } from './init.js';
import { convBound } from './lipschitz.js';
import type { Module } from './module.js';
import { expectInput, pair, positiveInt } from './validate.js';
import { checkOptions, type KeysOf } from './options.js';

/** An integer for both spatial axes, or `[h, w]`. */
export type Size2 = number | readonly [number, number];

export interface Conv2dOptions {
  /** Default 1. */
  stride?: Size2;
  /** Zero padding on both sides of each axis (torch semantics), default 0. */
  padding?: Size2;
  /** Default 1. */
  dilation?: Size2;
  /** Channel groups; must divide both channel counts. Default 1. */
  groups?: number;
  /** Add a learned bias (default true; residual blocks use false, BatchNorm follows). */
  bias?: boolean;
}

const CONV2D_KEYS: KeysOf<Conv2dOptions> = { stride: true, padding: true, dilation: true, groups: true, bias: true };

/** A conv layer's geometry, readable on the module. */
export interface Conv2dModule extends Module {
  readonly kind: 'conv2d';
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly padding: readonly [number, number];
  readonly dilation: readonly [number, number];
  readonly groups: number;
  readonly bias: boolean;
}

/**
 * Cross-correlation over `[B, inChannels, H, W]` inputs, initialised like
 * torch.nn.Conv2d (weight kaiming-uniform a=√5, bias U(±1/√fanIn), fanIn =
 * inChannels/groups·kH·kW). Parameters: `weight`, and `bias` unless disabled.
 *
 * @example
 * const stem = conv2d(1, 16, 3, { padding: 1, bias: false });   // [B,1,28,28] -> [B,16,28,28]
 * const down = conv2d(16, 32, 3, { stride: 2, padding: 1 });     // halves H and W
 */
export function conv2d(inChannels: number, outChannels: number, kernel: Size2, options: Conv2dOptions = {}): Conv2dModule {
  checkOptions('conv2d: options', options, CONV2D_KEYS);
  positiveInt('conv2d', 'inChannels', inChannels);
  positiveInt('conv2d', 'outChannels', outChannels);
  const k = pair('conv2d', 'kernel', kernel, 1);
  const stride = pair('conv2d', 'stride', options.stride ?? 1, 1);
  const padding = pair('conv2d', 'padding', options.padding ?? 0, 0);
  const dilation = pair('conv2d', 'dilation', options.dilation ?? 1, 1);
  const groups = positiveInt('conv2d', 'groups', options.groups ?? 1);
  const bias = options.bias ?? true;
  if (typeof bias !== 'boolean') throw new SpecError(`conv2d: bias must be true or false, got ${String(bias)}`);
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new SpecError(`conv2d: groups ${groups} must divide both inChannels ${inChannels} and outChannels ${outChannels}`);
  }
  const fanIn = (inChannels / groups) * k[0] * k[1];
  return {
    kind: 'conv2d',
    inChannels,
    outChannels,
    kernel: k,
    stride,
    padding,
    dilation,
    groups,
    bias,
    build(ctx, x) {
      expectInput(ctx, 'conv2d', x, [undefined, inChannels, undefined, undefined], `[B, ${inChannels}, H, W]`);
      const w = ctx.param('weight', [outChannels, inChannels / groups, k[0], k[1]], kaimingUniform(fanIn));
      const b = bias ? ctx.param('bias', [outChannels], fanInUniform(fanIn)) : undefined;
      return ops.conv2d(ctx.graph, x, w, b, {
        strides: stride,
        pads: [padding[0], padding[1], padding[0], padding[1]],
        dilations: dilation,
        group: groups,
      });
    },
    lipschitz: (ctx) => convBound(ctx, ctx.param('weight', [outChannels, inChannels / groups, k[0], k[1]], kaimingUniform(fanIn)), stride, dilation),
  };
}
