import { describe, expect, it } from 'vitest';
import { Graph, Tensor, type Value } from '../../src/ir/index.js';
import {
  averagePool2d,
  AveragePoolOp,
  globalAveragePool,
  GlobalAveragePoolOp,
  maxPool2d,
  MaxPoolOp,
  type AveragePoolOptions,
  type MaxPoolOptions,
} from '../../src/ops/index.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { expectClose, runAndCheckShapes } from '../helpers/assert.js';
import {
  averagePool2dRef,
  globalAveragePoolRef,
  maxPool2dRef,
  randomArray,
  type NdArray,
  type PoolGeometry,
} from '../helpers/conv-reference.js';
import { expectOnnxValid } from '../helpers/onnx-checker.js';
import { runGraph } from '../helpers/ort.js';
import { seededRandom } from '../helpers/rng.js';

/** The reference's geometry for emitter options. */
const geometry = (o: MaxPoolOptions | AveragePoolOptions): PoolGeometry => ({
  kernel: o.kernelShape,
  strides: o.strides,
  pads: o.pads,
  dilations: 'dilations' in o ? o.dilations : undefined,
  ceilMode: o.ceilMode,
});

type Float = 'float32' | 'float64';

/** A pool graph on a random x [B,...], its feed and the reference output. */
interface Built {
  graph: Graph;
  feeds: Record<string, Tensor>;
  expected: NdArray;
}

function build(dtype: Float, xShape: number[], seed: number, emit: (g: Graph, x: Value) => Value, reference: (x: NdArray) => NdArray): Built {
  const x = randomArray(seededRandom(seed), xShape, dtype);
  const graph = new Graph('pool');
  graph.output('y', emit(graph, graph.input('x', dtype, ['B', ...xShape.slice(1)])));
  return { graph, feeds: { x: Tensor.fromNumbers(dtype, x.shape, x.data) }, expected: reference(x) };
}

async function expectMatchesReference({ graph, feeds, expected }: Built): Promise<void> {
  const out = await runAndCheckShapes(graph, feeds);
  expect(out.y.shape).toEqual(expected.shape);
  expectClose(out.y, expected.data);
}

interface PoolCase<O> {
  name: string;
  x: number[];
  options: O;
}

const MAX_CASES: PoolCase<MaxPoolOptions>[] = [
  { name: '2x2 stride 2', x: [2, 3, 8, 8], options: { kernelShape: [2, 2], strides: [2, 2] } },
  { name: '3x3 stride 2 pads 1 (ResNet stem)', x: [2, 2, 9, 8], options: { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] } },
  { name: 'asymmetric pads, stride 1', x: [1, 2, 5, 6], options: { kernelShape: [3, 2], pads: [2, 1, 0, 0] } },
  { name: 'dilation 2', x: [1, 2, 9, 9], options: { kernelShape: [3, 3], dilations: [2, 2], strides: [2, 1] } },
  // 7 rows, k 2, s 2: floor mode gives 3 windows, ceil mode a 4th over the last row.
  { name: 'ceil_mode without pads', x: [1, 2, 7, 7], options: { kernelShape: [2, 2], strides: [2, 2], ceilMode: true } },
  { name: 'ceil_mode with pads', x: [2, 2, 6, 6], options: { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceilMode: true } },
  { name: 'autoPad SAME_UPPER', x: [1, 2, 7, 8], options: { kernelShape: [3, 3], strides: [2, 2], autoPad: 'SAME_UPPER' } },
];

function buildMaxPool(dtype: Float, { x, options }: PoolCase<MaxPoolOptions>, seed: number): Built {
  // SAME_UPPER on 7x8 with stride 2: one pad row on each side, one pad column at the end.
  const pads = options.autoPad === 'SAME_UPPER' ? [1, 0, 1, 1] : options.pads;
  return build(dtype, x, 300 + seed, (g, xv) => maxPool2d(g, xv, options), (xs) => maxPool2dRef(xs, { ...geometry(options), pads }));
}

describe.each<Float>(['float32', 'float64'])('MaxPool %s against the JS reference', (dtype) => {
  it.each(MAX_CASES.map((c, seed) => ({ ...c, seed })))('$name', ({ seed, ...c }) => expectMatchesReference(buildMaxPool(dtype, c, seed)));
});

const AVERAGE_CASES: PoolCase<AveragePoolOptions>[] = [
  { name: '2x2 stride 2', x: [2, 3, 6, 6], options: { kernelShape: [2, 2], strides: [2, 2] } },
  ...[false, true].flatMap((countIncludePad) => [
    {
      name: `3x3 stride 2 pads 1, count_include_pad ${Number(countIncludePad)}`,
      x: [2, 3, 7, 7],
      options: { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], countIncludePad },
    },
    {
      name: `asymmetric pads, count_include_pad ${Number(countIncludePad)}`,
      x: [1, 2, 5, 6],
      options: { kernelShape: [3, 2], pads: [2, 1, 0, 0], countIncludePad },
    },
    // The last window runs past the end padding: its divisor stops at the padded edge.
    {
      name: `ceil_mode with pads, count_include_pad ${Number(countIncludePad)}`,
      x: [2, 2, 6, 6],
      options: { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceilMode: true, countIncludePad },
    },
  ]),
];

function buildAveragePool({ x, options }: PoolCase<AveragePoolOptions>, seed: number): Built {
  const reference = (xs: NdArray) => averagePool2dRef(xs, geometry(options), options.countIncludePad ?? false);
  return build('float32', x, 400 + seed, (g, xv) => averagePool2d(g, xv, options), reference);
}

const buildGlobalAveragePool = () => build('float32', [2, 4, 5, 6], 9, globalAveragePool, globalAveragePoolRef);

it('every case passes onnx 1.12 (checker + strict shape inference against our value_info)', () => {
  const built = [
    ...MAX_CASES.map((c, seed) => buildMaxPool('float32', c, seed)),
    ...AVERAGE_CASES.map(buildAveragePool),
    buildGlobalAveragePool(),
  ];
  expectOnnxValid(built.map((b) => serializeModel(b.graph)));
});

describe('AveragePool float32 against the JS reference', () => {
  it.each(AVERAGE_CASES.map((c, seed) => ({ ...c, seed })))('$name', ({ seed, ...c }) => expectMatchesReference(buildAveragePool(c, seed)));

  it('count_include_pad changes the border cells only', async () => {
    const options = { kernelShape: [3, 3], pads: [1, 1, 1, 1] };
    const run = async (countIncludePad: boolean) => {
      const { graph, feeds } = build('float32', [1, 1, 4, 4], 7, (g, x) => averagePool2d(g, x, { ...options, countIncludePad }), (x) => x);
      return (await runAndCheckShapes(graph, feeds)).y.toNumbers();
    };
    const [a, b] = [await run(false), await run(true)];
    // Corner: 4 real cells of 9; inner cell (1,1): all 9 real.
    expect(b[0]).toBeCloseTo((a[0] * 4) / 9, 6);
    expect(b[5]).toBeCloseTo(a[5], 6);
  });
});

describe('GlobalAveragePool', () => {
  it('averages each plane into [B,C,1,1]', async () => {
    const built = buildGlobalAveragePool();
    expect(built.graph.outputs[0].shape).toEqual(['B', 4, 1, 1]);
    await expectMatchesReference(built);
  });

  it('keeps symbolic spatial dims out of the output', () => {
    const g = new Graph('gap');
    expect(globalAveragePool(g, g.input('x', 'float32', ['B', 8, 'H', 'W'])).shape).toEqual(['B', 8, 1, 1]);
  });
});

describe('pool shape rules on symbolic dims', () => {
  it('keep a symbol through a stride-1 window whose pads fill the kernel', async () => {
    const g = new Graph('sym');
    const x = g.input('x', 'float32', ['B', 2, 'H', 'W']);
    const y = maxPool2d(g, x, { kernelShape: [3, 3], pads: [1, 1, 1, 1] });
    const z = averagePool2d(g, x, { kernelShape: [2, 2], strides: [2, 2] });
    expect(y.shape).toEqual(['B', 2, 'H', 'W']);
    expect(z.shape.slice(2).every((d) => typeof d === 'string' && d.startsWith('?'))).toBe(true);
    g.output('y', y);
    g.output('z', z);
    const out = await runGraph(g, { x: Tensor.zeros('float32', [3, 2, 5, 7]) });
    expect(out.y.shape).toEqual([3, 2, 5, 7]);
    expect(out.z.shape).toEqual([3, 2, 2, 3]);
  });
});

describe('float64 kernels (docs/DESIGN.md §7)', () => {
  // Documents why these OpDefs say float64Kernel: false; fails once onnxruntime adds the kernels.
  it.each([
    ['AveragePool', AveragePoolOp, (g: Graph, x: Value) => averagePool2d(g, x, { kernelShape: [2, 2] })],
    ['GlobalAveragePool', GlobalAveragePoolOp, globalAveragePool],
  ] as const)('onnxruntime-node has no float64 %s kernel', async (opType, op, emit) => {
    expect(op.float64Kernel).toBe(false);
    const g = new Graph('pool64');
    g.output('y', emit(g, g.input('x', 'float64', [1, 2, 4, 4])));
    await expect(runGraph(g, { x: Tensor.zeros('float64', [1, 2, 4, 4]) })).rejects.toThrow(
      new RegExp(`Could not find an implementation for ${opType}\\(`),
    );
  });

  it('MaxPool has one (tested above), so its OpDef does not say otherwise', () => {
    expect(MaxPoolOp.float64Kernel).not.toBe(false);
  });
});

describe('pool build-time errors', () => {
  const input = (shape: (number | string)[]) => {
    const g = new Graph('bad');
    return { g, x: g.input('x', 'float32', shape) };
  };

  it('rejects pads as large as the kernel (onnxruntime refuses the session)', () => {
    const { g, x } = input(['B', 2, 6, 6]);
    expect(() => maxPool2d(g, x, { kernelShape: [2, 2], pads: [0, 2, 0, 0] })).toThrow(
      /MaxPool 'MaxPool_0': pads 2\+0 on spatial axis 1 must each be smaller than the kernel size 2 \(inputs: float32\[B,2,6,6\]\)/,
    );
  });

  it('rejects a kernel larger than the padded input', () => {
    const { g, x } = input(['B', 2, 3, 6]);
    expect(() => averagePool2d(g, x, { kernelShape: [5, 2], pads: [1, 0, 0, 0] })).toThrow(
      /AveragePool 'AveragePool_0': spatial axis 0: the kernel \(size 5, dilation 1, extent 5\) is larger than the padded input 3\+1\+0 = 4 \(inputs: float32\[B,2,3,6\]\)/,
    );
  });

  it('rejects a ceil_mode window that would start in the end padding', () => {
    // 5 rows + pads 1+1, k 2, s 2: ONNX's formula gives 4 windows; the 4th would start at padded row 6.
    const { g, x } = input(['B', 1, 5, 5]);
    expect(() => maxPool2d(g, x, { kernelShape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], ceilMode: true })).toThrow(
      /MaxPool 'MaxPool_0': spatial axis 0: with ceil_mode the last window would start in the end padding \(ONNX shape inference gives 4, onnxruntime computes 3\).*\[B,1,5,5\]/,
    );
  });

  it('rejects wrong ranks', () => {
    const { g, x } = input(['B', 16]);
    expect(() => maxPool2d(g, x, { kernelShape: [2, 2] })).toThrow(/maxPool2d: expects a rank-4 \[N,C,H,W\] input, got x: float32\[B,16\]/);
    expect(() => globalAveragePool(g, x)).toThrow(/GlobalAveragePool '.*': X must be \[N,C,spatial...\] \(rank >= 3\), got rank 2 \(inputs: float32\[B,16\]\)/);
    const { g: g3, x: x3 } = input(['B', 2, 8]);
    expect(() => g3.node(MaxPoolOp, [x3], { kernel_shape: [2, 2] })).toThrow(/kernel_shape \[2,2\] has 2 entries; 1 spatial axes need 1/);
  });

  it('requires kernel_shape on a node', () => {
    const { g, x } = input(['B', 2, 8, 8]);
    expect(() => g.node(AveragePoolOp, [x])).toThrow(/AveragePool 'AveragePool_0': missing attribute 'kernel_shape'/);
  });
});
