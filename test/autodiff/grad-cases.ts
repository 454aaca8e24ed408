// The gradient table: every registered op type maps to finite-difference cases for its
// VJP rule (one per attribute variant that takes another path through the rule), to a
// stated reason why it has no gradient, or to the lowering that differentiates it.
// test/autodiff/op-gradients.test.ts runs it and fails for an op the table leaves out;
// tools/op-coverage.ts reads it for the coverage report.
import { Tensor } from '../../src/ir/index.js';
import {
  abs,
  add,
  averagePool2d,
  batchNorm,
  cast,
  concat,
  conv2d,
  ConvOp,
  convTranspose2d,
  div,
  exp,
  expand,
  flatten,
  gather,
  gatherElements,
  gemm,
  globalAveragePool,
  greater,
  identity,
  ifThenElse,
  instanceNorm,
  leakyRelu,
  log,
  logSoftmax,
  matmul,
  maxPool2d,
  mul,
  neg,
  pow,
  reduceMax,
  reduceMean,
  reduceSum,
  relu,
  reshape,
  scatterElements,
  scatterRows,
  shapeOf,
  sigmoid,
  slice,
  SliceOp,
  softmax,
  sqrt,
  squeeze,
  sub,
  tanh,
  transpose,
  unsqueeze,
  where,
} from '../../src/ops/index.js';
import type { GradCase } from '../helpers/gradcheck.js';

/** How the table covers one op. */
export type GradEntry =
  | { kind: 'cases'; cases: GradCase[] }
  | { kind: 'none'; reason: string }
  | { kind: 'lowered'; reason: string; testedIn: string };

type Spec = Omit<GradCase, 'op'>;
type Row = Spec[] | { none: string } | { lowered: string; testedIn: string };

const int64 = (shape: number[], values: number[]) => Tensor.fromNumbers('int64', shape, values);
const bool = (value: boolean) => ({ fixed: Tensor.fromNumbers('bool', [], [value ? 1 : 0]) });

// onnxruntime has no float64 kernel for these (docs/DESIGN.md §7), so their checks run in float32.
// Conv and ConvTranspose are bilinear in (X, W) and affine in B, and the pools are linear in X,
// so the central difference has no truncation error at any step: what is left is float32
// rounding in the loss, about 2^-24·Σ|terms| / (2·eps), a relative 1e-5..1e-4 at eps = 1e-2.
// rtol 1e-3 leaves a tenfold margin over that and still fails for any wrong entry of a rule.
const F32 = { dtype: 'float32', eps: 1e-2, rtol: 1e-3 } as const;

/** Running statistics of BatchNormalization: fixed inputs, variances kept positive. */
const bnStats = (channels: number) => [
  { fixed: Tensor.fromNumbers('float64', [channels], Array.from({ length: channels }, (_, i) => 0.3 * i - 0.2)) },
  { fixed: Tensor.fromNumbers('float64', [channels], Array.from({ length: channels }, (_, i) => 0.5 + 0.25 * i)) },
];

const ROWS: Record<string, Row> = {
  Abs: [{ inputs: [{ shape: [3, 4] }], build: (g, [x]) => abs(g, x) }],
  Add: [
    { label: 'broadcast [3,4] + [4]', inputs: [{ shape: [3, 4] }, { shape: [4] }], build: (g, [a, b]) => add(g, a, b) },
    { label: 'both sides broadcast [2,1,4] + [3,1]', inputs: [{ shape: [2, 1, 4] }, { shape: [3, 1] }], build: (g, [a, b]) => add(g, a, b) },
    { label: 'symbolic batch', inputs: [{ shape: [2, 4], dims: ['B', 4] }, { shape: [1, 4] }], build: (g, [a, b]) => add(g, a, b) },
  ],
  And: { none: 'bool logic: no float operand carries a gradient' },
  AveragePool: [
    { ...F32, label: '3x3 stride 2 pads 1, count_include_pad 0', inputs: [{ shape: [2, 3, 7, 8] }], build: (g, [x]) => averagePool2d(g, x, { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }) },
    { ...F32, label: 'count_include_pad 1, ceil_mode', inputs: [{ shape: [2, 2, 6, 6] }], build: (g, [x]) => averagePool2d(g, x, { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceilMode: true, countIncludePad: true }) },
    { ...F32, label: 'asymmetric pads, overlapping windows', inputs: [{ shape: [1, 2, 5, 6] }], build: (g, [x]) => averagePool2d(g, x, { kernelShape: [3, 2], pads: [2, 1, 0, 1] }) },
  ],
  BatchNormalization: [
    {
      label: 'NCHW, in X, scale and B',
      inputs: [{ shape: [3, 4, 2, 3] }, { shape: [4] }, { shape: [4] }, ...bnStats(4)],
      build: (g, [x, scale, bias, mean, variance]) => batchNorm(g, x, { scale, bias, mean, variance }, { epsilon: 1e-3 }),
    },
    {
      label: '[N,C], symbolic batch',
      inputs: [{ shape: [5, 3], dims: ['B', 3] }, { shape: [3] }, { shape: [3] }, ...bnStats(3)],
      build: (g, [x, scale, bias, mean, variance]) => batchNorm(g, x, { scale, bias, mean, variance }),
    },
  ],
  // float32 in the middle: eps = 1e-2 keeps float32's rounding of x ± eps·v (~6e-8 relative)
  // a small part of the difference quotient; the map is the identity, so nothing else is lost.
  Cast: [{ label: 'float64 -> float32 -> float64', eps: 1e-2, rtol: 1e-4, inputs: [{ shape: [3, 4] }], build: (g, [x]) => cast(g, cast(g, x, 'float32'), 'float64') }],
  Concat: [
    { label: 'three inputs along axis 1', inputs: [{ shape: [2, 3] }, { shape: [2, 1] }, { shape: [2, 2] }], build: (g, [a, b, c]) => concat(g, [a, b, c], 1) },
    { label: 'negative axis, one input is a constant', inputs: [{ shape: [2, 3] }, { fixed: Tensor.fromNumbers('float64', [2, 1], [1, 2]) }], build: (g, [a, b]) => concat(g, [b, a], -1) },
    {
      label: 'symbolic sizes on the axis (offsets read at run time)',
      inputs: [{ shape: [2, 3], dims: ['B', 3] }, { shape: [1, 3] }, { shape: [3, 3], dims: ['C', 3] }],
      build: (g, [a, b, c]) => concat(g, [a, b, c], 0),
    },
  ],
  Constant: { none: 'a literal: it has no inputs' },
  ConstantOfShape: { none: 'its only input is an int64 shape' },
  Conv: [
    { ...F32, label: 'stride 2, asymmetric pads, bias', inputs: [{ shape: [2, 3, 7, 8] }, { shape: [4, 3, 3, 3], scale: 0.3 }, { shape: [4] }], build: (g, [x, w, b]) => conv2d(g, x, w, b, { strides: [2, 2], pads: [1, 0, 0, 1] }) },
    { ...F32, label: 'dilation 2, pads 2, strides [1,2]', inputs: [{ shape: [2, 2, 9, 9] }, { shape: [3, 2, 3, 3], scale: 0.3 }], build: (g, [x, w]) => conv2d(g, x, w, undefined, { dilations: [2, 2], pads: [2, 2, 2, 2], strides: [1, 2] }) },
    { ...F32, label: 'group 2, stride [2,1], bias', inputs: [{ shape: [2, 4, 6, 7] }, { shape: [6, 2, 3, 3], scale: 0.3 }, { shape: [6] }], build: (g, [x, w, b]) => conv2d(g, x, w, b, { group: 2, strides: [2, 1], pads: [1, 1, 1, 1] }) },
    { ...F32, label: 'depthwise', inputs: [{ shape: [2, 3, 7, 6] }, { shape: [6, 1, 3, 3], scale: 0.3 }], build: (g, [x, w]) => conv2d(g, x, w, undefined, { group: 3, strides: [2, 2], pads: [1, 1, 0, 0] }) },
    // Stride 1, one group, uneven pads and a dilation.
    { ...F32, label: 'stride 1, pads [1,0,2,1], dilation [1,2], bias', inputs: [{ shape: [2, 3, 6, 7] }, { shape: [4, 3, 3, 2], scale: 0.3 }, { shape: [4] }], build: (g, [x, w, b]) => conv2d(g, x, w, b, { pads: [1, 0, 2, 1], dilations: [1, 2] }) },
    // Pads wider than the kernel's reach: the input gradient crops the padding.
    { ...F32, label: 'stride 1, pads 3 on a 2x2 kernel', inputs: [{ shape: [1, 2, 4, 4] }, { shape: [2, 2, 2, 2], scale: 0.3 }], build: (g, [x, w]) => conv2d(g, x, w, undefined, { pads: [3, 3, 3, 3] }) },
    {
      ...F32,
      label: '1-d, grouped, stride 2',
      inputs: [{ shape: [2, 4, 8] }, { shape: [4, 2, 3], scale: 0.3 }],
      build: (g, [x, w]) => g.node(ConvOp, [x, w], { kernel_shape: [3], strides: [2], pads: [1, 0], dilations: [1], group: 2 })[0],
    },
  ],
  ConvTranspose: [
    { ...F32, label: 'stride 2, pads 1, output_padding 1, bias', inputs: [{ shape: [2, 3, 4, 5] }, { shape: [3, 2, 3, 3], scale: 0.3 }, { shape: [2] }], build: (g, [x, w, b]) => convTranspose2d(g, x, w, b, { strides: [2, 2], pads: [1, 1, 1, 1], outputPadding: [1, 1] }) },
    { ...F32, label: 'group 2, dilation [2,1], stride [1,2]', inputs: [{ shape: [1, 4, 3, 4] }, { shape: [4, 3, 2, 2], scale: 0.3 }], build: (g, [x, w]) => convTranspose2d(g, x, w, undefined, { group: 2, dilations: [2, 1], strides: [1, 2] }) },
    { ...F32, label: 'stride 3, output_padding [2,1], asymmetric pads', inputs: [{ shape: [2, 2, 3, 3] }, { shape: [2, 2, 2, 2], scale: 0.3 }, { shape: [2] }], build: (g, [x, w, b]) => convTranspose2d(g, x, w, b, { strides: [3, 3], outputPadding: [2, 1], pads: [1, 0, 0, 1] }) },
  ],
  Div: [
    { label: 'broadcast divisor', inputs: [{ shape: [3, 4] }, { shape: [4], positive: true }], build: (g, [a, b]) => div(g, a, b) },
    { label: 'broadcast dividend', inputs: [{ shape: [4] }, { shape: [3, 4], positive: true }], build: (g, [a, b]) => div(g, a, b) },
  ],
  Equal: { none: 'bool output: a step function, its derivative is zero almost everywhere' },
  Exp: [{ inputs: [{ shape: [3, 4] }], build: (g, [x]) => exp(g, x) }],
  Expand: [
    { label: '[3,1] -> [2,3,4]', inputs: [{ shape: [3, 1] }], build: (g, [x]) => expand(g, x, [2, 3, 4]) },
    { label: 'bidirectional: [3,4] with [2,1,1]', inputs: [{ shape: [3, 4] }], build: (g, [x]) => expand(g, x, [2, 1, 1]) },
    { label: 'to a run-time shape', inputs: [{ shape: [2, 1], dims: ['B', 1] }], build: (g, [x]) => expand(g, x, concat(g, [shapeOf(g, x, 0, 1), g.constant(int64([1], [5]))], 0)) },
  ],
  Flatten: [
    { label: 'axis 1', inputs: [{ shape: [2, 3, 4] }], build: (g, [x]) => flatten(g, x, 1) },
    { label: 'axis 0', inputs: [{ shape: [2, 3, 4] }], build: (g, [x]) => flatten(g, x, 0) },
    { label: 'axis 2, symbolic batch', inputs: [{ shape: [2, 3, 4], dims: ['B', 3, 4] }], build: (g, [x]) => flatten(g, x, 2) },
  ],
  Gather: [
    { label: 'axis 1, repeated and negative indices', inputs: [{ shape: [4, 5] }], build: (g, [x]) => gather(g, x, [0, 2, 2, -1], 1) },
    { label: 'scalar index, symbolic batch', inputs: [{ shape: [4, 5], dims: ['B', 5] }], build: (g, [x]) => gather(g, x, 1, 0) },
    { label: '2-d run-time indices on axis 1', inputs: [{ shape: [4, 5, 2] }, { fixed: int64([2, 2], [0, 4, -1, 4]), feed: true }], build: (g, [x, i]) => gather(g, x, i, 1) },
    { label: 'int32 indices, last axis', inputs: [{ shape: [3, 4] }], build: (g, [x]) => gather(g, x, g.constant(Tensor.fromNumbers('int32', [3], [3, 0, 3])), -1) },
  ],
  GatherElements: [
    { label: 'axis 1, repeats', inputs: [{ shape: [3, 4] }], build: (g, [x]) => gatherElements(g, x, g.constant(int64([3, 2], [0, 0, 3, 1, 2, -1])), 1) },
    { label: 'axis 0, fewer rows', inputs: [{ shape: [3, 4] }], build: (g, [x]) => gatherElements(g, x, g.constant(int64([2, 4], [2, 0, 1, 1, 0, 2, 2, 0])), 0) },
  ],
  Gemm: [false, true].flatMap((transA) =>
    [false, true].map((transB): Spec => ({
      label: `transA ${+transA}, transB ${+transB}, alpha 0.7, beta 1.3`,
      inputs: [{ shape: transA ? [4, 3] : [3, 4] }, { shape: transB ? [5, 4] : [4, 5] }, { shape: [5] }],
      build: (g, [a, b, c]) => gemm(g, a, b, c, { transA, transB, alpha: 0.7, beta: 1.3 }),
    })),
  ).concat([{ label: 'no C', inputs: [{ shape: [3, 4] }, { shape: [4, 2] }], build: (g, [a, b]) => gemm(g, a, b) }]),
  GlobalAveragePool: [{ ...F32, label: '5x4 cells', inputs: [{ shape: [2, 3, 5, 4] }], build: (g, [x]) => globalAveragePool(g, x) }],
  NonZero: { none: 'an integer output (coordinates): nothing flows back to the data' },
  Greater: { none: 'bool output: a step function, its derivative is zero almost everywhere' },
  Identity: [{ inputs: [{ shape: [3, 4] }], build: (g, [x]) => identity(g, x) }],
  If: [
    ...[true, false].map((taken): Spec => ({
      label: `cond ${taken}, two outputs, a capture each branch reads differently`,
      inputs: [{ shape: [3] }, { shape: [3] }, bool(taken)],
      build: (g, [x, w, cond]) => ifThenElse(g, cond, (b) => [tanh(b, mul(b, x, w)), x], (b) => [add(b, x, x), w]),
    })),
    {
      label: 'a capture only the untaken branch reads, a value computed outside, a reduction inside',
      inputs: [{ shape: [2, 3] }, { shape: [3] }, bool(true)],
      build: (g, [x, w, cond]) => {
        const h = tanh(g, x);
        return ifThenElse(g, cond, (b) => [reduceSum(b, mul(b, h, h), [1], false)], (b) => [reduceSum(b, mul(b, h, w), [1], false)]);
      },
    },
    {
      label: 'nested If',
      inputs: [{ shape: [3] }, { shape: [3] }, bool(false), bool(true)],
      build: (g, [x, w, outer, inner]) =>
        ifThenElse(g, outer, (b) => [sigmoid(b, x)], (b) => ifThenElse(b, inner, (c) => [mul(c, exp(c, x), w)], (c) => [w])),
    },
    {
      label: 'branches of different shapes',
      inputs: [{ shape: [4] }, bool(false)],
      build: (g, [x, cond]) => ifThenElse(g, cond, (b) => [slice(b, x, [1], [4])], (b) => [mul(b, x, x)]),
    },
  ],
  // No float64 kernel either, and not polynomial: at eps 1e-2 central differences also leave a
  // truncation error of order eps²·|f'''|, seen at 2e-6..1.1e-4 relative over three seeds each;
  // dropping the rule's x̂·mean(dY·x̂) term shows as 2e-2..1.4e-1. test/ops/norm.test.ts checks
  // the rule entry by entry in float64.
  InstanceNormalization: [
    { ...F32, label: 'NCHW, in input, scale and B', inputs: [{ shape: [2, 3, 4, 5] }, { shape: [3] }, { shape: [3] }], build: (g, [x, s, b]) => instanceNorm(g, x, s, b) },
    {
      ...F32,
      label: "[N,C,L] (GroupNorm's rows), symbolic batch, epsilon 0.5",
      inputs: [{ shape: [3, 2, 6], dims: ['B', 2, 6], scale: 2 }, { shape: [2] }, { shape: [2] }],
      build: (g, [x, s, b]) => instanceNorm(g, x, s, b, { epsilon: 0.5 }),
    },
  ],
  LeakyRelu: [
    { label: 'alpha 0.2', inputs: [{ shape: [3, 4] }], build: (g, [x]) => leakyRelu(g, x, 0.2) },
    { label: 'default alpha', inputs: [{ shape: [3, 4] }], build: (g, [x]) => leakyRelu(g, x) },
  ],
  Less: { none: 'bool output: a step function, its derivative is zero almost everywhere' },
  Log: [{ inputs: [{ shape: [3, 4], positive: true }], build: (g, [x]) => log(g, x) }],
  LogSoftmax: [
    { label: 'last axis', inputs: [{ shape: [3, 4] }], build: (g, [x]) => logSoftmax(g, x) },
    { label: 'axis 1 of 3', inputs: [{ shape: [2, 3, 4] }], build: (g, [x]) => logSoftmax(g, x, 1) },
  ],
  Loop: {
    lowered: 'differentiated by the fixed-point lowering (src/lower): its adjoint is another Loop, not a generic per-op rule',
    testedIn: 'test/lower/fixed-point.test.ts',
  },
  MatMul: [
    { label: 'batched @ matrix', inputs: [{ shape: [2, 3, 4] }, { shape: [4, 5] }], build: (g, [a, b]) => matmul(g, a, b) },
    { label: 'batch dims broadcast both ways', inputs: [{ shape: [2, 1, 3, 4] }, { shape: [3, 4, 2] }], build: (g, [a, b]) => matmul(g, a, b) },
    { label: '1-d A', inputs: [{ shape: [4] }, { shape: [2, 4, 5] }], build: (g, [a, b]) => matmul(g, a, b) },
    { label: '1-d B', inputs: [{ shape: [2, 3, 4] }, { shape: [4] }], build: (g, [a, b]) => matmul(g, a, b) },
    { label: 'symbolic batch', inputs: [{ shape: [3, 4], dims: ['B', 4] }, { shape: [4, 2] }], build: (g, [a, b]) => matmul(g, a, b) },
  ],
  MaxPool: [
    { label: '3x3 stride 1 pads 1 (overlapping windows)', inputs: [{ shape: [2, 2, 5, 6] }], build: (g, [x]) => maxPool2d(g, x, { kernelShape: [3, 3], pads: [1, 1, 1, 1] }) },
    { label: 'dilation 2, strides [2,1]', inputs: [{ shape: [1, 2, 9, 8] }], build: (g, [x]) => maxPool2d(g, x, { kernelShape: [2, 3], dilations: [2, 2], strides: [2, 1] }) },
    { label: 'ceil_mode with pads', inputs: [{ shape: [2, 2, 6, 6] }], build: (g, [x]) => maxPool2d(g, x, { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceilMode: true }) },
  ],
  Mul: [
    { label: 'both sides broadcast', inputs: [{ shape: [3, 1] }, { shape: [2, 1, 4] }], build: (g, [a, b]) => mul(g, a, b) },
    { label: 'same operand twice', inputs: [{ shape: [3, 4] }], build: (g, [a]) => mul(g, a, a) },
  ],
  Neg: [{ inputs: [{ shape: [3, 4] }], build: (g, [x]) => neg(g, x) }],
  Not: { none: 'bool logic: no float operand carries a gradient' },
  Or: { none: 'bool logic: no float operand carries a gradient' },
  Pow: [
    { label: 'broadcast exponent', inputs: [{ shape: [3, 4], positive: true }, { shape: [4] }], build: (g, [a, b]) => pow(g, a, b) },
    { label: 'broadcast base', inputs: [{ shape: [4], positive: true }, { shape: [2, 4] }], build: (g, [a, b]) => pow(g, a, b) },
  ],
  ReduceMax: [
    { label: 'axis 1, keepdims 0', inputs: [{ shape: [3, 4] }], build: (g, [x]) => reduceMax(g, x, [1], false) },
    { label: 'all axes, keepdims 1', inputs: [{ shape: [3, 4] }], build: (g, [x]) => reduceMax(g, x, [], true) },
    { label: 'opset 18 (axes as input)', opset: 18, inputs: [{ shape: [2, 3, 4] }], build: (g, [x]) => reduceMax(g, x, [0, 2], false) },
  ],
  ReduceMean: [
    { label: 'axes [0,2], keepdims 0', inputs: [{ shape: [3, 4, 2] }], build: (g, [x]) => reduceMean(g, x, [0, 2], false) },
    { label: 'opset 18, keepdims 1', opset: 18, inputs: [{ shape: [3, 4, 2] }], build: (g, [x]) => reduceMean(g, x, [1], true) },
    { label: 'over a symbolic batch (count read at run time)', inputs: [{ shape: [3, 4], dims: ['B', 4] }], build: (g, [x]) => reduceMean(g, x, [0], false) },
  ],
  ReduceSum: [
    { label: 'all axes', inputs: [{ shape: [3, 4] }], build: (g, [x]) => reduceSum(g, x, [], false) },
    { label: 'negative axis, keepdims 1', inputs: [{ shape: [3, 4] }], build: (g, [x]) => reduceSum(g, x, [-1], true) },
    { label: 'axes [0,2], keepdims 0, symbolic batch', inputs: [{ shape: [2, 3, 4], dims: ['B', 3, 4] }], build: (g, [x]) => reduceSum(g, x, [0, 2], false) },
  ],
  Relu: [{ inputs: [{ shape: [3, 4] }], build: (g, [x]) => relu(g, x) }],
  Reshape: [
    { label: '0 and -1', inputs: [{ shape: [2, 3, 4] }], build: (g, [x]) => reshape(g, x, [0, -1]) },
    { label: 'to a higher rank', inputs: [{ shape: [6, 4] }], build: (g, [x]) => reshape(g, x, [2, 3, 2, 2]) },
    { label: 'symbolic batch (back through Shape)', inputs: [{ shape: [2, 3, 4], dims: ['B', 3, 4] }], build: (g, [x]) => reshape(g, x, [-1, 4]) },
  ],
  ScatterElements: [
    {
      label: 'reduction none: written cells lose data’s gradient',
      inputs: [{ shape: [3, 4] }, { shape: [2, 4] }],
      build: (g, [data, updates]) => scatterElements(g, data, g.constant(int64([2, 4], [0, 2, 1, 0, 2, 1, 0, 1])), updates, 0),
    },
    {
      label: 'reduction add, repeated indices, axis 1',
      inputs: [{ shape: [2, 3] }, { shape: [2, 4] }],
      build: (g, [data, updates]) => scatterElements(g, data, g.constant(int64([2, 4], [0, 0, 2, -1, 1, 1, 1, 0])), updates, 1, 'add'),
    },
  ],
  ScatterND: [
    {
      label: 'row form: rows 2 and 0 replaced',
      inputs: [{ shape: [3, 2, 2] }, { shape: [2, 2, 2] }],
      build: (g, [data, updates]) => scatterRows(g, data, g.constant(int64([2, 1], [2, 0])), updates),
    },
  ],
  Shape: { none: 'an integer output (the input’s shape): nothing flows back to the data' },
  Sigmoid: [{ inputs: [{ shape: [3, 4] }], build: (g, [x]) => sigmoid(g, x) }],
  Slice: [
    { label: 'two axes, negative start, end past the size', inputs: [{ shape: [5, 6] }], build: (g, [x]) => slice(g, x, [1, -4], [4, 100], [0, 1]) },
    { label: 'steps -2 and 2', inputs: [{ shape: [5, 6] }], build: (g, [x]) => slice(g, x, [4, 0], [0, 100], [0, 1], [-2, 2]) },
    { label: 'bounds clamped on both ends', inputs: [{ shape: [4, 3] }], build: (g, [x]) => slice(g, x, [-100], [100], [0]) },
    { label: 'axes omitted', inputs: [{ shape: [4, 3] }], build: (g, [x]) => g.node(SliceOp, [x, g.constant(int64([2], [1, 0])), g.constant(int64([2], [3, 2]))])[0] },
    { label: 'symbolic size on the sliced axis', inputs: [{ shape: [5, 6], dims: ['B', 6] }], build: (g, [x]) => slice(g, x, [1, -4], [-1, 100], [0, 1]) },
    {
      label: 'run-time bounds',
      inputs: [{ shape: [5, 6] }, { fixed: int64([1], [-3]), feed: true }, { fixed: int64([1], [5]), feed: true }],
      build: (g, [x, start, end]) => g.node(SliceOp, [x, start, end, g.constant(int64([1], [1]))])[0],
    },
  ],
  Softmax: [
    { label: 'axis 0', inputs: [{ shape: [3, 4] }], build: (g, [x]) => softmax(g, x, 0) },
    { label: 'last axis of 3', inputs: [{ shape: [2, 3, 4] }], build: (g, [x]) => softmax(g, x) },
  ],
  Sqrt: [{ inputs: [{ shape: [3, 4], positive: true }], build: (g, [x]) => sqrt(g, x) }],
  Squeeze: [
    { label: 'all size-1 dims', inputs: [{ shape: [4, 1, 5, 1] }], build: (g, [x]) => squeeze(g, x) },
    { label: 'negative axis', inputs: [{ shape: [4, 1, 5, 1] }], build: (g, [x]) => squeeze(g, x, [-1]) },
  ],
  Sub: [
    { label: 'broadcast subtrahend', inputs: [{ shape: [3, 4] }, { shape: [3, 1] }], build: (g, [a, b]) => sub(g, a, b) },
    { label: 'broadcast minuend', inputs: [{ shape: [4] }, { shape: [2, 4] }], build: (g, [a, b]) => sub(g, a, b) },
  ],
  Tanh: [{ inputs: [{ shape: [3, 4] }], build: (g, [x]) => tanh(g, x) }],
  Transpose: [
    { label: 'default perm (reversed)', inputs: [{ shape: [2, 3, 4] }], build: (g, [x]) => transpose(g, x) },
    { label: 'perm [1,2,0]', inputs: [{ shape: [2, 3, 4] }], build: (g, [x]) => transpose(g, x, [1, 2, 0]) },
  ],
  Unsqueeze: [{ label: 'axes [0,-1]', inputs: [{ shape: [4, 5] }], build: (g, [x]) => unsqueeze(g, x, [0, -1]) }],
  Where: [
    { label: 'mask from the operands, broadcasting', inputs: [{ shape: [3, 4] }, { shape: [4] }], build: (g, [a, b]) => where(g, greater(g, a, b), a, sub(g, b, a)) },
    { label: 'scalar branch', inputs: [{ shape: [3, 4] }, { shape: [] }], build: (g, [a, b]) => where(g, greater(g, a, g.constant(Tensor.scalar(0, 'float64'))), a, b) },
  ],
};

function toEntry(op: string, row: Row): GradEntry {
  if (Array.isArray(row)) return { kind: 'cases', cases: row.map((spec) => ({ op, ...spec })) };
  if ('none' in row) return { kind: 'none', reason: row.none };
  return { kind: 'lowered', reason: row.lowered, testedIn: row.testedIn };
}

/**
 * The table, by op type.
 *
 * @example const entry = GRAD_TABLE.get('Concat'); // { kind: 'cases', cases: [...] }
 */
export const GRAD_TABLE: ReadonlyMap<string, GradEntry> = new Map(Object.entries(ROWS).map(([op, row]) => [op, toEntry(op, row)]));
