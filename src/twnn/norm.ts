// Batch normalisation, stored and trained like torch.nn.BatchNorm2d.
import { SpecError, type Value } from '../ir/index.js';
import * as ops from '../ops/index.js';
import { ones, zeros } from './init.js';
import type { BuildContext, Module } from './module.js';
import { expectInput, finite, positiveInt, where } from './validate.js';
import { checkOptions, type KeysOf } from './options.js';

export interface BatchNorm2dOptions {
  /** Added to the variance before the square root (default 1e-5, as torch). */
  eps?: number;
  /**
   * Running-statistics update rate in torch's convention
   * (`running = (1 − momentum)·running + momentum·batch`, default 0.1);
   * used by training graphs, unused by the inference graph.
   */
  momentum?: number;
}

const BATCH_NORM_KEYS: KeysOf<BatchNorm2dOptions> = { eps: true, momentum: true };

export interface BatchNorm2dModule extends Module {
  readonly kind: 'batchNorm2d';
  readonly channels: number;
  readonly eps: number;
  readonly momentum: number;
}

/** The statistics are taken over the batch and both spatial dims: everything but the channels. */
const STAT_AXES = [0, 2, 3];

/**
 * Per-channel normalisation of `[B, C, H, W]`, as torch.nn.BatchNorm2d.
 * Inference graphs use the running statistics:
 * `weight·(x − running_mean)/√(running_var + eps) + bias`. Training graphs
 * (`ctx.training`) use the batch's own mean and biased variance over (B, H, W)
 * instead, and report the running-statistic updates to the context. Parameters
 * `weight` (ones) and `bias` (zeros) are trainable; the buffers `running_mean`
 * (zeros) and `running_var` (ones) are not. Belongs in a stem or head, not
 * inside an iterated region (docs/DESIGN.md §1).
 *
 * @example sequential(conv2d(1, 16, 3, { padding: 1, bias: false }), batchNorm2d(16), relu())
 */
export function batchNorm2d(channels: number, options: BatchNorm2dOptions = {}): BatchNorm2dModule {
  checkOptions('batchNorm2d: options', options, BATCH_NORM_KEYS);
  positiveInt('batchNorm2d', 'channels', channels);
  const eps = finite('batchNorm2d', 'eps', options.eps ?? 1e-5, { above: 0 });
  const momentum = finite('batchNorm2d', 'momentum', options.momentum ?? 0.1, { atLeast: 0, atMost: 1 });
  return {
    kind: 'batchNorm2d',
    channels,
    eps,
    momentum,
    build(ctx, x) {
      expectInput(ctx, 'batchNorm2d', x, [undefined, channels, undefined, undefined], `[B, ${channels}, H, W]`);
      const scale = ctx.param('weight', [channels], ones());
      const bias = ctx.param('bias', [channels], zeros());
      const mean = ctx.param('running_mean', [channels], zeros(), { trainable: false });
      const variance = ctx.param('running_var', [channels], ones(), { trainable: false });
      if (ctx.training) return trainingBatchNorm(ctx, x, { scale, bias, mean, variance }, eps, momentum);
      return ops.batchNorm(ctx.graph, x, { scale, bias, mean, variance }, { epsilon: eps });
    },
  };
}

/**
 * Training mode (torch's `F.batch_norm(training=True)`): normalise with the batch
 * statistics, built from differentiable ops so that the gradient includes how the
 * statistics depend on x, and report the running-statistic updates
 * `running ← (1 − momentum)·running + momentum·batch`, where the batch variance is
 * unbiased (`·n/(n−1)`, n = B·H·W) although the normalisation uses the biased one, as torch.
 */
function trainingBatchNorm(ctx: BuildContext, x: Value, p: ops.BatchNormParams, eps: number, momentum: number): Value {
  const g = ctx.graph;
  const s = (value: number) => ops.scalar(g, value, x.dtype);
  const count = x.shape.filter((_, i) => STAT_AXES.includes(i));
  if (count.every((d) => typeof d === 'number') && (count as number[]).reduce((a, b) => a * b, 1) === 1) {
    throw new SpecError(`${where(ctx, 'batchNorm2d')}: training mode needs more than one value per channel, got input ${x.describe()}`);
  }
  const mean = ops.reduceMean(g, x, STAT_AXES, true);
  const centered = ops.sub(g, x, mean);
  const variance = ops.reduceMean(g, ops.mul(g, centered, centered), STAT_AXES, true);
  const normalized = ops.div(g, centered, ops.sqrt(g, ops.add(g, variance, s(eps))));
  // [C] -> [1, C, 1, 1], to broadcast against x.
  const perChannel = (v: Value) => ops.unsqueeze(g, v, STAT_AXES);
  const y = ops.add(g, ops.mul(g, normalized, perChannel(p.scale)), perChannel(p.bias));

  const n = ops.countAlong(g, x, STAT_AXES);
  const unbiased = ops.div(g, ops.mul(g, ops.squeeze(g, variance, STAT_AXES), n), ops.sub(g, n, s(1)));
  const blend = (running: Value, batch: Value) => ops.add(g, ops.mul(g, s(1 - momentum), running), ops.mul(g, s(momentum), batch));
  const buffer = (name: string) => (ctx.scopeName ? `${ctx.scopeName}.${name}` : name);
  ctx.updateBuffer(buffer('running_mean'), blend(p.mean, ops.squeeze(g, mean, STAT_AXES)));
  ctx.updateBuffer(buffer('running_var'), blend(p.variance, unbiased));
  return y;
}
