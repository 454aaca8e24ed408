// Sliding-window arithmetic shared by Conv, ConvTranspose and the pools: attribute
// defaults, validation, explicit padding for the SAME/VALID modes, and output sizes
// exactly as onnxruntime computes them.
import { ShapeError, SpecError, type AttrSpec, type Dim, type InferContext } from '../ir/index.js';

export type AutoPad = 'NOTSET' | 'SAME_UPPER' | 'SAME_LOWER' | 'VALID';

/** A window op's geometry with defaults filled in, one entry per spatial axis. */
export interface Window {
  kernel: readonly number[];
  strides: readonly number[];
  dilations: readonly number[];
  /** All begins, then all ends: `[x1_begin, x2_begin, ..., x1_end, x2_end, ...]`. */
  pads: readonly number[];
}

/** Attribute specs every window op declares (`dilations` is added by the ops that have it). */
export const WINDOW_ATTRS: Readonly<Record<string, AttrSpec>> = {
  kernel_shape: { type: 'ints' },
  strides: { type: 'ints' },
  pads: { type: 'ints' },
  auto_pad: { type: 'string', default: 'NOTSET' },
};

/**
 * The window attributes of a node with ONNX's defaults filled in (strides and
 * dilations 1, pads 0). `attr` reads an attribute (undefined when absent);
 * `kernel` comes from the caller: the kernel_shape attribute, or W's spatial dims.
 * VJP rules use this to read a forward node's geometry.
 *
 * @example const win = windowFromAttrs((name) => node.attr(name), [3, 3]); // win.pads: [0,0,0,0] if absent
 */
export function windowFromAttrs(attr: (name: string) => unknown, kernel: readonly number[]): Window {
  const ints = (name: string, fill: number, length: number) =>
    (attr(name) as readonly number[] | undefined) ?? Array<number>(length).fill(fill);
  return {
    kernel,
    strides: ints('strides', 1, kernel.length),
    dilations: ints('dilations', 1, kernel.length),
    pads: ints('pads', 0, 2 * kernel.length),
  };
}

/**
 * `windowFromAttrs` plus validation: list lengths match the spatial rank, values
 * are in range, and auto_pad is NOTSET (emitters turn SAME/VALID into explicit
 * pads, so every node twnn builds carries its real padding; see `autoPads`).
 *
 * @example const win = readWindow(ctx, x.rank - 2, ctx.attr<number[]>('kernel_shape'));
 */
export function readWindow(ctx: InferContext, spatialRank: number, kernel: readonly number[]): Window {
  const autoPad = ctx.attr<string>('auto_pad');
  if (autoPad !== 'NOTSET') {
    ctx.fail(`auto_pad ${autoPad} is not supported on a node; give explicit pads (the emitters' autoPad option computes them)`);
  }
  const w = windowFromAttrs((name) => ctx.attr(name), kernel);
  const check = (name: string, values: readonly number[], length: number, min: number) => {
    if (values.length !== length) {
      ctx.fail(`${name} [${values.join(',')}] has ${values.length} entries; ${spatialRank} spatial axes need ${length}`);
    }
    if (values.some((v) => !Number.isInteger(v) || v < min)) ctx.fail(`${name} [${values.join(',')}] must be integers >= ${min}`);
  };
  check('kernel_shape', w.kernel, spatialRank, 1);
  check('strides', w.strides, spatialRank, 1);
  check('dilations', w.dilations, spatialRank, 1);
  check('pads', w.pads, 2 * spatialRank, 0);
  return w;
}

/** Extent of a dilated kernel: the span of input one window covers. @example dilatedExtent(3, 2) // 5 */
export function dilatedExtent(kernel: number, dilation: number): number {
  return dilation * (kernel - 1) + 1;
}

/**
 * Output spatial dims of a sliding window (Conv, MaxPool, AveragePool):
 * `floor((in + pad_begin + pad_end - extent) / stride) + 1`, or with `ceil_mode`
 * the ceiling (a last window that would start in the end padding is an error:
 * onnxruntime and ONNX's shape inference disagree on it). A symbolic input dim keeps its symbol where the
 * window maps it onto itself (stride 1, pads filling the extent), else a fresh one.
 *
 * @example slideDims(ctx, [8, 'W'], win, false) // e.g. [4, '?3']
 */
export function slideDims(ctx: InferContext, spatial: readonly Dim[], w: Window, ceilMode: boolean): Dim[] {
  const rank = spatial.length;
  return spatial.map((dim, i) => {
    const extent = dilatedExtent(w.kernel[i], w.dilations[i]);
    const [begin, end, stride] = [w.pads[i], w.pads[i + rank], w.strides[i]];
    if (typeof dim !== 'number') return stride === 1 && begin + end === extent - 1 ? dim : ctx.freshDim();
    const padded = dim + begin + end;
    if (padded < extent) {
      ctx.fail(
        `spatial axis ${i}: the kernel (size ${w.kernel[i]}, dilation ${w.dilations[i]}, extent ${extent}) ` +
          `is larger than the padded input ${dim}+${begin}+${end} = ${padded}`,
      );
    }
    if (!ceilMode) return Math.floor((padded - extent) / stride) + 1;
    const out = Math.ceil((padded - extent) / stride) + 1;
    // onnxruntime drops a last window that would start in the end padding; ONNX's shape
    // inference (onnx 1.12, and the one inside onnxruntime) does not, so no output size
    // would satisfy both the checker and the runtime.
    if ((out - 1) * stride >= dim + begin) {
      ctx.fail(
        `spatial axis ${i}: with ceil_mode the last window would start in the end padding ` +
          `(ONNX shape inference gives ${out}, onnxruntime computes ${out - 1}); change pads or strides, or use ceil_mode 0`,
      );
    }
    return out;
  });
}

/**
 * Explicit pads for an `auto_pad` mode on a static input, as ONNX defines them:
 * SAME_* pads so that `out = ceil(in / stride)`, the odd pixel going to the end
 * (SAME_UPPER) or the beginning (SAME_LOWER); VALID pads nothing.
 *
 * @example autoPads('SAME_UPPER', [8, 8], [3, 3], [1, 1], [1, 1]) // [1, 1, 1, 1]
 */
export function autoPads(
  mode: AutoPad,
  spatial: readonly number[],
  kernel: readonly number[],
  strides: readonly number[],
  dilations: readonly number[],
): number[] {
  const rank = spatial.length;
  if (mode === 'NOTSET' || mode === 'VALID') return Array<number>(2 * rank).fill(0);
  const begins: number[] = [];
  const ends: number[] = [];
  spatial.forEach((dim, i) => {
    const out = Math.ceil(dim / strides[i]);
    const total = Math.max(0, (out - 1) * strides[i] + dilatedExtent(kernel[i], dilations[i]) - dim);
    const small = Math.floor(total / 2);
    begins.push(mode === 'SAME_UPPER' ? small : total - small);
    ends.push(mode === 'SAME_UPPER' ? total - small : small);
  });
  return [...begins, ...ends];
}

/** Geometry options the window emitters share (camelCase forms of the ONNX attributes). */
export interface WindowOptions {
  strides?: readonly number[];
  /** `[x1_begin, x2_begin, x1_end, x2_end]`; leave out when `autoPad` is given. */
  pads?: readonly number[];
  /** Resolved to explicit `pads` at build time (the input's spatial dims must be static). */
  autoPad?: AutoPad;
}

/**
 * The `pads` an emitter writes on its node: the explicit ones, or those `autoPad`
 * stands for. `where` names the emitter in messages.
 *
 * @example const pads = emitterPads('conv2d', x, [3, 3], { autoPad: 'SAME_UPPER' }, [1, 1]);
 */
export function emitterPads(
  where: string,
  x: { shape: readonly Dim[]; describe(): string },
  kernel: readonly number[],
  options: WindowOptions,
  dilations: readonly number[],
): readonly number[] | undefined {
  const mode = options.autoPad ?? 'NOTSET';
  if (mode === 'NOTSET') return options.pads;
  if (options.pads) throw new SpecError(`${where}: give pads or autoPad, not both (pads [${options.pads.join(',')}], autoPad ${mode})`);
  const spatial = x.shape.slice(2);
  if (!spatial.every((d): d is number => typeof d === 'number')) {
    throw new ShapeError(`${where}: autoPad ${mode} needs static spatial dims to compute pads, got ${x.describe()}`);
  }
  const strides = options.strides ?? spatial.map(() => 1);
  if (strides.length !== spatial.length || dilations.length !== spatial.length || kernel.length !== spatial.length) {
    throw new ShapeError(`${where}: kernel, strides and dilations need ${spatial.length} entries each for ${x.describe()}`);
  }
  return autoPads(mode, spatial, kernel, strides, dilations);
}

/**
 * A 2-D emitter's check that `x` is NCHW, before the N-d op sees it.
 *
 * @example requireRank4('conv2d', x);
 */
export function requireRank4(where: string, x: { rank: number; describe(): string }): void {
  if (x.rank !== 4) throw new ShapeError(`${where}: expects a rank-4 [N,C,H,W] input, got ${x.describe()}`);
}
