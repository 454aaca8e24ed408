import { describe, expect, it } from 'vitest';
import { Graph, ShapeError, Tensor, type Value } from '../../src/ir/index.js';
import {
  conv2d,
  ConvOp,
  convTranspose2d,
  ConvTransposeOp,
  type ConvOptions,
  type ConvTransposeOptions,
} from '../../src/ops/index.js';
import { windowFromAttrs } from '../../src/ops/window.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { expectClose, runAndCheckShapes } from '../helpers/assert.js';
import { conv2dRef, convTranspose2dRef, randomArray, type NdArray } from '../helpers/conv-reference.js';
import { expectOnnxValid } from '../helpers/onnx-checker.js';
import { runGraph } from '../helpers/ort.js';
import { randn, seededRandom } from '../helpers/rng.js';

interface ConvCase {
  name: string;
  x: number[];
  w: number[];
  bias?: boolean;
  options: ConvOptions;
  /** The pads the reference uses, where `options` gives autoPad instead. */
  refPads?: number[];
}

const CONV_CASES: ConvCase[] = [
  { name: '3x3, pad 1, bias', x: [2, 3, 7, 7], w: [4, 3, 3, 3], bias: true, options: { pads: [1, 1, 1, 1] } },
  { name: 'stride 2, asymmetric pads', x: [2, 3, 8, 9], w: [5, 3, 3, 2], options: { strides: [2, 2], pads: [1, 2, 0, 1] } },
  { name: 'strides [1,3], no pads', x: [1, 2, 6, 10], w: [3, 2, 2, 3], options: { strides: [1, 3] } },
  { name: 'dilation 2', x: [1, 2, 9, 9], w: [3, 2, 3, 3], bias: true, options: { dilations: [2, 2], pads: [2, 2, 2, 2] } },
  { name: 'group 2', x: [2, 4, 6, 6], w: [6, 2, 3, 3], bias: true, options: { group: 2, pads: [1, 1, 1, 1] } },
  { name: 'depthwise (3 groups, 2 filters each)', x: [2, 3, 6, 6], w: [6, 1, 3, 3], options: { group: 3, strides: [2, 2] } },
  { name: '1x1', x: [2, 5, 4, 4], w: [3, 5, 1, 1], bias: true, options: {} },
  // H=7: out 4, 2 pad rows split 1/1; W=8: out 4, 1 pad column, at the end (UPPER) or the start (LOWER).
  { name: 'autoPad SAME_UPPER', x: [1, 2, 7, 8], w: [3, 2, 3, 3], options: { strides: [2, 2], autoPad: 'SAME_UPPER' }, refPads: [1, 0, 1, 1] },
  { name: 'autoPad SAME_LOWER', x: [1, 2, 7, 8], w: [3, 2, 3, 3], options: { strides: [2, 2], autoPad: 'SAME_LOWER' }, refPads: [1, 1, 1, 0] },
  { name: 'autoPad VALID', x: [1, 2, 7, 8], w: [3, 2, 3, 3], options: { strides: [2, 2], autoPad: 'VALID' }, refPads: [0, 0, 0, 0] },
];

/**
 * Weights scaled like a real init (1/sqrt(fan-in)) keep outputs and partial sums of
 * unit size, so float32 rounding stays well inside expectClose's rtol 1e-5, atol 1e-6.
 */
const initScale = (fanIn: number): number => 1 / Math.sqrt(fanIn);

/** The weights as initializers of `g`. */
function weights(g: Graph, w: NdArray, bias: number[] | undefined): [Value, Value | undefined] {
  const wv = g.initializer('w', Tensor.fromNumbers('float32', w.shape, w.data));
  return [wv, bias && g.initializer('b', Tensor.fromNumbers('float32', [bias.length], bias))];
}

/** A case as a graph on x [B,...] with random weights, a random feed, and the reference output. */
interface Built {
  graph: Graph;
  feeds: Record<string, Tensor>;
  expected: NdArray;
}

function buildConv({ x: xShape, w: wShape, bias, options, refPads }: ConvCase, seed: number): Built {
  const random = seededRandom(100 + seed);
  const x = randomArray(random, xShape, 'float32');
  const w = randomArray(random, wShape, 'float32', initScale(wShape[1] * wShape[2] * wShape[3]));
  const b = bias ? randn(random, wShape[0]).map(Math.fround) : undefined;
  const graph = new Graph('conv');
  graph.output('y', conv2d(graph, graph.input('x', 'float32', ['B', ...xShape.slice(1)]), ...weights(graph, w, b), options));
  const expected = conv2dRef(x, w, b, { ...options, pads: refPads ?? options.pads }, options.group);
  return { graph, feeds: { x: Tensor.fromNumbers('float32', x.shape, x.data) }, expected };
}

async function expectMatchesReference({ graph, feeds, expected }: Built): Promise<void> {
  const out = await runAndCheckShapes(graph, feeds);
  expect(out.y.shape).toEqual(expected.shape);
  expectClose(out.y, expected.data);
}

describe('Conv float32 against the JS reference', () => {
  it.each(CONV_CASES.map((c, seed) => ({ ...c, seed })))('$name', ({ seed, ...c }) => expectMatchesReference(buildConv(c, seed)));

  it('keeps symbolic spatial dims where the window maps them onto themselves', async () => {
    const random = seededRandom(7);
    const w = randomArray(random, [4, 3, 3, 3], 'float32', initScale(27));
    const g = new Graph('conv');
    const x = g.input('x', 'float32', ['B', 3, 'H', 'W']);
    const same = conv2d(g, x, ...weights(g, w, undefined), { pads: [1, 1, 1, 1] });
    const strided = conv2d(g, same, g.initializer('w2', Tensor.fromNumbers('float32', [2, 4, 1, 1], [1, 0, 0, 0, 0, 0, 0, 1])), undefined, { strides: [2, 2] });
    expect(same.shape).toEqual(['B', 4, 'H', 'W']);
    // A strided window gives a size only the run knows: fresh dims, written without a value.
    expect(strided.shape.slice(0, 2)).toEqual(['B', 2]);
    expect(strided.shape.slice(2).every((d) => typeof d === 'string' && d.startsWith('?'))).toBe(true);
    g.output('y', same);
    g.output('z', strided);
    const xs = randomArray(random, [2, 3, 5, 6], 'float32');
    const out = await runGraph(g, { x: Tensor.fromNumbers('float32', xs.shape, xs.data) });
    expect(out.y.shape).toEqual([2, 4, 5, 6]);
    expect(out.z.shape).toEqual([2, 2, 3, 3]);
    expectClose(out.y, conv2dRef(xs, w, undefined, { pads: [1, 1, 1, 1] }).data);
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
  { name: 'stride 1, no pads', x: [2, 3, 4, 4], w: [3, 2, 3, 3], options: {} },
  {
    name: 'stride 2, pads 1, output_padding 1, bias',
    x: [2, 3, 4, 5],
    w: [3, 2, 3, 3],
    bias: true,
    options: { strides: [2, 2], pads: [1, 1, 1, 1], outputPadding: [1, 1] },
  },
  {
    name: 'group 2, dilation 2, strides [2,1], output_padding [1,0]',
    x: [1, 4, 3, 3],
    w: [4, 3, 2, 2],
    bias: true,
    options: { group: 2, dilations: [2, 2], strides: [2, 1], outputPadding: [1, 0], pads: [0, 1, 2, 0] },
  },
];

function buildConvTranspose({ x: xShape, w: wShape, bias, options }: ConvTransposeCase, seed: number): Built {
  const random = seededRandom(200 + seed);
  const group = options.group ?? 1;
  const x = randomArray(random, xShape, 'float32');
  const w = randomArray(random, wShape, 'float32', initScale((wShape[0] / group) * wShape[2] * wShape[3]));
  const b = bias ? randn(random, wShape[1] * group).map(Math.fround) : undefined;
  const graph = new Graph('convT');
  graph.output('y', convTranspose2d(graph, graph.input('x', 'float32', ['B', ...xShape.slice(1)]), ...weights(graph, w, b), options));
  const expected = convTranspose2dRef(x, w, b, options, options.outputPadding, group);
  return { graph, feeds: { x: Tensor.fromNumbers('float32', x.shape, x.data) }, expected };
}

describe('ConvTranspose float32 against the JS reference', () => {
  it.each(CONV_TRANSPOSE_CASES.map((c, seed) => ({ ...c, seed })))('$name', ({ seed, ...c }) =>
    expectMatchesReference(buildConvTranspose(c, seed)),
  );
});

it('every case above passes onnx 1.12 (checker + strict shape inference against our value_info)', () => {
  const built = [...CONV_CASES.map(buildConv), ...CONV_TRANSPOSE_CASES.map(buildConvTranspose)];
  expectOnnxValid(built.map((b) => serializeModel(b.graph)));
});

describe('float64 kernels (docs/DESIGN.md §7)', () => {
  // Documents why ConvOp and ConvTransposeOp say float64Kernel: false; fails once onnxruntime adds the kernels.
  it.each([
    ['Conv', ConvOp, conv2d],
    ['ConvTranspose', ConvTransposeOp, convTranspose2d],
  ] as const)('onnxruntime-node has no float64 %s kernel', async (opType, op, emit) => {
    expect(op.float64Kernel).toBe(false);
    const g = new Graph('conv64');
    const x = g.input('x', 'float64', [1, 2, 4, 4]);
    g.output('y', emit(g, x, g.initializer('w', Tensor.zeros('float64', [2, 2, 3, 3]))));
    await expect(runGraph(g, { x: Tensor.zeros('float64', [1, 2, 4, 4]) })).rejects.toThrow(
      new RegExp(`Could not find an implementation for ${opType}\\(`),
    );
  });
});

describe('Conv build-time errors', () => {
  /** Build conv2d on x [B, ...xShape] and a zero W of `wShape` (with a bias of `biasLength`). */
  function build(xShape: (number | string)[], wShape: number[], options: ConvOptions = {}, biasLength?: number) {
    const g = new Graph('bad');
    const x = g.input('x', 'float32', ['B', ...xShape]);
    const w = g.initializer('w', Tensor.zeros('float32', wShape));
    const b = biasLength === undefined ? undefined : g.initializer('b', Tensor.zeros('float32', [biasLength]));
    return () => g.scope('stem', () => conv2d(g, x, w, b, options));
  }

  it('names X and W channels that do not match', () => {
    expect(build([3, 8, 8], [4, 2, 3, 3])).toThrow(ShapeError);
    expect(build([3, 8, 8], [4, 2, 3, 3])).toThrow(
      /Conv 'stem\/Conv_0': X has 3 channels but W expects 2 per group x group 1 = 2 \(inputs: float32\[B,3,8,8\], float32\[4,2,3,3\], -\)/,
    );
  });

  it('accounts for the group when matching channels', () => {
    expect(build([4, 8, 8], [4, 4, 3, 3], { group: 2 })).toThrow(/X has 4 channels but W expects 4 per group x group 2 = 8/);
  });

  it('rejects a group that does not divide the input or output channels', () => {
    expect(build([3, 8, 8], [4, 1, 3, 3], { group: 2 })).toThrow(/Conv '.*': group 2 does not divide the 3 input channels.*\[B,3,8,8\]/);
    expect(build([4, 8, 8], [3, 2, 3, 3], { group: 2 })).toThrow(/group 2 does not divide the 3 output channels of W.*\[3,2,3,3\]/);
  });

  it('rejects a kernel larger than the padded input', () => {
    expect(build([1, 4, 4], [1, 1, 5, 5])).toThrow(/spatial axis 0: the kernel \(size 5, dilation 1, extent 5\) is larger than the padded input 4\+0\+0 = 4.*\[B,1,4,4\]/);
    expect(build([1, 5, 5], [1, 1, 3, 3], { dilations: [3, 3], pads: [0, 0, 1, 1] })).toThrow(/extent 7\) is larger than the padded input 5\+0\+1 = 6/);
  });

  it('rejects wrong ranks', () => {
    expect(build([784], [4, 1, 3, 3])).toThrow(/conv2d: expects a rank-4 \[N,C,H,W\] input, got x: float32\[B,784\]/);
    const g = new Graph('rank');
    const x = g.input('x', 'float32', ['B', 3, 16]);
    const w = g.initializer('w', Tensor.zeros('float32', [4, 3, 3, 3]));
    expect(() => g.node(ConvOp, [x, w])).toThrow(/Conv 'Conv_0': W must be \[M,C\/group,k...\] with X's rank 3, got rank 4 \(inputs: float32\[B,3,16\], float32\[4,3,3,3\]\)/);
  });

  it('rejects a bias whose length is not the output channels', () => {
    expect(build([3, 8, 8], [4, 3, 3, 3], {}, 5)).toThrow(/bias B must be \[4\] \(one entry per output channel\), got \[5\].*float32\[5\]/);
  });

  it('rejects geometry lists of the wrong length and autoPad on symbolic dims', () => {
    expect(build([3, 8, 8], [4, 3, 3, 3], { strides: [2] })).toThrow(/strides \[2\] has 1 entries; 2 spatial axes need 2/);
    expect(build([3, 'H', 8], [4, 3, 3, 3], { autoPad: 'SAME_UPPER' })).toThrow(/conv2d: autoPad SAME_UPPER needs static spatial dims.*\[B,3,H,8\]/);
    expect(build([3, 8, 8], [4, 3, 3, 3], { autoPad: 'VALID', pads: [1, 1, 1, 1] })).toThrow(/give pads or autoPad, not both/);
  });

  it('rejects auto_pad other than NOTSET on a node (emitters resolve it to pads)', () => {
    const g = new Graph('autopad');
    const x = g.input('x', 'float32', ['B', 3, 8, 8]);
    const w = g.initializer('w', Tensor.zeros('float32', [4, 3, 3, 3]));
    expect(() => g.node(ConvOp, [x, w], { auto_pad: 'SAME_UPPER' })).toThrow(/auto_pad SAME_UPPER is not supported on a node/);
  });

  it('rejects mixed dtypes', () => {
    const g = new Graph('dtype');
    const x = g.input('x', 'float32', ['B', 3, 8, 8]);
    const w = g.initializer('w', Tensor.zeros('float64', [4, 3, 3, 3]));
    expect(() => conv2d(g, x, w)).toThrow(/Conv 'Conv_0': input 1 has dtype float64, expected float32/);
  });
});

describe('ConvTranspose build-time errors', () => {
  function build(xShape: number[], wShape: number[], options: ConvTransposeOptions = {}, biasLength?: number) {
    const g = new Graph('bad');
    const x = g.input('x', 'float32', ['B', ...xShape]);
    const w = g.initializer('w', Tensor.zeros('float32', wShape));
    const b = biasLength === undefined ? undefined : g.initializer('b', Tensor.zeros('float32', [biasLength]));
    return () => convTranspose2d(g, x, w, b, options);
  }

  it('names X channels that differ from W dim 0', () => {
    expect(build([3, 4, 4], [4, 2, 3, 3])).toThrow(
      /ConvTranspose 'ConvTranspose_0': X has 3 channels but W \(layout \[C,M\/group,k...\]\) has 4 in dim 0 \(inputs: float32\[B,3,4,4\], float32\[4,2,3,3\], -\)/,
    );
  });

  it('rejects a group that does not divide the channels', () => {
    expect(build([3, 4, 4], [3, 2, 3, 3], { group: 2 })).toThrow(/group 2 does not divide the 3 input channels/);
  });

  it('rejects a bias whose length is not the output channels (W dim 1 x group)', () => {
    expect(build([4, 4, 4], [4, 3, 3, 3], { group: 2 }, 3)).toThrow(/bias B must be \[6\].*got \[3\]/);
  });

  it('rejects output_padding of stride or more, as onnxruntime does at run time', () => {
    expect(build([3, 4, 4], [3, 2, 3, 3], { strides: [2, 2], outputPadding: [2, 0] })).toThrow(
      /output_padding 2 on spatial axis 0 must be in \[0, stride\) = \[0, 2\)/,
    );
    expect(build([3, 4, 4], [3, 2, 3, 3], { dilations: [2, 2], outputPadding: [0, 1] })).toThrow(/output_padding 1 on spatial axis 1/);
  });

  it('rejects pads that crop the whole output', () => {
    expect(build([3, 1, 4], [3, 2, 2, 2], { pads: [1, 0, 1, 0] })).toThrow(/spatial axis 0: pads 1\+1 remove the whole output/);
  });
});

describe('windowFromAttrs (how VJP rules read a node geometry)', () => {
  it('reads what the emitter wrote, and ONNX defaults where a node has none', () => {
    const g = new Graph('geometry');
    const x = g.input('x', 'float32', ['B', 2, 9, 9]);
    const w = g.initializer('w', Tensor.zeros('float32', [4, 2, 3, 3]));
    const emitted = conv2d(g, x, w, undefined, { strides: [2, 1], autoPad: 'SAME_LOWER' });
    const bare = g.node(ConvOp, [x, w])[0];
    const read = (v: Value) => {
      const node = v.source.kind === 'node' ? v.source.node : expect.fail('not a node output');
      return windowFromAttrs((name) => node.attr(name), [3, 3]);
    };
    // SAME_LOWER, H 9 stride 2: out 5, 2 pad rows split 1/1; W 9 stride 1: 2 pad columns split 1/1.
    expect(read(emitted)).toEqual({ kernel: [3, 3], strides: [2, 1], dilations: [1, 1], pads: [1, 1, 1, 1] });
    expect(emitted.shape).toEqual(['B', 4, 5, 9]);
    expect(read(bare)).toEqual({ kernel: [3, 3], strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0] });
  });
});
