// The certified Lipschitz bounds of src/twnn/lipschitz.ts: each is at least the
// layer's true ℓ2 operator norm (power iteration on the layer and its adjoint,
// computed in JS), and not far above it.
import { describe, expect, it } from 'vitest';
import { Graph, Tensor } from '../../src/ir/index.js';
import { basicBlock, conv2d, dense, leakyRelu, relu, sequential, sigmoid, tanh } from '../../src/twnn/index.js';
import { BuildContext, type Module } from '../../src/twnn/module.js';
import { boundValue } from '../../src/twnn/lipschitz.js';
import { conv2dRef, convTranspose2dRef, type NdArray } from '../helpers/conv-reference.js';
import { runGraph } from '../helpers/ort.js';
import { randn, seededRandom } from '../helpers/rng.js';

/** The module's bound, emitted into a float64 graph with the given weights and run. */
async function boundOf(m: Module, weights: Map<string, Tensor>): Promise<number> {
  const graph = new Graph('bound');
  const ctx = new BuildContext(graph, { dtype: 'float64', seed: 0, mode: 'initializer', weights });
  graph.output('bound', boundValue(ctx, m.lipschitz!(ctx)));
  return (await runGraph(graph, {})).bound.get(0);
}

/** ‖A‖₂ by power iteration on AᵀA, given A and Aᵀ as functions. */
function operatorNorm(apply: (v: number[]) => number[], adjoint: (v: number[]) => number[], n: number, seed: number): number {
  let v = randn(seededRandom(seed), n);
  let norm = 0;
  for (let it = 0; it < 300; it++) {
    const w = adjoint(apply(v));
    norm = Math.hypot(...w);
    v = w.map((x) => x / norm);
  }
  return Math.sqrt(norm);
}

const matrix = (rows: number, cols: number, seed: number) => Tensor.fromNumbers('float64', [rows, cols], randn(seededRandom(seed), rows * cols));

describe('Lipschitz bounds', () => {
  it("bound a dense layer's weight from above by its Schatten-8 norm, within rank^(1/8)", async () => {
    const w = matrix(5, 8, 3);
    const at = (r: number, c: number) => w.get(r * 8 + c);
    const sigma = operatorNorm(
      (v) => Array.from({ length: 5 }, (_, r) => v.reduce((s, x, c) => s + at(r, c) * x, 0)),
      (u) => Array.from({ length: 8 }, (_, c) => u.reduce((s, x, r) => s + at(r, c) * x, 0)),
      8,
      1,
    );
    const bound = await boundOf(dense(8, 5), new Map([['weight', w]]));
    expect(bound).toBeGreaterThanOrEqual(sigma * (1 - 1e-9));
    expect(bound).toBeLessThanOrEqual(sigma * 5 ** (1 / 8));
  });

  it('are exact for a rank-one weight', async () => {
    const a = [1, -2, 0.5];
    const b = [0.3, 0.1, -1, 2];
    const w = Tensor.fromNumbers('float64', [3, 4], a.flatMap((x) => b.map((y) => x * y)));
    expect(await boundOf(dense(4, 3), new Map([['weight', w]]))).toBeCloseTo(Math.hypot(...a) * Math.hypot(...b), 10);
  });

  it.each([
    ['3x3, padding 1', { padding: 1 }, [1, 0, 1, 0]],
    ['3x3, dilation 2, padding 2', { padding: 2, dilation: 2 }, [2, 0, 2, 0]],
  ] as const)('bound a conv2d %s from above', async (_, options, pads4) => {
    const shape = [4, 3, 3, 3];
    const w = Tensor.fromNumbers('float64', shape, randn(seededRandom(9), 108).map((v) => v / 5));
    const weight: NdArray = { shape: [...shape], data: w.toNumbers() };
    const pads = [pads4[0], pads4[0], pads4[0], pads4[0]];
    const dilations = 'dilation' in options ? [2, 2] : [1, 1];
    const x = (v: number[]): NdArray => ({ shape: [1, 3, 6, 6], data: v });
    const sigma = operatorNorm(
      (v) => conv2dRef(x(v), weight, undefined, { pads, dilations }).data,
      (u) => convTranspose2dRef({ shape: [1, 4, 6, 6], data: u }, weight, undefined, { pads, dilations }).data,
      108,
      2,
    );
    const bound = await boundOf(conv2d(3, 4, 3, { ...options, bias: false }), new Map([['weight', w]]));
    expect(bound).toBeGreaterThanOrEqual(sigma);
    // √9 times the matrix bound: loose, but within a small factor here.
    expect(bound).toBeLessThan(6 * sigma);
  });

  it("add a residual block's branch and shortcut (norm 'none': conv1, relu, conv2; downsample.0 when the shape changes)", async () => {
    const w = (shape: number[], seed: number) => Tensor.fromNumbers('float64', shape, randn(seededRandom(seed), shape.reduce((a, b) => a * b, 1)).map((v) => v / 4));
    const [c1, c2, d] = [w([4, 3, 3, 3], 1), w([4, 4, 3, 3], 2), w([4, 3, 1, 1], 3)];
    const conv = (m: Module, t: Tensor) => boundOf(m, new Map([['weight', t]]));
    const expected = (await conv(conv2d(3, 4, 3, { padding: 1 }), c1)) * (await conv(conv2d(4, 4, 3, { padding: 1 }), c2)) + (await conv(conv2d(3, 4, 1), d));
    const block = basicBlock(3, 4, { norm: 'none' });
    const weights = new Map([['conv1.weight', c1], ['conv2.weight', c2], ['downsample.0.weight', d]]);
    expect(await boundOf(block, weights)).toBeCloseTo(expected, 10);
    await expect(boundOf(basicBlock(3, 4, { norm: 'group', groups: 2 }), weights)).rejects.toThrow("layer 'bn1' (groupNorm2d) has no Lipschitz bound");
  });

  it('multiply along a chain, with the activations’ constants', async () => {
    const w0 = matrix(4, 4, 5);
    const w1 = matrix(4, 4, 6);
    const alone = await boundOf(dense(4, 4), new Map([['weight', w0]]));
    const other = await boundOf(dense(4, 4), new Map([['weight', w1]]));
    const chain = sequential(dense(4, 4), tanh(), dense(4, 4), relu(), sigmoid(), leakyRelu(2));
    const both = await boundOf(chain, new Map([['0.weight', w0], ['2.weight', w1]]));
    expect(both).toBeCloseTo(alone * other * 0.25 * 2, 10);
  });
});
