// Per-sample normalisation (torch.nn.GroupNorm). Unlike BatchNorm it never
// mixes samples, so it may sit inside a fixed-point region (docs/DESIGN.md §1): each
// sample keeps its own fixed point.
//
// Lowering. ONNX opset 17 has no GroupNorm op, but GroupNorm on [B, C, H, W] is
// InstanceNormalization on the [B, G, C/G·H·W] rows (unit scale, no shift),
// reshaped back, then the per-channel affine. float32 graphs use that fused
// kernel (its VJP rule: src/ops/norm.ts). The composite below (ReduceMean, Sub,
// Mul, ReduceMean, Add, Sqrt, Div and their VJPs) runs in every sweep and
// adjoint step: in a TWNN ResNet train step (graphs/mnist-resnet.ts, batch 64)
// it was about a quarter of the kernel time. On a 2-core CPU the kernel takes
// 7-9% off that step's time and 1-4% off inference's (tools/bench-norm.ts builds
// both and times them interleaved). Of the fused forms on onnxruntime-node 1.29's
// CPU EP, InstanceNormalization on [B, G, L] was the fastest: on [B, G, L, 1] the
// same or slower, LayerNormalization(axis 2) with a ones [L] scale 2-3x slower
// than the composite.
// onnxruntime (node and web) has no float64 InstanceNormalization kernel, so
// float64 graphs keep the composite, differentiated by the VJP rules of its
// elementwise ops; both forms compute the same function.
import { SpecError, Tensor, type Graph, type Value } from '../ir/index.js';
import * as ops from '../ops/index.js';
import { ones, zeros } from './init.js';
import type { Module } from './module.js';
import { expectInput, finite, positiveInt, where } from './validate.js';
import { checkOptions, type KeysOf } from './options.js';

export interface GroupNorm2dOptions {
  /** Added to the variance before the square root (default 1e-5, as torch). */
  eps?: number;
  /**
   * float32: the fused InstanceNormalization kernel (true) or the composite of
   * elementwise ops (false). Default: the build's `groupNorm` option (fused
   * unless it says composite). float64 graphs always get the composite.
   */
  fused?: boolean;
}

const GROUP_NORM_KEYS: KeysOf<GroupNorm2dOptions> = { eps: true, fused: true };

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
  checkOptions('groupNorm2d: options', options, GROUP_NORM_KEYS);
  positiveInt('groupNorm2d', 'groups', groups);
  positiveInt('groupNorm2d', 'channels', channels);
  if (channels % groups !== 0) throw new SpecError(`groupNorm2d: channels (${channels}) must be a multiple of groups (${groups})`);
  const eps = finite('groupNorm2d', 'eps', options.eps ?? 1e-5, { above: 0 });
  const { fused } = options;
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
      // A layer that chooses keeps its choice; the others follow the build's.
      return groupNormalize(ctx.graph, x, { groups, eps, weight, bias, fused: fused ?? ctx.groupNorm === 'fused', ...(ctx.batchMayBeEmpty ? { batchMayBeEmpty: true } : {}) });
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
  /** The fused kernel in float32 (default true; groupNorm2d takes the build's `groupNorm` choice); float64 is always the composite. */
  fused?: boolean;
  /**
   * The batch may hold no rows (a skip-gated block's branch when every sample
   * skips it): the rows' length is then spelled out, as Reshape cannot infer a
   * -1 from zero elements. Needs static C, H, W.
   */
  batchMayBeEmpty?: boolean;
}

/**
 * GroupNorm's nodes (torch.nn.functional.group_norm) on `[B, C, H, W]`:
 * `[B, G, C/G·H·W]` rows, each normalised by its mean and biased variance
 * (InstanceNormalization in float32 unless `fused` is false; elementwise ops
 * in float64), reshaped back, then `·weight + bias` per channel.
 *
 * @example const y = groupNormalize(g, x, { groups: 4, eps: 1e-5, weight, bias });
 */
export function groupNormalize(g: Graph, x: Value, { groups, eps, weight, bias, fused, batchMayBeEmpty }: GroupNormalizeParams): Value {
  // Reshape's 0 copies B, so a symbolic batch needs no Shape op.
  const rows = ops.reshape(g, x, [0, groups, batchMayBeEmpty ? staticRowLength(x, groups) : -1]);
  const useKernel = x.dtype === 'float32' && (fused ?? true);
  const normalized = useKernel ? normalizeRowsFused(g, rows, groups, eps) : normalizeRows(g, rows, eps);
  // [C] -> [C, 1, 1] broadcasts against [B, C, H, W].
  const perChannel = (v: Value) => ops.unsqueeze(g, v, [1, 2]);
  return ops.add(g, ops.mul(g, ops.reshapeLike(g, normalized, x), perChannel(weight)), perChannel(bias));
}

function staticRowLength(x: Value, groups: number): number {
  const dims = x.shape.slice(1);
  if (!dims.every((d): d is number => typeof d === 'number')) throw new SpecError(`groupNorm2d: in a skip-gated block the input needs static C, H, W, got ${x.describe()}`);
  return dims.reduce((a, b) => a * b, 1) / groups;
}

/** InstanceNormalization of `[B, G, L]` rows: a group is a channel of it, with unit scale and no shift. */
function normalizeRowsFused(g: Graph, rows: Value, groups: number, eps: number): Value {
  const filled = (v: number) => ops.constant(g, Tensor.fromNumbers(rows.dtype, [groups], new Array<number>(groups).fill(v)));
  return ops.instanceNorm(g, rows, filled(1), filled(0), { epsilon: eps });
}

/** The same normalisation from elementwise ops and reductions over axis 2. */
function normalizeRows(g: Graph, rows: Value, eps: number): Value {
  const mean = ops.reduceMean(g, rows, [2], true);
  const centered = ops.sub(g, rows, mean);
  const variance = ops.reduceMean(g, ops.mul(g, centered, centered), [2], true);
  return ops.div(g, centered, ops.sqrt(g, ops.add(g, variance, ops.scalar(g, eps, rows.dtype))));
}
