// Naive NCHW reference implementations of the conv and pool ops, written from the
// definitions (loops over every output cell), to check onnxruntime's results against.
import { randn } from './rng.js';

/** A dense row-major array. */
export interface NdArray {
  shape: number[];
  data: number[];
}

export interface Geometry {
  strides?: readonly number[];
  /** `[top, left, bottom, right]` (ONNX order: begins, then ends). */
  pads?: readonly number[];
  dilations?: readonly number[];
}

function filled(geometry: Geometry) {
  return {
    strides: geometry.strides ?? [1, 1],
    pads: geometry.pads ?? [0, 0, 0, 0],
    dilations: geometry.dilations ?? [1, 1],
  };
}

const at = (a: NdArray, i: number, j: number, k: number, l: number): number =>
  a.data[((i * a.shape[1] + j) * a.shape[2] + k) * a.shape[3] + l];

function zeros(shape: number[]): NdArray {
  return { shape, data: new Array<number>(shape.reduce((p, d) => p * d, 1)).fill(0) };
}

function index4(shape: number[], i: number, j: number, k: number, l: number): number {
  return ((i * shape[1] + j) * shape[2] + k) * shape[3] + l;
}

/** Output size of a window sliding over `size` cells (floor mode). */
function slide(size: number, padded: number, kernel: number, stride: number, dilation: number): number {
  return Math.floor((size + padded - (dilation * (kernel - 1) + 1)) / stride) + 1;
}

/**
 * Conv: `y[n,m,i,j] = b[m] + Σ_{c in m's group, p, q} x[n,c, i*s - pad + p*d, j*s - pad + q*d] · w[m,c',p,q]`,
 * with zeros outside X.
 *
 * @example conv2dRef(x, w, undefined, { strides: [2, 2] }, 1)
 */
export function conv2dRef(x: NdArray, w: NdArray, b: number[] | undefined, geometry: Geometry, group = 1): NdArray {
  const { strides, pads, dilations } = filled(geometry);
  const [n, c, h, wd] = x.shape;
  const [m, cg, kh, kw] = w.shape;
  if (c !== cg * group) throw new Error(`conv2dRef: ${c} channels, W expects ${cg}x${group}`);
  const oh = slide(h, pads[0] + pads[2], kh, strides[0], dilations[0]);
  const ow = slide(wd, pads[1] + pads[3], kw, strides[1], dilations[1]);
  const y = zeros([n, m, oh, ow]);
  const mg = m / group;
  for (let ni = 0; ni < n; ni++)
    for (let mi = 0; mi < m; mi++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          let sum = b ? b[mi] : 0;
          const g = Math.floor(mi / mg);
          for (let ci = 0; ci < cg; ci++)
            for (let p = 0; p < kh; p++)
              for (let q = 0; q < kw; q++) {
                const r = i * strides[0] - pads[0] + p * dilations[0];
                const s = j * strides[1] - pads[1] + q * dilations[1];
                if (r < 0 || r >= h || s < 0 || s >= wd) continue;
                sum += at(x, ni, g * cg + ci, r, s) * at(w, mi, ci, p, q);
              }
          y.data[index4(y.shape, ni, mi, i, j)] = sum;
        }
  return y;
}

/**
 * ConvTranspose as a scatter: every input cell adds `x · w[c,m,:,:]` into the output
 * window it maps to (`i*s - pad + p*d`), which is then cropped by the pads.
 *
 * @example convTranspose2dRef(x, w, undefined, { strides: [2, 2] }, [1, 1], 1)
 */
export function convTranspose2dRef(
  x: NdArray,
  w: NdArray,
  b: number[] | undefined,
  geometry: Geometry,
  outputPadding: readonly number[] = [0, 0],
  group = 1,
): NdArray {
  const { strides, pads, dilations } = filled(geometry);
  const [n, c, h, wd] = x.shape;
  const [, mg, kh, kw] = w.shape;
  const oh = strides[0] * (h - 1) + outputPadding[0] + dilations[0] * (kh - 1) + 1 - pads[0] - pads[2];
  const ow = strides[1] * (wd - 1) + outputPadding[1] + dilations[1] * (kw - 1) + 1 - pads[1] - pads[3];
  const y = zeros([n, mg * group, oh, ow]);
  const cg = c / group;
  for (let ni = 0; ni < n; ni++)
    for (let ci = 0; ci < c; ci++)
      for (let i = 0; i < h; i++)
        for (let j = 0; j < wd; j++) {
          const g = Math.floor(ci / cg);
          for (let mi = 0; mi < mg; mi++)
            for (let p = 0; p < kh; p++)
              for (let q = 0; q < kw; q++) {
                const r = i * strides[0] - pads[0] + p * dilations[0];
                const s = j * strides[1] - pads[1] + q * dilations[1];
                if (r < 0 || r >= oh || s < 0 || s >= ow) continue;
                y.data[index4(y.shape, ni, g * mg + mi, r, s)] += at(x, ni, ci, i, j) * at(w, ci, mi, p, q);
              }
        }
  if (b) y.data.forEach((v, k) => (y.data[k] = v + b[Math.floor(k / (oh * ow)) % (mg * group)]));
  return y;
}

export interface PoolGeometry extends Geometry {
  kernel: readonly number[];
  ceilMode?: boolean;
}

/** Pool output size; ceil mode drops a last window starting in the end padding (PyTorch's rule). */
function poolSize(size: number, begin: number, end: number, kernel: number, stride: number, dilation: number, ceil: boolean): number {
  const span = size + begin + end - (dilation * (kernel - 1) + 1);
  if (!ceil) return Math.floor(span / stride) + 1;
  const out = Math.ceil(span / stride) + 1;
  return (out - 1) * stride >= size + begin ? out - 1 : out;
}

/** Visit every output cell of a 2-D pool with the input cells of its window. */
function pool2d(
  x: NdArray,
  geometry: PoolGeometry,
  reduce: (cells: number[], window: { rows: number; cols: number }) => number,
): NdArray {
  const { strides, pads, dilations } = filled(geometry);
  const [kh, kw] = geometry.kernel;
  const [n, c, h, wd] = x.shape;
  const ceil = geometry.ceilMode ?? false;
  const oh = poolSize(h, pads[0], pads[2], kh, strides[0], dilations[0], ceil);
  const ow = poolSize(wd, pads[1], pads[3], kw, strides[1], dilations[1], ceil);
  const y = zeros([n, c, oh, ow]);
  for (let ni = 0; ni < n; ni++)
    for (let ci = 0; ci < c; ci++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          const cells: number[] = [];
          for (let p = 0; p < kh; p++)
            for (let q = 0; q < kw; q++) {
              const r = i * strides[0] - pads[0] + p * dilations[0];
              const s = j * strides[1] - pads[1] + q * dilations[1];
              if (r >= 0 && r < h && s >= 0 && s < wd) cells.push(at(x, ni, ci, r, s));
            }
          // The window clipped to the padded input: what count_include_pad divides by.
          const top = i * strides[0] - pads[0];
          const left = j * strides[1] - pads[1];
          const rows = Math.min(top + kh, h + pads[2]) - top;
          const cols = Math.min(left + kw, wd + pads[3]) - left;
          y.data[index4(y.shape, ni, ci, i, j)] = reduce(cells, { rows, cols });
        }
  return y;
}

/** MaxPool: the largest real cell of each window (padding never wins). @example maxPool2dRef(x, { kernel: [2, 2], strides: [2, 2] }) */
export function maxPool2dRef(x: NdArray, geometry: PoolGeometry): NdArray {
  return pool2d(x, geometry, (cells) => Math.max(...cells));
}

/**
 * AveragePool: the sum of each window's real cells, divided by their number or, with
 * `countIncludePad`, by the window's size clipped to the padded input.
 *
 * @example averagePool2dRef(x, { kernel: [3, 3], pads: [1, 1, 1, 1] }, true)
 */
export function averagePool2dRef(x: NdArray, geometry: PoolGeometry, countIncludePad: boolean): NdArray {
  return pool2d(x, geometry, (cells, window) => {
    const sum = cells.reduce((a, v) => a + v, 0);
    return sum / (countIncludePad ? window.rows * window.cols : cells.length);
  });
}

/** GlobalAveragePool: the mean of each [H,W] plane. @example globalAveragePoolRef(x).shape // [N,C,1,1] */
export function globalAveragePoolRef(x: NdArray): NdArray {
  const [n, c, h, w] = x.shape;
  const plane = h * w;
  const data = Array.from({ length: n * c }, (_, k) => x.data.slice(k * plane, (k + 1) * plane).reduce((a, v) => a + v, 0) / plane);
  return { shape: [n, c, 1, 1], data };
}

/**
 * `shape` random normal values times `scale` (rounded to float32 when the op runs in
 * float32, so the reference computes on exactly the numbers onnxruntime sees).
 *
 * @example const w = randomArray(seededRandom(1), [4, 3, 3, 3], 'float32', 1 / Math.sqrt(27));
 */
export function randomArray(random: () => number, shape: number[], dtype: 'float32' | 'float64', scale = 1): NdArray {
  const data = randn(random, shape.reduce((p, d) => p * d, 1)).map((v) => v * scale);
  return { shape, data: dtype === 'float32' ? data.map(Math.fround) : data };
}
