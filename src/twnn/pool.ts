// Pooling and flattening: parameter-free layers with torch's defaults (a
// pool's stride defaults to its kernel size, not to 1 as in ONNX).
import { SpecError } from '../ir/index.js';
import * as ops from '../ops/index.js';
import type { Size2 } from './conv2d.js';
import type { Module } from './module.js';
import { expectInput, pair, where } from './validate.js';
import { checkOptions, type KeysOf } from './options.js';

export interface Pool2dOptions {
  /** Default: the kernel size. */
  stride?: Size2;
  /** Padding on both sides of each axis, less than the kernel size. Default 0. */
  padding?: Size2;
}

const POOL_KEYS: KeysOf<Pool2dOptions> = { stride: true, padding: true };

export interface AvgPool2dOptions extends Pool2dOptions {
  /** Count padded cells in each window's mean (torch's default, true). */
  countIncludePad?: boolean;
}

const AVG_POOL_KEYS: KeysOf<AvgPool2dOptions> = { ...POOL_KEYS, countIncludePad: true };

function window(layer: string, kernel: Size2, options: Pool2dOptions) {
  const k = pair(layer, 'kernel', kernel, 1);
  const stride = pair(layer, 'stride', options.stride ?? k, 1);
  const padding = pair(layer, 'padding', options.padding ?? 0, 0);
  if (padding[0] >= k[0] || padding[1] >= k[1]) {
    throw new SpecError(`${layer}: padding [${padding.join(',')}] must be smaller than the kernel [${k.join(',')}] on each axis`);
  }
  return { kernelShape: k, strides: stride, pads: [padding[0], padding[1], padding[0], padding[1]] };
}

/**
 * Max over `kernel`-sized windows of `[B, C, H, W]` (torch.nn.MaxPool2d).
 *
 * @example maxPool2d(2) // [B,16,28,28] -> [B,16,14,14]
 */
export function maxPool2d(kernel: Size2, options: Pool2dOptions = {}): Module {
  checkOptions('maxPool2d: options', options, POOL_KEYS);
  const win = window('maxPool2d', kernel, options);
  return {
    kind: 'maxPool2d',
    build(ctx, x) {
      expectInput(ctx, 'maxPool2d', x, [undefined, undefined, undefined, undefined], '[B, C, H, W]');
      return ops.maxPool2d(ctx.graph, x, win);
    },
  };
}

/**
 * Mean over `kernel`-sized windows of `[B, C, H, W]` (torch.nn.AvgPool2d,
 * padded cells counted by default). float32 only in onnxruntime's CPU EP.
 *
 * @example avgPool2d(2, { stride: 2 })
 */
export function avgPool2d(kernel: Size2, options: AvgPool2dOptions = {}): Module {
  checkOptions('avgPool2d: options', options, AVG_POOL_KEYS);
  const win = window('avgPool2d', kernel, options);
  const countIncludePad = options.countIncludePad ?? true;
  if (typeof countIncludePad !== 'boolean') throw new SpecError(`avgPool2d: countIncludePad must be true or false, got ${String(countIncludePad)}`);
  return {
    kind: 'avgPool2d',
    build(ctx, x) {
      expectInput(ctx, 'avgPool2d', x, [undefined, undefined, undefined, undefined], '[B, C, H, W]');
      return ops.averagePool2d(ctx.graph, x, { ...win, countIncludePad });
    },
  };
}

/**
 * Mean over all spatial positions: `[B, C, H, W]` -> `[B, C, 1, 1]`
 * (torch.nn.AdaptiveAvgPool2d(1)). float32 only in onnxruntime's CPU EP.
 *
 * @example sequential(globalAvgPool(), flatten(), dense(64, 10))
 */
export function globalAvgPool(): Module {
  return {
    kind: 'globalAvgPool',
    build(ctx, x) {
      if (x.rank < 3) throw new SpecError(`${where(ctx, 'globalAvgPool')}: input has rank ${x.rank}, expected [B, C, spatial...]`);
      return ops.globalAveragePool(ctx.graph, x);
    },
  };
}

/**
 * Flatten everything after the batch dimension: `[B, d1, d2, ...]` -> `[B, d1·d2·...]`
 * (torch.nn.Flatten).
 *
 * @example sequential(globalAvgPool(), flatten(), dense(64, 10))
 */
export function flatten(): Module {
  return {
    kind: 'flatten',
    build(ctx, x) {
      if (x.rank < 2) throw new SpecError(`${where(ctx, 'flatten')}: input has rank ${x.rank}, expected at least [B, d1]`);
      return ops.flatten(ctx.graph, x, 1);
    },
  };
}
