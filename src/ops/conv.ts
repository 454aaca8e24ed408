// Convolutions: Conv (cross-correlation, N-d) and ConvTranspose (its adjoint in X).
// Both are linear in X and in W, so every gradient is itself a convolution.
import {
  isStatic,
  ShapeError,
  shapesEqual,
  type Dim,
  type Graph,
  type InferContext,
  type Node,
  type OpDef,
  type Value,
  type ValueInfo,
  type VjpRule,
} from '../ir/index.js';
import { convWeightGradByMatMul, matMulWeightGradApplies } from './conv-weight-grad.js';
import { reduceSum } from './reduce.js';
import { reshape, shapeOf, slice, transpose } from './shape.js';
import { requireSameDType } from './shape-rules.js';
import {
  dilatedExtent,
  emitterPads,
  readWindow,
  requireRank4,
  slideDims,
  windowFromAttrs,
  WINDOW_ATTRS,
  type Window,
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

// ---------------------------------------------------------------------------------------
// VJP rules.

/** A forward conv node's window (defaults filled in) and group count. */
function geometryOf(node: Node): { win: Window; group: number } {
  const kernel = node.attr<readonly number[]>('kernel_shape') ?? node.inputs[1]!.shape.slice(2).map(Number);
  return { win: windowFromAttrs((name) => node.attr(name), kernel), group: node.attr<number>('group', 1) };
}

/** Axes 0, 2, 3, ...: everything but the channels. */
const batchAndSpatialAxes = (v: Value): number[] => [0, ...v.shape.slice(2).map((_, i) => i + 2)];

/** `v` with `like`'s inferred shape: a shape rule may have given fresh symbols to sizes that equal `like`'s at run time. */
function withShapeOf(g: Graph, v: Value, like: Value): Value {
  return shapesEqual(v.shape, like.shape) ? v : reshape(g, v, shapeOf(g, like));
}

/**
 * ConvTranspose of `y` [N,C,So...] by `w` [C,M/group,k...] under the forward window `win`,
 * sized to `like` [N,M,S...]: a strided window maps several input sizes onto one output
 * size, so output_padding picks `like`'s (and where a ceil_mode pool's last window
 * overhangs the end padding, a larger end pad crops the overhang). Used for the input
 * gradients of Conv and AveragePool.
 *
 * @example const gx = convTransposeTo(g, gy, w, x, windowFromAttrs((n) => node.attr(n), [3, 3]), 1, "Conv 'c'");
 */
export function convTransposeTo(g: Graph, y: Value, w: Value, like: Value, win: Window, group: number, where: string): Value {
  const rank = like.rank - 2;
  const pads = [...win.pads];
  const outputPadding = win.kernel.map((k, i) => {
    const [size, ySize, stride] = [like.shape[i + 2], y.shape[i + 2], win.strides[i]];
    if (typeof size !== 'number' || typeof ySize !== 'number') {
      // Stride 1 maps sizes one-to-one, so nothing needs to be known.
      if (stride === 1) return 0;
      throw new ShapeError(`${where}: the input gradient with stride ${stride} on spatial axis ${i} needs static spatial sizes, got ${like.describe()}`);
    }
    const natural = stride * (ySize - 1) + dilatedExtent(k, win.dilations[i]) - pads[i] - pads[i + rank];
    if (size >= natural) return size - natural;
    pads[i + rank] += natural - size;
    return 0;
  });
  const attrs = { kernel_shape: win.kernel, strides: win.strides, pads, dilations: win.dilations, group, output_padding: outputPadding };
  return withShapeOf(g, g.node(ConvTransposeOp, [y, w], attrs)[0], like);
}

/**
 * d⟨gy, conv(x, w)⟩/dw: one MatMul of x's patches by gy where it applies (./conv-weight-grad.ts,
 * faster on onnxruntime's CPU), else one Conv that treats the batch as channels (below).
 *
 * @example const gw = convWeightGrad(g, x, gy, win, 1, "Conv 'c'");
 */
export function convWeightGrad(g: Graph, x: Value, gy: Value, win: Window, group: number, where: string): Value {
  return matMulWeightGradApplies(x, gy, group) ? convWeightGradByMatMul(g, x, gy, win) : convWeightGradByConv(g, x, gy, win, group, where);
}

/**
 * d⟨gy, conv(x, w)⟩/dw as one Conv that treats the batch as channels: gw[m,c,k] =
 * Σ_n Σ_p gy[n,m,p]·x[n,c,p·stride + k·dilation], i.e. x correlated with gy as the kernel,
 * strides and dilations swapping roles. Groups become the grouped Conv's groups (each
 * group's channels of x read only that group's kernels). Returns [M, C/group, k...].
 *
 * @example const gw = convWeightGradByConv(g, x, gy, win, 2, "Conv 'c'");
 */
export function convWeightGradByConv(g: Graph, x: Value, gy: Value, win: Window, group: number, where: string): Value {
  const spatial = x.shape.slice(2);
  const outSpatial = gy.shape.slice(2);
  const spatialAxes = spatial.map((_, i) => i + 2);
  const swapLead = [1, 0, ...spatialAxes];
  if (!isStatic(outSpatial)) throw new ShapeError(`${where}: the weight gradient needs static spatial sizes, got ${x.describe()}`);
  let batchAsChannels: Value;
  if (group === 1) batchAsChannels = transpose(g, x, swapLead);
  else {
    const channels = x.shape[1];
    if (typeof channels !== 'number' || !isStatic(spatial)) {
      throw new ShapeError(`${where}: the weight gradient of a grouped conv needs static channel and spatial sizes, got ${x.describe()}`);
    }
    // [N, g·Cg, S...] -> [Cg, g·N, S...]: channel block γ holds group γ's channels of every sample.
    const perGroup = channels / group;
    const blocks = transpose(g, reshape(g, x, [0, group, perGroup, -1]), [2, 1, 0, 3]);
    batchAsChannels = reshape(g, blocks, [perGroup, -1, ...spatial]);
  }
  const attrs = { kernel_shape: outSpatial, strides: win.dilations, dilations: win.strides, pads: win.pads, group };
  const full = g.node(ConvOp, [batchAsChannels, transpose(g, gy, swapLead)], attrs)[0];
  // The padded input may fit more kernel offsets than the kernel has: they are the windows the forward never ran.
  const oversized = full.shape.slice(2).some((d, i) => d !== win.kernel[i]);
  const cropped = oversized ? slice(g, full, win.kernel.map(() => 0), win.kernel, spatialAxes) : full;
  return transpose(g, cropped, swapLead);
}

// dX = ConvTranspose(dY, W) (Conv's adjoint in X); dW = X ⋆ dY over the batch; dB = Σ dY over N and space
const convVjp: VjpRule = ({ graph: g, node, inputs: [x, w, b], gradOutputs: [gy], wants }) => {
  const { win, group } = geometryOf(node);
  const where = `Conv '${node.name}'`;
  return [
    wants[0] ? convTransposeTo(g, gy!, w!, x!, win, group, where) : undefined,
    wants[1] ? convWeightGrad(g, x!, gy!, win, group, where) : undefined,
    b && wants[2] ? reduceSum(g, gy!, batchAndSpatialAxes(gy!), false) : undefined,
  ];
};

// dX = Conv(dY, W) (ConvTranspose is Conv's adjoint); dW = dY ⋆ X over the batch (⟨dY, Xᵀ(X)⟩ = ⟨Conv(dY), X⟩); dB = Σ dY
const convTransposeVjp: VjpRule = ({ graph: g, node, inputs: [x, w, b], gradOutputs: [gy], wants }) => {
  const { win, group } = geometryOf(node);
  const where = `ConvTranspose '${node.name}'`;
  const conv = () => {
    const attrs = { kernel_shape: win.kernel, strides: win.strides, pads: win.pads, dilations: win.dilations, group };
    return withShapeOf(g, g.node(ConvOp, [gy!, w!], attrs)[0], x!);
  };
  return [
    wants[0] ? conv() : undefined,
    wants[1] ? convWeightGrad(g, gy!, x!, win, group, where) : undefined,
    b && wants[2] ? reduceSum(g, gy!, batchAndSpatialAxes(gy!), false) : undefined,
  ];
};

export const ConvOp: OpDef = {
  opType: 'Conv',
  inputs: [{ name: 'X' }, { name: 'W' }, { name: 'B', optional: true }],
  outputs: 1,
  attrs: { ...WINDOW_ATTRS, dilations: { type: 'ints' }, group: { type: 'int', default: 1 } },
  float64Kernel: false,
  doc: 'Y = cross-correlation of X [N,C,...] with W [M,C/group,k...] in `group` channel groups, + B [M]',
  infer: inferConv,
  vjp: convVjp,
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
  vjp: convTransposeVjp,
};

/** This family's ops, for the registry's table (./table.ts). */
export const CONV_OPS: readonly OpDef[] = [ConvOp, ConvTransposeOp];

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
