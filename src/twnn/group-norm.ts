// Per-sample normalisation (torch.nn.GroupNorm) as a composite of existing ops,
// so it is differentiated by their VJP rules and needs no new ONNX op. Unlike
// BatchNorm it never mixes samples, so it may sit inside a fixed-point region
// (DESIGN §1): each sample keeps its own fixed point.
import { SpecError, type Graph, type Value } from '../ir/index.js';
import * as ops from '../ops/index.js';
import { ones, zeros } from './init.js';
import type { Module } from './module.js';
import { expectInput, finite, positiveInt, where } from './validate.js';

export interface GroupNorm2dOptions {
  /** Added to the variance before the square root (default 1e-5, as torch). */
  eps?: number;
}

export interface GroupNorm2dModule extends Module {
  readonly kind: 'groupNorm2d';
  readonly groups: number;
  readonly channels: number;
  readonly eps: number;
}

/**
 * torch.nn.GroupNorm on `[B, C, H, W]`: the channels are split into `groups`
 * groups, and each sample's group is normalised by its own mean and biased
 * variance over (C/groups, H, W); then a per-channel `weight` (ones) and `bias`
 * (zeros). `groups = 1` is LayerNorm over (C, H, W) with a per-channel affine;
 * `groups = channels` is InstanceNorm. The same numbers in training and
 * inference graphs, and no buffers.
 *
 * @example sequential(conv2d(16, 16, 3, { padding: 1, bias: false }), groupNorm2d(8, 16), relu())
 */
export function groupNorm2d(groups: number, channels: number, options: GroupNorm2dOptions = {}): GroupNorm2dModule {
  positiveInt('groupNorm2d', 'groups', groups);
  positiveInt('groupNorm2d', 'channels', channels);
  if (channels % groups !== 0) throw new SpecError(`groupNorm2d: channels (${channels}) must be a multiple of groups (${groups})`);
  const eps = finite('groupNorm2d', 'eps', options.eps ?? 1e-5, { above: 0 });
  return {
    kind: 'groupNorm2d',
    groups,
    channels,
    eps,
    build(ctx, x) {
      expectInput(ctx, 'groupNorm2d', x, [undefined, channels, undefined, undefined], `[B, ${channels}, H, W]`);
      if (x.shape.slice(2).some((d) => d === 0)) throw new SpecError(`${where(ctx, 'groupNorm2d')}: input ${x.describe()} has no spatial extent`);
      const weight = ctx.param('weight', [channels], ones());
      const bias = ctx.param('bias', [channels], zeros());
      return groupNormalize(ctx.graph, x, { groups, eps, weight, bias });
    },
  };
}

/** The groups, eps and per-channel affine of `groupNormalize`. */
export interface GroupNormalizeParams {
  groups: number;
  eps: number;
  /** `[C]` scale. */
  weight: Value;
  /** `[C]` shift. */
  bias: Value;
}

/**
 * GroupNorm's nodes (torch.nn.functional.group_norm) on `[B, C, H, W]`:
 * `[B, G, C/G·H·W]` rows, each normalised by its mean and biased variance,
 * reshaped back, then `·weight + bias` per channel.
 *
 * @example const y = groupNormalize(g, x, { groups: 4, eps: 1e-5, weight, bias });
 */
export function groupNormalize(g: Graph, x: Value, { groups, eps, weight, bias }: GroupNormalizeParams): Value {
  // Reshape's 0 copies B, so a symbolic batch needs no Shape op.
  const rows = ops.reshape(g, x, [0, groups, -1]);
  const mean = ops.reduceMean(g, rows, [2], true);
  const centered = ops.sub(g, rows, mean);
  const variance = ops.reduceMean(g, ops.mul(g, centered, centered), [2], true);
  const normalized = ops.div(g, centered, ops.sqrt(g, ops.add(g, variance, ops.scalar(g, eps, x.dtype))));
  // [C] -> [C, 1, 1] broadcasts against [B, C, H, W].
  const perChannel = (v: Value) => ops.unsqueeze(g, v, [1, 2]);
  return ops.add(g, ops.mul(g, ops.reshapeLike(g, normalized, x), perChannel(weight)), perChannel(bias));
}
