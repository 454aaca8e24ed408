// A 2-D convolution's weight gradient as one matrix product (im2col on the
// graph), instead of a Conv that treats the batch as channels.
//
// For y = conv(x, w) with window (kernel k, strides s, dilations d, pads p):
//   gw[m,c,a,b] = Σ_{n,i,j} gy[n,m,i,j] · xpad[n, c, i·s₀ + a·d₀, j·s₁ + b·d₁].
// Fix an offset (a,b): the x values it reads form the strided slice
//   P_ab = xpad[:, :, a·d₀ : a·d₀ + (H'−1)·s₀ + 1 : s₀, b·d₁ : … : s₁]   [N, C, H', W'],
// so gw[:,:,a,b] = gyᵀ·P_ab with the sum over K = N·H'·W'. Stacking the k₀·k₁
// slices, channel-major, gives the patch matrix P [k₀k₁·C, K], and the whole
// gradient is one product P · G with G = gy laid out [K, M]:
//   x [N,C,H,W] → Transpose [C,N,H,W] → zero-pad H, W → k₀k₁ Slices → Concat on
//   axis 0 → Reshape [k₀k₁·C, K]; gy [N,M,H',W'] → Transpose [N,H',W',M] → [K, M];
//   MatMul → [k₀k₁·C, M] → Reshape [k₀, k₁, C, M] → Transpose → [M, C, k₀, k₁].
// Why: the Conv form's kernel is gy itself (H'×W' wide) and its output is only
// k₀×k₁, so onnxruntime's im2col path multiplies matrices 9 columns wide
// (about 30 GFLOP/s here); this product is k₀k₁·C rows by M columns
// (docs/performance/engine-changes.md, section 14).
import { isStatic, type Graph, type Value } from '../ir/index.js';
import { matmul } from './linalg.js';
import { concat, int64Constant, reshape, shapeOf, slice, transpose } from './shape.js';
import { zerosAlong } from './vjp/slice-adjoints.js';
import type { Window } from './window.js';

/**
 * `v` with `before` zeros ahead of and `after` zeros behind it along `axis`; the
 * other dims may be symbolic (read with Shape at run time).
 *
 * @example const padded = zeroPad(g, xt, 2, 1, 1); // [C,N,H,W] -> [C,N,H+2,W]
 */
export function zeroPad(g: Graph, v: Value, axis: number, before: number, after: number): Value {
  const pieces = [before > 0 ? zerosAlong(g, v, axis, before) : undefined, v, after > 0 ? zerosAlong(g, v, axis, after) : undefined].filter((p): p is Value => p !== undefined);
  return pieces.length === 1 ? v : concat(g, pieces, axis);
}

/**
 * Whether `convWeightGradByMatMul` handles this case: a 2-D, ungrouped conv whose
 * channel and spatial sizes are static (the batch may be symbolic).
 *
 * @example if (matMulWeightGradApplies(x, gy, 1)) gw = convWeightGradByMatMul(g, x, gy, win);
 */
export function matMulWeightGradApplies(x: Value, gy: Value, group: number): boolean {
  return group === 1 && x.rank === 4 && gy.rank === 4 && isStatic(x.shape.slice(1)) && isStatic(gy.shape.slice(1));
}

/**
 * d⟨gy, conv(x, w)⟩/dw [M, C, k₀, k₁] as one MatMul of x's patches by gy (see the
 * derivation above). `x` [N,C,H,W], `gy` [N,M,H',W'], `win` the forward window.
 *
 * @example const gw = convWeightGradByMatMul(g, x, gy, { kernel: [3, 3], strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1] });
 */
export function convWeightGradByMatMul(g: Graph, x: Value, gy: Value, win: Window): Value {
  const [channels, outChannels] = [x.shape[1] as number, gy.shape[1] as number];
  const outSize = gy.shape.slice(2) as number[];
  let padded = transpose(g, x, [1, 0, 2, 3]);
  for (let axis = 0; axis < 2; axis++) padded = zeroPad(g, padded, axis + 2, win.pads[axis], win.pads[axis + 2]);
  const patches: Value[] = [];
  for (let a = 0; a < win.kernel[0]; a++) {
    for (let b = 0; b < win.kernel[1]; b++) {
      const starts = [a * win.dilations[0], b * win.dilations[1]];
      const ends = starts.map((s, i) => s + (outSize[i] - 1) * win.strides[i] + 1);
      patches.push(slice(g, padded, starts, ends, [2, 3], win.strides));
    }
  }
  const offsets = win.kernel[0] * win.kernel[1];
  const patchMatrix = reshape(g, patches.length === 1 ? patches[0] : concat(g, patches, 0), [offsets * channels, -1]);
  // K = N·H'·W' with N symbolic: read off the patches so both factors carry the same K symbol.
  const gyMatrix = reshape(g, transpose(g, gy, [0, 2, 3, 1]), concat(g, [shapeOf(g, patchMatrix, 1, 2), int64Constant(g, [outChannels])], 0));
  const product = reshape(g, matmul(g, patchMatrix, gyMatrix), [win.kernel[0], win.kernel[1], channels, outChannels]);
  return transpose(g, product, [3, 2, 0, 1]);
}
