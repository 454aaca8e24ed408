// Convolutions: Conv (cross-correlation, N-d) and ConvTranspose (its adjoint in X).
import type { Dim, Graph, InferContext, OpDef, Value, ValueInfo } from '../ir/index.js';
import { registerOps } from './registry.js';
import { requireSameDType } from './shape-rules.js';
import {
  dilatedExtent,
  emitterPads,
  readWindow,
  requireRank4,
  slideDims,
  WINDOW_ATTRS,
  type WindowOptions,
} from './window.js';

/** X must be [N, C, spatial...] and W of the same rank. */
function requireConvRanks(ctx: InferContext, wLayout: string): void {
  const [x, w] = [ctx.inputs[0]!, ctx.inputs[1]!];
  if (x.rank < 3) ctx.fail(`X must be [N,C,spatial...] (rank >= 3), got rank ${x.rank}`);
  if (w.rank !== x.rank) ctx.fail(`W must be ${wLayout} with X's rank ${x.rank}, got rank ${w.rank}`);
}

/** The kernel's spatial size: W's spatial dims, which `kernel_shape` (when given) must agree with. */
function kernelShape(ctx: InferContext): number[] {
  const wSpatial = ctx.inputs[1]!.shape.slice(2);
  const declared = ctx.attr<readonly number[] | undefined>('kernel_shape');
  if (declared) {
    const clash = declared.length !== wSpatial.length || declared.some((k, i) => typeof wSpatial[i] === 'number' && wSpatial[i] !== k);
    if (clash) ctx.fail(`kernel_shape [${declared.join(',')}] disagrees with W's spatial dims [${wSpatial.join(',')}]`);
    return [...declared];
  }
  if (!wSpatial.every((d): d is number => typeof d === 'number')) {
    ctx.fail(`W's spatial dims [${wSpatial.join(',')}] are symbolic; give kernel_shape`);
  }
  return wSpatial;
}

function readGroup(ctx: InferContext): number {
  const group = ctx.attr<number>('group');
  if (!Number.isInteger(group) || group < 1) ctx.fail(`group must be a positive integer, got ${group}`);
  return group;
}

/** `what` divisible by `group`, where it is known. */
function requireDivisible(ctx: InferContext, dim: Dim, group: number, what: string): void {
  if (typeof dim === 'number' && dim % group !== 0) ctx.fail(`group ${group} does not divide the ${dim} ${what}`);
}

/** Optional bias B: a vector with one entry per output channel. */
function requireBias(ctx: InferContext, channels: Dim): void {
  const b = ctx.inputs[2];
  if (!b) return;
  const clash = b.rank !== 1 || (typeof b.shape[0] === 'number' && typeof channels === 'number' && b.shape[0] !== channels);
  if (clash) ctx.fail(`bias B must be [${channels}] (one entry per output channel), got [${b.shape.join(',')}]`);
}

function inferConv(ctx: InferContext): ValueInfo[] {
  requireSameDType(ctx);
  requireConvRanks(ctx, '[M,C/group,k...]');
  const [x, w] = [ctx.inputs[0]!, ctx.inputs[1]!];
  const kernel = kernelShape(ctx);
  const group = readGroup(ctx);
  const [channels, outChannels, perGroup] = [x.shape[1], w.shape[0], w.shape[1]];
  requireDivisible(ctx, channels, group, 'input channels of X (dim 1)');
  requireDivisible(ctx, outChannels, group, 'output channels of W (dim 0)');
  if (typeof channels === 'number' && typeof perGroup === 'number' && perGroup * group !== channels) {
    ctx.fail(`X has ${channels} channels but W expects ${perGroup} per group x group ${group} = ${perGroup * group}`);
  }
  requireBias(ctx, outChannels);
  const win = readWindow(ctx, x.rank - 2, kernel);
  return [{ dtype: x.dtype, shape: [x.shape[0], outChannels, ...slideDims(ctx, x.shape.slice(2), win, false)] }];
}

function inferConvTranspose(ctx: InferContext): ValueInfo[] {
  requireSameDType(ctx);
  requireConvRanks(ctx, '[C,M/group,k...]');
  const [x, w] = [ctx.inputs[0]!, ctx.inputs[1]!];
  const spatialRank = x.rank - 2;
  const kernel = kernelShape(ctx);
  const group = readGroup(ctx);
  const [channels, wChannels, perGroup] = [x.shape[1], w.shape[0], w.shape[1]];
  if (typeof channels === 'number' && typeof wChannels === 'number' && channels !== wChannels) {
    ctx.fail(`X has ${channels} channels but W (layout [C,M/group,k...]) has ${wChannels} in dim 0`);
  }
  requireDivisible(ctx, channels, group, 'input channels of X (dim 1)');
  const outChannels = typeof perGroup === 'number' ? perGroup * group : group === 1 ? perGroup : ctx.freshDim();
  requireBias(ctx, outChannels);
  const win = readWindow(ctx, spatialRank, kernel);
  const outputPadding = ctx.attr<readonly number[] | undefined>('output_padding') ?? Array<number>(spatialRank).fill(0);
  if (outputPadding.length !== spatialRank) {
    ctx.fail(`output_padding [${outputPadding.join(',')}] has ${outputPadding.length} entries; ${spatialRank} spatial axes need ${spatialRank}`);
  }
  // output_padding only disambiguates the sizes a strided Conv maps onto one size, so it
  // stays below the stride (onnxruntime fails at run time otherwise, even where dilation is larger).
  outputPadding.forEach((p, i) => {
    if (!Number.isInteger(p) || p < 0 || p >= win.strides[i]) {
      ctx.fail(`output_padding ${p} on spatial axis ${i} must be in [0, stride) = [0, ${win.strides[i]})`);
    }
  });
  const spatial = x.shape.slice(2).map((dim, i): Dim => {
    const [stride, begin, end] = [win.strides[i], win.pads[i], win.pads[i + spatialRank]];
    const grow = outputPadding[i] + dilatedExtent(kernel[i], win.dilations[i]) - begin - end;
    if (typeof dim !== 'number') return stride === 1 && grow === 1 ? dim : ctx.freshDim();
    const out = stride * (dim - 1) + grow;
    if (out < 1) ctx.fail(`spatial axis ${i}: pads ${begin}+${end} remove the whole output (${out} = ${stride}*(${dim}-1) + ${grow + begin + end} - ${begin + end})`);
    return out;
  });
  return [{ dtype: x.dtype, shape: [x.shape[0], outChannels, ...spatial] }];
}

export const ConvOp: OpDef = {
  opType: 'Conv',
  inputs: [{ name: 'X' }, { name: 'W' }, { name: 'B', optional: true }],
  outputs: 1,
  attrs: { ...WINDOW_ATTRS, dilations: { type: 'ints' }, group: { type: 'int', default: 1 } },
  float64Kernel: false,
  doc: 'Y = cross-correlation of X [N,C,...] with W [M,C/group,k...] in `group` channel groups, + B [M]',
  infer: inferConv,
};

export const ConvTransposeOp: OpDef = {
  opType: 'ConvTranspose',
  inputs: [{ name: 'X' }, { name: 'W' }, { name: 'B', optional: true }],
  outputs: 1,
  attrs: {
    ...WINDOW_ATTRS,
    dilations: { type: 'ints' },
    group: { type: 'int', default: 1 },
    output_padding: { type: 'ints' },
  },
  float64Kernel: false,
  doc: 'Y = transposed convolution of X [N,C,...] with W [C,M/group,k...] (the adjoint of Conv in X), + B [M]',
  infer: inferConvTranspose,
};

registerOps([ConvOp, ConvTransposeOp]);

/** Geometry of `conv2d`. */
export interface ConvOptions extends WindowOptions {
  dilations?: readonly number[];
  /** Channel groups: 1 is a dense conv, C (with W [C*k,1,kH,kW]) a depthwise one. */
  group?: number;
}

/** Geometry of `convTranspose2d`: `pads` crop the output; `outputPadding` adds rows at the end. */
export interface ConvTransposeOptions {
  strides?: readonly number[];
  pads?: readonly number[];
  dilations?: readonly number[];
  group?: number;
  outputPadding?: readonly number[];
}

/** Attributes both conv emitters write: every default made explicit, so nodes show their full geometry. */
function convAttrs(where: string, x: Value, w: Value, options: ConvOptions) {
  const kernel = w.shape.slice(2);
  const ones = kernel.map(() => 1);
  const staticKernel = kernel.every((d): d is number => typeof d === 'number') ? kernel : undefined;
  const dilations = options.dilations ?? ones;
  const pads = staticKernel ? emitterPads(where, x, staticKernel, options, dilations) : options.pads;
  return {
    kernel_shape: staticKernel,
    strides: options.strides ?? ones,
    pads: pads ?? [...ones, ...ones].map(() => 0),
    dilations,
    group: options.group ?? 1,
  };
}

/**
 * 2-D convolution (ONNX Conv, cross-correlation like PyTorch's conv2d):
 * X [N,C,H,W], W [M,C/group,kH,kW], optional bias B [M] -> Y [N,M,H',W'].
 * `autoPad` is turned into explicit pads here, so X's spatial dims must then be static.
 *
 * @example
 * const w = g.initializer('stem.w', Tensor.zeros('float32', [16, 1, 3, 3]));
 * const b = g.initializer('stem.b', Tensor.zeros('float32', [16]));
 * const y = conv2d(g, x, w, b, { strides: [2, 2], pads: [1, 1, 1, 1] }); // [B,1,28,28] -> [B,16,14,14]
 */
export function conv2d(g: Graph, x: Value, w: Value, b?: Value, options: ConvOptions = {}): Value {
  requireRank4('conv2d', x);
  return g.node(ConvOp, [x, w, b], convAttrs('conv2d', x, w, options))[0];
}

/**
 * 2-D transposed convolution (ONNX ConvTranspose, like PyTorch's conv_transpose2d):
 * X [N,C,H,W], W [C,M/group,kH,kW], optional bias B [M] -> Y [N,M,H',W'] with
 * `H' = stride*(H-1) + outputPadding + dilation*(kH-1) + 1 - padBegin - padEnd`.
 *
 * @example
 * const w = g.initializer('up.w', Tensor.zeros('float32', [16, 8, 3, 3]));
 * const y = convTranspose2d(g, x, w, undefined, { strides: [2, 2], pads: [1, 1, 1, 1], outputPadding: [1, 1] }); // [B,16,7,7] -> [B,8,14,14]
 */
export function convTranspose2d(g: Graph, x: Value, w: Value, b?: Value, options: ConvTransposeOptions = {}): Value {
  requireRank4('convTranspose2d', x);
  const { kernel_shape, strides, pads, dilations, group } = convAttrs('convTranspose2d', x, w, {
    ...options,
    autoPad: 'NOTSET',
  });
  const outputPadding = options.outputPadding ?? strides.map(() => 0);
  return g.node(ConvTransposeOp, [x, w, b], { kernel_shape, strides, pads, dilations, group, output_padding: outputPadding })[0];
}
