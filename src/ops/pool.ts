// Pooling: MaxPool, AveragePool (sliding windows) and GlobalAveragePool.
import type { Graph, InferContext, OpDef, Value, ValueInfo } from '../ir/index.js';
import { registerOps } from './registry.js';
import { emitterPads, readWindow, requireRank4, slideDims, WINDOW_ATTRS, type WindowOptions } from './window.js';

function requireSpatialInput(ctx: InferContext): void {
  const x = ctx.inputs[0]!;
  if (x.rank < 3) ctx.fail(`X must be [N,C,spatial...] (rank >= 3), got rank ${x.rank}`);
}

function readFlag(ctx: InferContext, name: string): boolean {
  const value = ctx.attr<number>(name);
  if (value !== 0 && value !== 1) ctx.fail(`${name} must be 0 or 1, got ${value}`);
  return value === 1;
}

function inferWindowPool(ctx: InferContext): ValueInfo[] {
  requireSpatialInput(ctx);
  const x = ctx.inputs[0]!;
  const spatialRank = x.rank - 2;
  const win = readWindow(ctx, spatialRank, ctx.attr<readonly number[]>('kernel_shape'));
  // onnxruntime rejects these at session creation: a window could then lie wholly in the padding.
  win.kernel.forEach((k, i) => {
    const [begin, end] = [win.pads[i], win.pads[i + spatialRank]];
    if (begin >= k || end >= k) ctx.fail(`pads ${begin}+${end} on spatial axis ${i} must each be smaller than the kernel size ${k}`);
  });
  if (ctx.opType === 'AveragePool') readFlag(ctx, 'count_include_pad');
  const spatial = slideDims(ctx, x.shape.slice(2), win, readFlag(ctx, 'ceil_mode'));
  return [{ dtype: x.dtype, shape: [x.shape[0], x.shape[1], ...spatial] }];
}

const POOL_ATTRS = {
  ...WINDOW_ATTRS,
  kernel_shape: { type: 'ints', required: true },
  ceil_mode: { type: 'int', default: 0 },
} as const;

export const MaxPoolOp: OpDef = {
  opType: 'MaxPool',
  inputs: [{ name: 'X' }],
  // Only Y: the optional Indices output would need the builder to emit a chosen number of outputs.
  outputs: 1,
  attrs: { ...POOL_ATTRS, dilations: { type: 'ints' } },
  doc: 'Y = maximum over each (dilated) window of X [N,C,...]; padding never wins',
  infer: inferWindowPool,
};

export const AveragePoolOp: OpDef = {
  opType: 'AveragePool',
  inputs: [{ name: 'X' }],
  outputs: 1,
  attrs: { ...POOL_ATTRS, count_include_pad: { type: 'int', default: 0 } },
  float64Kernel: false,
  doc: 'Y = mean over each window of X [N,C,...]; padded cells count only when count_include_pad = 1',
  infer: inferWindowPool,
};

export const GlobalAveragePoolOp: OpDef = {
  opType: 'GlobalAveragePool',
  inputs: [{ name: 'X' }],
  outputs: 1,
  float64Kernel: false,
  doc: 'Y [N,C,1,...] = mean of X [N,C,...] over all spatial dims',
  infer: (ctx) => {
    requireSpatialInput(ctx);
    const x = ctx.inputs[0]!;
    return [{ dtype: x.dtype, shape: [x.shape[0], x.shape[1], ...x.shape.slice(2).map(() => 1)] }];
  },
};

registerOps([MaxPoolOp, AveragePoolOp, GlobalAveragePoolOp]);

/** Window of a 2-D pool. Strides default to 1 as in ONNX, not to the kernel size as in PyTorch. */
export interface PoolOptions extends WindowOptions {
  kernelShape: readonly number[];
  /** Round the output size up, adding a last window that may run past the end padding. */
  ceilMode?: boolean;
}

export interface MaxPoolOptions extends PoolOptions {
  dilations?: readonly number[];
}

export interface AveragePoolOptions extends PoolOptions {
  /** Divide by the whole window, padding included (PyTorch's default), rather than by the real cells. */
  countIncludePad?: boolean;
}

/** Attributes both window pools write, every default made explicit. */
function poolAttrs(where: string, x: Value, options: PoolOptions, dilations: readonly number[]) {
  const zeros = options.kernelShape.map(() => 0);
  return {
    kernel_shape: options.kernelShape,
    strides: options.strides ?? options.kernelShape.map(() => 1),
    pads: emitterPads(where, x, options.kernelShape, options, dilations) ?? [...zeros, ...zeros],
    ceil_mode: options.ceilMode ? 1 : 0,
  };
}

/**
 * 2-D max pooling (ONNX MaxPool): X [N,C,H,W] -> Y [N,C,H',W'].
 *
 * @example const y = maxPool2d(g, x, { kernelShape: [2, 2], strides: [2, 2] }); // [B,16,28,28] -> [B,16,14,14]
 */
export function maxPool2d(g: Graph, x: Value, options: MaxPoolOptions): Value {
  requireRank4('maxPool2d', x);
  const dilations = options.dilations ?? options.kernelShape.map(() => 1);
  return g.node(MaxPoolOp, [x], { ...poolAttrs('maxPool2d', x, options, dilations), dilations })[0];
}

/**
 * 2-D average pooling (ONNX AveragePool): X [N,C,H,W] -> Y [N,C,H',W'].
 *
 * @example const y = averagePool2d(g, x, { kernelShape: [3, 3], pads: [1, 1, 1, 1], countIncludePad: true });
 */
export function averagePool2d(g: Graph, x: Value, options: AveragePoolOptions): Value {
  requireRank4('averagePool2d', x);
  const attrs = poolAttrs('averagePool2d', x, options, options.kernelShape.map(() => 1));
  return g.node(AveragePoolOp, [x], { ...attrs, count_include_pad: options.countIncludePad ? 1 : 0 })[0];
}

/**
 * Mean over all spatial dims, keeping them as 1s (ONNX GlobalAveragePool): X [N,C,H,W] -> Y [N,C,1,1].
 *
 * @example const pooled = globalAveragePool(g, features); // [B,64,7,7] -> [B,64,1,1]
 */
export function globalAveragePool(g: Graph, x: Value): Value {
  return g.node(GlobalAveragePoolOp, [x])[0];
}
