// Pooling: MaxPool, AveragePool (sliding windows) and GlobalAveragePool.
import {
  isStatic,
  ShapeError,
  Tensor,
  type Graph,
  type InferContext,
  type Node,
  type OpDef,
  type PlainAttrs,
  type Value,
  type ValueInfo,
  type VjpRule,
} from '../ir/index.js';
import { convTransposeTo } from './conv.js';
import { div } from './elementwise.js';
import { countAlong, expandLike } from './grad-helpers.js';
import { scatterElements } from './scatter.js';
import { constantOfShape, reshape, shapeOf } from './shape.js';
import {
  emitterPads,
  readWindow,
  requireRank4,
  slideDims,
  windowFromAttrs,
  WINDOW_ATTRS,
  type Window,
  type WindowOptions,
} from './window.js';

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

/** MaxPool also describes its optional Indices: int64, flat positions in X (storage_order 0). */
function inferMaxPool(ctx: InferContext): ValueInfo[] {
  const [y] = inferWindowPool(ctx);
  return [y, { dtype: 'int64', shape: y.shape }];
}

// ---------------------------------------------------------------------------------------
// VJP rules.

/** A node's attributes as an emitter passes them, to emit the same op again. */
function plainAttrs(node: Node): PlainAttrs {
  return Object.fromEntries(Object.entries(node.attrs).map(([name, a]) => [name, a.value]));
}

function poolWindow(node: Node): Window {
  return windowFromAttrs((name) => node.attr(name), node.attr<readonly number[]>('kernel_shape'));
}

/** `v` as a flat vector (Reshape to [-1]). */
const flat = (g: Graph, v: Value): Value => reshape(g, v, [-1]);

// dX = dY routed to each window's argmax; overlapping windows sharing an argmax add up (scatter-add)
const maxPoolVjp: VjpRule = ({ graph: g, node, inputs: [x], outputs, gradOutputs: [gy] }) => {
  // Indices are flat over the whole of X; a forward node that did not ask for them is run again.
  const indices = outputs[1] ?? g.node(MaxPoolOp, [x], plainAttrs(node), { outputs: 2 })[1];
  const xFlat = flat(g, x!);
  const zeros = constantOfShape(g, isStatic(xFlat.shape) ? xFlat.shape : shapeOf(g, xFlat), 0, x!.dtype);
  const routed = scatterElements(g, zeros, flat(g, indices), flat(g, gy!), 0, 'add');
  return [reshape(g, routed, isStatic(x!.shape) ? x!.shape : shapeOf(g, x!))];
};

/**
 * How many cells each output position's window averages over, per spatial axis: the real
 * cells (count_include_pad 0) or the window clipped to the padded input (1; only a ceil_mode
 * window hanging past the end padding is clipped), as onnxruntime divides.
 */
function divisorsAlong(size: number, outSize: number, kernel: number, stride: number, begin: number, end: number, includePad: boolean): number[] {
  return Array.from({ length: outSize }, (_, p) => {
    const start = p * stride - begin;
    const stop = start + kernel;
    return includePad ? Math.min(stop, size + end) - start : Math.min(stop, size) - Math.max(start, 0);
  });
}

/** The divisor of every output position, as a scalar when all are equal, else an [So...] constant. */
function divisorMap(g: Graph, x: Value, y: Value, win: Window, includePad: boolean, where: string): Value {
  const [spatial, outSpatial] = [x.shape.slice(2), y.shape.slice(2)];
  if (!isStatic(spatial) || !isStatic(outSpatial)) throw new ShapeError(`${where}: the gradient needs static spatial sizes, got ${x.describe()}`);
  const rank = spatial.length;
  const perAxis = spatial.map((size: number, i) =>
    divisorsAlong(size, outSpatial[i], win.kernel[i], win.strides[i], win.pads[i], win.pads[i + rank], includePad),
  );
  // Outer product over the axes, row-major like the output.
  const map = perAxis.reduce<number[]>((acc, along) => acc.flatMap((a) => along.map((b) => a * b)), [1]);
  if (map.every((d) => d === map[0])) return g.constant(Tensor.scalar(map[0], x.dtype));
  return g.constant(Tensor.fromNumbers(x.dtype, outSpatial, map));
}

// dX = ConvTranspose(dY / divisor, ones [C,1,k...], group C): each window spreads its share back over its cells
const averagePoolVjp: VjpRule = ({ graph: g, node, inputs: [x], outputs: [y], gradOutputs: [gy] }) => {
  const where = `AveragePool '${node.name}'`;
  const win = poolWindow(node);
  const channels = x!.shape[1];
  if (typeof channels !== 'number') throw new ShapeError(`${where}: the gradient needs a static channel count, got ${x!.describe()}`);
  const share = div(g, gy!, divisorMap(g, x!, y, win, node.attr<number>('count_include_pad', 0) === 1, where));
  const ones = Tensor.fromNumbers(x!.dtype, [channels, 1, ...win.kernel], Array<number>(channels * win.kernel.reduce((a, b) => a * b, 1)).fill(1));
  return [convTransposeTo(g, share, g.constant(ones), x!, win, channels, where)];
};

// dX = broadcast(dY) / (number of spatial cells)
const globalAveragePoolVjp: VjpRule = ({ graph: g, inputs: [x], gradOutputs: [gy] }) => [
  div(g, expandLike(g, gy!, x!), countAlong(g, x!, x!.shape.slice(2).map((_, i) => i + 2))),
];

const POOL_ATTRS = {
  ...WINDOW_ATTRS,
  kernel_shape: { type: 'ints', required: true },
  ceil_mode: { type: 'int', default: 0 },
} as const;

export const MaxPoolOp: OpDef = {
  opType: 'MaxPool',
  inputs: [{ name: 'X' }],
  outputs: 1,
  // Indices, which the VJP rule asks for (NodeOptions.outputs = 2).
  optionalOutputs: 1,
  attrs: { ...POOL_ATTRS, dilations: { type: 'ints' } },
  doc: 'Y = maximum over each (dilated) window of X [N,C,...]; padding never wins',
  infer: inferMaxPool,
  vjp: maxPoolVjp,
};

export const AveragePoolOp: OpDef = {
  opType: 'AveragePool',
  inputs: [{ name: 'X' }],
  outputs: 1,
  attrs: { ...POOL_ATTRS, count_include_pad: { type: 'int', default: 0 } },
  float64Kernel: false,
  doc: 'Y = mean over each window of X [N,C,...]; padded cells count only when count_include_pad = 1',
  infer: inferWindowPool,
  vjp: averagePoolVjp,
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
  vjp: globalAveragePoolVjp,
};

/** This family's ops, for the registry's table (./table.ts). */
export const POOL_OPS: readonly OpDef[] = [MaxPoolOp, AveragePoolOp, GlobalAveragePoolOp];

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
