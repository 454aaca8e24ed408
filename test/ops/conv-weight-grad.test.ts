// A conv's weight gradient as one MatMul of patches (src/ops/conv-weight-grad.ts):
// against a loop over its definition, on a symbolic batch, in every window the
// VJP rule can hand it; where it applies; and the zero padding it builds on.
import { describe, expect, it } from 'vitest';
import { Graph, Tensor } from '../../src/ir/index.js';
import { convWeightGradByMatMul, matMulWeightGradApplies, zeroPad } from '../../src/ops/conv-weight-grad.js';
import type { Window } from '../../src/ops/window.js';
import { expectClose, runAndCheckShapes } from '../helpers/assert.js';
import { randomArray, type NdArray } from '../helpers/conv-reference.js';
import { seededRandom } from '../helpers/rng.js';

/** gw[m,c,a,b] = Σ_{n,i,j} gy[n,m,i,j]·x[n,c, i·s₀ − p₀ + a·d₀, j·s₁ − p₁ + b·d₁], zeros outside x. */
function weightGradRef(x: NdArray, gy: NdArray, win: Window): number[] {
  const [n, c, h, w] = x.shape;
  const [, m, oh, ow] = gy.shape;
  const [k0, k1] = win.kernel;
  const out = new Array<number>(m * c * k0 * k1).fill(0);
  for (let mi = 0; mi < m; mi++)
    for (let ci = 0; ci < c; ci++)
      for (let a = 0; a < k0; a++)
        for (let b = 0; b < k1; b++) {
          let sum = 0;
          for (let ni = 0; ni < n; ni++)
            for (let i = 0; i < oh; i++)
              for (let j = 0; j < ow; j++) {
                const [r, q] = [i * win.strides[0] - win.pads[0] + a * win.dilations[0], j * win.strides[1] - win.pads[1] + b * win.dilations[1]];
                if (r < 0 || r >= h || q < 0 || q >= w) continue;
                sum += gy.data[((ni * m + mi) * oh + i) * ow + j] * x.data[((ni * c + ci) * h + r) * w + q];
              }
          out[((mi * c + ci) * k0 + a) * k1 + b] = sum;
        }
  return out;
}

interface Case {
  name: string;
  x: number[];
  m: number;
  win: Window;
}

const win = (kernel: number[], strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1]): Window => ({ kernel, strides, pads, dilations });
const outSize = (size: number, i: number, w: Window) =>
  Math.floor((size + w.pads[i] + w.pads[i + 2] - (w.dilations[i] * (w.kernel[i] - 1) + 1)) / w.strides[i]) + 1;

const CASES: Case[] = [
  { name: '3×3, pad 1 (the ResNet blocks)', x: [3, 4, 6, 6], m: 5, win: win([3, 3], [1, 1], [1, 1, 1, 1]) },
  { name: '3×3 stride 2, pad 1', x: [2, 3, 7, 7], m: 4, win: win([3, 3], [2, 2], [1, 1, 1, 1]) },
  { name: '1×1 stride 2 (a shortcut)', x: [2, 3, 6, 6], m: 2, win: win([1, 1], [2, 2]) },
  { name: '2×2 stride 2 (a ConvTranspose wormhole, seen from its output)', x: [2, 3, 8, 8], m: 4, win: win([2, 2], [2, 2]) },
  { name: '3×2, asymmetric pads, strides [2,1], dilations [1,2]', x: [2, 2, 7, 8], m: 3, win: win([3, 2], [2, 1], [1, 0, 2, 1], [1, 2]) },
];

describe('convWeightGradByMatMul', () => {
  for (const c of CASES) {
    it(`${c.name}: equals the definition, on a symbolic batch`, async () => {
      const random = seededRandom(7);
      const oh = [outSize(c.x[2], 0, c.win), outSize(c.x[3], 1, c.win)];
      const x = randomArray(random, c.x, 'float32');
      const gy = randomArray(random, [c.x[0], c.m, ...oh], 'float32');
      const g = new Graph('weight_grad');
      const xv = g.input('x', 'float32', ['B', ...c.x.slice(1)]);
      const gyv = g.input('gy', 'float32', ['B', c.m, ...oh]);
      expect(matMulWeightGradApplies(xv, gyv, 1)).toBe(true);
      g.output('gw', convWeightGradByMatMul(g, xv, gyv, c.win));
      const out = await runAndCheckShapes(g, { x: Tensor.fromNumbers('float32', x.shape, x.data), gy: Tensor.fromNumbers('float32', gy.shape, gy.data) });
      expect(out.gw.shape).toEqual([c.m, c.x[1], ...c.win.kernel]);
      expectClose(out.gw, weightGradRef(x, gy, c.win));
    });
  }

  it('applies to ungrouped 2-D convs with static channels and spatial sizes only', () => {
    const g = new Graph('applies');
    const x = g.input('x', 'float32', ['B', 4, 6, 6]);
    const gy = g.input('gy', 'float32', ['B', 4, 6, 6]);
    expect(matMulWeightGradApplies(x, gy, 1)).toBe(true);
    expect(matMulWeightGradApplies(x, gy, 2)).toBe(false);
    expect(matMulWeightGradApplies(g.input('x1', 'float32', ['B', 4, 6]), g.input('gy1', 'float32', ['B', 4, 6]), 1)).toBe(false);
    expect(matMulWeightGradApplies(g.input('xs', 'float32', ['B', 4, 'H', 'W']), g.input('gys', 'float32', ['B', 4, 'H', 'W']), 1)).toBe(false);
  });
});

describe('zeroPad', () => {
  it('pads a static axis with zeros while another axis is symbolic', async () => {
    const g = new Graph('pad');
    const v = g.input('v', 'float32', [2, 'B', 3]);
    g.output('y', zeroPad(g, v, 2, 1, 2));
    const data = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    const out = await runAndCheckShapes(g, { v: Tensor.fromNumbers('float32', [2, 2, 3], data) });
    expect(out.y.shape).toEqual([2, 2, 6]);
    expect(out.y.toNumbers()).toEqual([0, 1, 2, 3, 0, 0, 0, 4, 5, 6, 0, 0, 0, 7, 8, 9, 0, 0, 0, 10, 11, 12, 0, 0]);
  });

  it('returns the value itself when there is nothing to pad', () => {
    const g = new Graph('nopad');
    const v = g.input('v', 'float32', [2, 3]);
    expect(zeroPad(g, v, 1, 0, 0)).toBe(v);
  });
});
