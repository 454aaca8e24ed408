// VJP rules of the NN op families (Conv, ConvTranspose, MaxPool, AveragePool,
// GlobalAveragePool, BatchNormalization): random-direction finite differences
// through onnxruntime, and the same gradients against PyTorch's autograd.
//
// Conv, ConvTranspose, AveragePool and GlobalAveragePool have no float64 kernel in
// onnxruntime (docs/DESIGN.md §7), so they are checked in float32. Each is linear in X (and
// Conv/ConvTranspose bilinear in X and W), so the loss ⟨u, f(x + εv)⟩ is a polynomial
// of degree ≤ 2 in ε and the central difference has no truncation error at all: what
// remains is float32 rounding of the two losses (sums of a few hundred unit-size
// terms: ~1e-6..1e-5 absolute) divided by 2ε = 2e-2, at most ~1e-4 relative to the
// directional derivatives (sizes 1..40; seen: 3e-7..1e-5). rtol 1e-3 leaves headroom
// and stays far below what a wrong rule gives (a missed window, offset or group is an
// O(1) relative error).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/autodiff/transform.js';
import { Graph, SpecError, Tensor, type Value } from '../../src/ir/index.js';
import {
  averagePool2d,
  batchNorm,
  conv2d,
  ConvOp,
  convTranspose2d,
  globalAveragePool,
  maxPool2d,
  MaxPoolOp,
  type AveragePoolOptions,
  type ConvOptions,
  type ConvTransposeOptions,
  type MaxPoolOptions,
} from '../../src/ops/index.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { expectOnnxValid, pythonJson } from '../helpers/onnx-checker.js';
import { runGraph } from '../helpers/ort.js';
import { randn, seededRandom } from '../helpers/rng.js';

const F32 = { dtype: 'float32', eps: 1e-2, rtol: 1e-3 } as const;

interface ConvCase {
  name: string;
  x: number[];
  w: number[];
  bias?: boolean;
  options: ConvOptions;
}

const CONV_CASES: ConvCase[] = [
  // H: (7+1-3) mod 2 = 1 row the windows never reach; W: (8+1-3) mod 2 = 0.
  { name: 'stride 2, uneven sizes, asymmetric pads, bias', x: [2, 3, 7, 8], w: [4, 3, 3, 3], bias: true, options: { strides: [2, 2], pads: [1, 0, 0, 1] } },
  // H: (10-2) mod 3 = 2, W: (9-2) mod 3 = 1: output_padding 2 and 1.
  { name: 'stride 3, output_padding 2 and 1', x: [1, 2, 10, 9], w: [3, 2, 2, 2], options: { strides: [3, 3] } },
  { name: 'dilation 2, pads 2, strides [1,2]', x: [2, 2, 9, 9], w: [3, 2, 3, 3], bias: true, options: { dilations: [2, 2], pads: [2, 2, 2, 2], strides: [1, 2] } },
  { name: 'group 2, stride [2,1]', x: [2, 4, 6, 7], w: [6, 2, 3, 3], bias: true, options: { group: 2, strides: [2, 1], pads: [1, 1, 1, 1] } },
  { name: 'depthwise (3 groups, 2 filters each), stride 2', x: [2, 3, 7, 6], w: [6, 1, 3, 3], options: { group: 3, strides: [2, 2], pads: [1, 1, 0, 0] } },
  { name: 'group 2, dilation 2, stride 2', x: [3, 4, 9, 8], w: [4, 2, 2, 3], options: { group: 2, dilations: [2, 2], strides: [2, 2], pads: [0, 1, 1, 0] } },
];

describe('Conv VJP (float32 finite differences)', () => {
  it.each(CONV_CASES)('$name', async ({ x, w, bias, options }) => {
    const inputs = [{ shape: x }, { shape: w, scale: 0.3 }, ...(bias ? [{ shape: [w[0]] }] : [])];
    await gradCheck({ op: 'Conv', ...F32, inputs, build: (g, [xv, wv, bv]) => conv2d(g, xv, wv, bv, options) });
  });

  it('a 1-d grouped conv with stride 2 (the rules are N-d)', async () => {
    const attrs = { kernel_shape: [3], strides: [2], pads: [1, 0], dilations: [1], group: 2 };
    await gradCheck({ op: 'Conv', ...F32, inputs: [{ shape: [2, 4, 8] }, { shape: [4, 2, 3] }], build: (g, [xv, wv]) => g.node(ConvOp, [xv, wv], attrs)[0] });
  });
});

interface ConvTransposeCase {
  name: string;
  x: number[];
  w: number[];
  bias?: boolean;
  options: ConvTransposeOptions;
}

const CONV_TRANSPOSE_CASES: ConvTransposeCase[] = [
  { name: 'stride 2, pads 1, output_padding 1, bias', x: [2, 3, 4, 5], w: [3, 2, 3, 3], bias: true, options: { strides: [2, 2], pads: [1, 1, 1, 1], outputPadding: [1, 1] } },
  { name: 'group 2, dilation [2,1], stride [1,2]', x: [1, 4, 3, 4], w: [4, 3, 2, 2], options: { group: 2, dilations: [2, 1], strides: [1, 2] } },
  // output_padding >= dilation: the weight gradient's correlation fits more offsets than the kernel has.
  { name: 'stride 3, output_padding [2,1], asymmetric pads', x: [2, 2, 3, 3], w: [2, 2, 2, 2], bias: true, options: { strides: [3, 3], outputPadding: [2, 1], pads: [1, 0, 0, 1] } },
  { name: 'depthwise', x: [2, 3, 4, 4], w: [3, 1, 3, 3], options: { group: 3, strides: [2, 2], pads: [1, 1, 1, 1] } },
];

describe('ConvTranspose VJP (float32 finite differences)', () => {
  it.each(CONV_TRANSPOSE_CASES)('$name', async ({ x, w, bias, options }) => {
    const inputs = [{ shape: x }, { shape: w, scale: 0.3 }, ...(bias ? [{ shape: [w[1] * (options.group ?? 1)] }] : [])];
    await gradCheck({ op: 'ConvTranspose', ...F32, inputs, build: (g, [xv, wv, bv]) => convTranspose2d(g, xv, wv, bv, options) });
  });
});

const MAX_POOL_CASES: { name: string; x: number[]; options: MaxPoolOptions }[] = [
  { name: '3x3 stride 1 pads 1 (every cell in up to 9 windows)', x: [2, 2, 5, 6], options: { kernelShape: [3, 3], pads: [1, 1, 1, 1] } },
  { name: '3x3 stride 2 pads 1, uneven 7x8', x: [2, 3, 7, 8], options: { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] } },
  { name: 'dilation 2, strides [2,1]', x: [1, 2, 9, 8], options: { kernelShape: [2, 3], dilations: [2, 2], strides: [2, 1] } },
  { name: 'ceil_mode with pads', x: [2, 2, 6, 6], options: { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceilMode: true } },
  { name: '2x2 stride 2 (disjoint windows)', x: [2, 3, 4, 6], options: { kernelShape: [2, 2], strides: [2, 2] } },
];

describe('MaxPool VJP (float64 finite differences)', () => {
  it.each(MAX_POOL_CASES)('$name', async ({ x, options }) => {
    await gradCheck({ op: 'MaxPool', inputs: [{ shape: x }], build: (g, [xv]) => maxPool2d(g, xv, options) });
  });

  it('reuses the Indices of a forward node that asked for them', async () => {
    const attrs = { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] };
    await gradCheck({ op: 'MaxPool', inputs: [{ shape: [1, 2, 4, 5] }], build: (g, [xv]) => g.node(MaxPoolOp, [xv], attrs, { outputs: 2 })[0] });
  });
});

describe('MaxPool Indices (NodeOptions.outputs)', () => {
  it('gives each output the flat position of its maximum in X', async () => {
    const g = new Graph('indices');
    const x = g.input('x', 'float64', ['B', 2, 3, 3]);
    const [y, indices] = g.node(MaxPoolOp, [x], { kernel_shape: [2, 2] }, { outputs: 2 });
    expect(indices.dtype).toBe('int64');
    expect(indices.shape).toEqual(y.shape);
    g.output('y', y);
    g.output('i', indices);
    const data = randn(seededRandom(3), 36);
    const out = await runGraph(g, { x: Tensor.fromNumbers('float64', [2, 2, 3, 3], data) });
    const at = out.i.toNumbers();
    expect(at.length).toBe(16);
    // Each index points at the window's value, in this sample and channel, inside its 2x2 window.
    at.forEach((flatIndex, k) => {
      const [plane, cell] = [Math.floor(k / 4), k % 4];
      const [row, col] = [Math.floor(cell / 2), cell % 2];
      expect(data[flatIndex]).toBe(out.y.get(k));
      expect(Math.floor(flatIndex / 9)).toBe(plane);
      const [r, c] = [Math.floor((flatIndex % 9) / 3), flatIndex % 3];
      expect(r - row >= 0 && r - row <= 1 && c - col >= 0 && c - col <= 1).toBe(true);
    });
  });

  it('leaves the optional output out unless asked, and rejects a count it does not have', () => {
    const g = new Graph('indices');
    const x = g.input('x', 'float32', [1, 1, 4, 4]);
    expect(g.node(MaxPoolOp, [x], { kernel_shape: [2, 2] })).toHaveLength(1);
    expect(() => g.node(MaxPoolOp, [x], { kernel_shape: [2, 2] }, { outputs: 3 })).toThrow(/asks for 3 outputs; it has 1 to 2/);
    expect(() => g.node(ConvOp, [x, x], {}, { outputs: 2 })).toThrow(SpecError);
  });
});

const AVERAGE_POOL_CASES: { name: string; x: number[]; options: AveragePoolOptions }[] = [
  { name: '3x3 stride 2 pads 1, uneven 7x8, count_include_pad 0', x: [2, 3, 7, 8], options: { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] } },
  { name: '3x3 stride 2 pads 1, uneven 7x8, count_include_pad 1', x: [2, 3, 7, 8], options: { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], countIncludePad: true } },
  { name: 'asymmetric pads, stride 1 (overlapping), count_include_pad 0', x: [1, 2, 5, 6], options: { kernelShape: [3, 2], pads: [2, 1, 0, 1] } },
  { name: 'ceil_mode with pads, count_include_pad 1', x: [2, 2, 6, 6], options: { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceilMode: true, countIncludePad: true } },
  { name: 'ceil_mode without pads, count_include_pad 0', x: [1, 2, 7, 7], options: { kernelShape: [2, 2], strides: [2, 2], ceilMode: true } },
  { name: '2x3 window, strides [1,2], no pads', x: [2, 2, 5, 8], options: { kernelShape: [2, 3], strides: [1, 2] } },
];

describe('AveragePool VJP (float32 finite differences)', () => {
  it.each(AVERAGE_POOL_CASES)('$name', async ({ x, options }) => {
    await gradCheck({ op: 'AveragePool', ...F32, inputs: [{ shape: x }], build: (g, [xv]) => averagePool2d(g, xv, options) });
  });
});

describe('GlobalAveragePool VJP (float32 finite differences)', () => {
  it('averages over 5x4 cells', async () => {
    await gradCheck({ op: 'GlobalAveragePool', ...F32, inputs: [{ shape: [2, 3, 5, 4] }], build: (g, [xv]) => globalAveragePool(g, xv) });
  });
});

describe('BatchNormalization VJP (float64 finite differences)', () => {
  const stats = (c: number, seed: number) => {
    const random = seededRandom(seed);
    return [
      { fixed: Tensor.fromNumbers('float64', [c], randn(random, c)) },
      { fixed: Tensor.fromNumbers('float64', [c], randn(random, c).map((z) => 0.3 + z * z)) },
    ];
  };
  it('in X, scale and B, NCHW', async () => {
    await gradCheck({
      op: 'BatchNormalization',
      inputs: [{ shape: [3, 4, 2, 3] }, { shape: [4] }, { shape: [4] }, ...stats(4, 5)],
      build: (g, [x, scale, bias, mean, variance]) => batchNorm(g, x, { scale, bias, mean, variance }, { epsilon: 1e-3 }),
    });
  });
  it('in X, scale and B, rank 2 [N,C]', async () => {
    await gradCheck({
      op: 'BatchNormalization',
      inputs: [{ shape: [5, 3] }, { shape: [3] }, { shape: [3] }, ...stats(3, 6)],
      build: (g, [x, scale, bias, mean, variance]) => batchNorm(g, x, { scale, bias, mean, variance }),
    });
  });
});

describe('backward graphs of the NN ops', () => {
  it('pass the onnx checker with strict shape inference (symbolic batch)', () => {
    const g = new Graph('nn_backward');
    const x = g.input('x', 'float32', ['B', 4, 9, 8]);
    const w = g.input('w', 'float32', [6, 2, 3, 3]);
    const [scale, bias, mean, variance] = ['scale', 'bias', 'mean', 'var'].map((name) => g.input(name, 'float32', [6]));
    let h = conv2d(g, x, w, undefined, { strides: [2, 2], pads: [1, 0, 1, 1], group: 2 });
    h = batchNorm(g, h, { scale, bias, mean, variance });
    h = maxPool2d(g, h, { kernelShape: [3, 3], pads: [1, 1, 1, 1] });
    h = averagePool2d(g, h, { kernelShape: [2, 2], strides: [2, 2], ceilMode: true });
    h = convTranspose2d(g, h, g.input('wt', 'float32', [6, 1, 3, 3]), undefined, { strides: [2, 2], group: 6, outputPadding: [1, 0] });
    const y = globalAveragePool(g, h);
    const grads = backward(g, y, [x, w, scale, bias], { seed: g.input('gy', 'float32', y.shape) });
    grads.forEach((v, i) => g.output(`grad${i}`, v));
    expect(grads.map((v) => v.shape)).toEqual([x.shape, w.shape, [6], [6]]);
    expectOnnxValid(serializeModel(g));
  });
});

// ---------------------------------------------------------------------------------------
// Against PyTorch: the same float32 inputs through twnn's backward graph (onnxruntime,
// float32) and torch.autograd (float64, as the exact reference).

/** torch.nn.functional call and its arguments; the inputs are added from the case. */
type TorchOp =
  | { op: 'conv2d'; stride: number[]; padding: number[]; dilation: number[]; groups: number }
  | { op: 'max_pool2d'; kernel: number[]; stride: number[]; padding: number[]; dilation: number[] }
  | { op: 'avg_pool2d'; kernel: number[]; stride: number[]; padding: number[]; count_include_pad: boolean };

const TORCH_GRADS = `
import json, sys, torch
import torch.nn.functional as F
c = json.load(open(sys.argv[1]))
t = lambda a: torch.tensor(a['data'], dtype=torch.float64).reshape(a['shape'])
x = t(c['x']).requires_grad_()
args = [x]
if c['op'] == 'conv2d':
    w, b = t(c['w']).requires_grad_(), t(c['b']).requires_grad_()
    args += [w, b]
    y = F.conv2d(x, w, b, stride=c['stride'], padding=c['padding'], dilation=c['dilation'], groups=c['groups'])
elif c['op'] == 'max_pool2d':
    y = F.max_pool2d(x, c['kernel'], c['stride'], c['padding'], c['dilation'])
else:
    y = F.avg_pool2d(x, c['kernel'], c['stride'], c['padding'], count_include_pad=c['count_include_pad'])
grads = torch.autograd.grad(y, args, t(c['gy']))
print(json.dumps({'y': list(y.shape), 'grads': [g.flatten().tolist() for g in grads]}))
`;

/** Standard-normal float32 values (so both sides see identical numbers). */
function draw(shape: number[], seed: number, scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.fromNumbers('float32', shape, randn(seededRandom(seed), n).map((z) => Math.fround(z * scale)));
}

function torchGrads(op: TorchOp, tensors: Record<string, Tensor>): { y: number[]; grads: number[][] } {
  const dir = mkdtempSync(join(tmpdir(), 'twnn-nn-grads-'));
  try {
    const file = join(dir, 'case.json');
    const payload: Record<string, unknown> = { ...op };
    for (const [name, t] of Object.entries(tensors)) payload[name] = { shape: t.shape, data: t.toNumbers() };
    writeFileSync(file, JSON.stringify(payload));
    return pythonJson(TORCH_GRADS, [file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * twnn's gradients of `emit` (batch dim symbolic, so the rules' symbolic paths run),
 * seeded with `gy`, for `params` (x first).
 */
async function twnnGrads(params: Record<string, Tensor>, gy: Tensor, emit: (g: Graph, vs: Value[]) => Value): Promise<number[][]> {
  const g = new Graph('nn_grads');
  const vs = Object.entries(params).map(([name, t], i) => g.input(name, 'float32', i === 0 ? ['B', ...t.shape.slice(1)] : t.shape));
  const y = emit(g, vs);
  const grads = backward(g, y, vs, { seed: g.input('gy', 'float32', y.shape) });
  grads.forEach((v, i) => g.output(`grad${i}`, v));
  const out = await runGraph(g, { ...params, gy });
  return grads.map((_, i) => out[`grad${i}`].toNumbers());
}

/**
 * Torch's float64 gradient vs ours in float32, to 1e-4 relative. Each gradient entry is
 * a sum of up to a few hundred float32 products, whose rounding (~1e-7 of Σ|terms|)
 * can exceed 1e-4 of an entry that cancels to near zero, so the absolute floor is 1e-4
 * of the gradient's largest entry.
 */
function expectGradsClose(actual: number[][], expected: number[][]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, k) => {
    expect(a.length, `gradient ${k} size`).toBe(expected[k].length);
    const floor = 1e-4 * Math.max(...expected[k].map(Math.abs));
    const bad = a.findIndex((v, i) => !(Math.abs(v - expected[k][i]) <= floor + 1e-4 * Math.abs(expected[k][i])));
    if (bad >= 0) expect.fail(`gradient ${k}, element ${bad}: twnn ${a[bad]}, torch ${expected[k][bad]}`);
  });
}

/** Torch's symmetric padding as ONNX pads. */
const onnxPads = (padding: number[]) => [...padding, ...padding];

describe('NN gradients against PyTorch autograd', () => {
  const convCases = [
    { name: 'stride 2, pad 1, uneven 7x8', x: [2, 3, 7, 8], w: [4, 3, 3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 1 },
    { name: 'groups 2, stride [1,2], dilation 2', x: [2, 4, 9, 8], w: [6, 2, 3, 3], stride: [1, 2], padding: [2, 1], dilation: [2, 2], groups: 2 },
    { name: 'depthwise, stride 2', x: [3, 4, 6, 7], w: [8, 1, 3, 3], stride: [2, 2], padding: [1, 0], dilation: [1, 1], groups: 4 },
    { name: 'stride 1, pad 1', x: [2, 5, 7, 6], w: [3, 5, 3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 },
    { name: 'stride 1, dilation 2, pad [2,0]', x: [2, 3, 8, 9], w: [4, 3, 3, 3], stride: [1, 1], padding: [2, 0], dilation: [2, 2], groups: 1 },
  ];
  it.each(convCases.map((c, seed) => ({ ...c, seed })))('conv2d: $name', async ({ x, w, stride, padding, dilation, groups, seed }) => {
    const params = { x: draw(x, 11 + seed), w: draw(w, 12 + seed, 0.3), b: draw([w[0]], 13 + seed) };
    const options = { strides: stride, pads: onnxPads(padding), dilations: dilation, group: groups };
    const probe = new Graph('shape');
    const yShape = conv2d(probe, probe.input('x', 'float32', x), probe.input('w', 'float32', w), undefined, options).shape as number[];
    const gy = draw(yShape, 14 + seed);
    const expected = torchGrads({ op: 'conv2d', stride, padding, dilation, groups }, { ...params, gy });
    expect(expected.y).toEqual(yShape);
    const actual = await twnnGrads(params, gy, (g, [xv, wv, bv]) => conv2d(g, xv, wv, bv, options));
    expectGradsClose(actual, expected.grads);
  });

  const poolCases: ({ name: string } & Exclude<TorchOp, { op: 'conv2d' }>)[] = [
    { name: 'max_pool2d 3x3 stride 1 pad 1 (overlapping)', op: 'max_pool2d', kernel: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1] },
    { name: 'max_pool2d 3x3 stride 2 pad 1, dilation [1,2]', op: 'max_pool2d', kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 2] },
    { name: 'avg_pool2d 3x3 stride 2 pad 1, count_include_pad', op: 'avg_pool2d', kernel: [3, 3], stride: [2, 2], padding: [1, 1], count_include_pad: true },
    { name: 'avg_pool2d 3x2 stride [1,2] pad 1, exclude pad', op: 'avg_pool2d', kernel: [3, 2], stride: [1, 2], padding: [1, 1], count_include_pad: false },
  ];
  it.each(poolCases)('$name', async (c) => {
    const xShape = [2, 3, 7, 8];
    const x = draw(xShape, 21);
    const window = { kernelShape: c.kernel, strides: c.stride, pads: onnxPads(c.padding) };
    const emit = (g: Graph, xv: Value) =>
      c.op === 'max_pool2d'
        ? maxPool2d(g, xv, { ...window, dilations: c.dilation })
        : averagePool2d(g, xv, { ...window, countIncludePad: c.count_include_pad });
    const probe = new Graph('shape');
    const yShape = emit(probe, probe.input('x', 'float32', xShape)).shape as number[];
    const gy = draw(yShape, 22);
    const expected = torchGrads(c, { x, gy });
    expect(expected.y).toEqual(yShape);
    expectGradsClose(await twnnGrads({ x }, gy, (g, [xv]) => emit(g, xv)), expected.grads);
  });
});
