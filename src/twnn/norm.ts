// Batch normalisation, stored like torch.nn.BatchNorm2d.
import * as ops from '../ops/index.js';
import { ones, zeros } from './init.js';
import type { Module } from './module.js';
import { expectInput, finite, positiveInt } from './validate.js';

export interface BatchNorm2dOptions {
  /** Added to the variance before the square root (default 1e-5, as torch). */
  eps?: number;
  /**
   * Running-statistics update rate in torch's convention
   * (`running = (1 − momentum)·running + momentum·batch`, default 0.1);
   * kept for training, unused by the inference graph.
   */
  momentum?: number;
}

export interface BatchNorm2dModule extends Module {
  readonly kind: 'batchNorm2d';
  readonly channels: number;
  readonly eps: number;
  readonly momentum: number;
}

/**
 * Per-channel normalisation of `[B, C, H, W]` with running statistics
 * (inference mode): `weight·(x − running_mean)/√(running_var + eps) + bias`.
 * Parameters `weight` (ones) and `bias` (zeros) are trainable; the buffers
 * `running_mean` (zeros) and `running_var` (ones) are not. Belongs in a stem
 * or head, not inside an iterated region (DESIGN §1).
 *
 * @example sequential(conv2d(1, 16, 3, { padding: 1, bias: false }), batchNorm2d(16), relu())
 */
export function batchNorm2d(channels: number, options: BatchNorm2dOptions = {}): BatchNorm2dModule {
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
      return ops.batchNorm(ctx.graph, x, { scale, bias, mean, variance }, { epsilon: eps });
    },
  };
}
