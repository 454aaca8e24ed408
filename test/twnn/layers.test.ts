// Layer factories: parameter names and shapes, node scopes, argument
// validation, and dense stacks run through onnxruntime against a JS reference.
import { describe, expect, it } from 'vitest';
import { Graph, SpecError, Tensor, type DType } from '../../src/ir/index.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import {
  avgPool2d,
  basicBlock,
  batchNorm2d,
  bottleneck,
  BuildContext,
  conv2d,
  dense,
  flatten,
  globalAvgPool,
  init,
  leakyRelu,
  maxPool2d,
  relu,
  sequential,
  sigmoid,
  softmax,
  tanh,
  transposeWeight,
  type Module,
  type ParamMode,
} from '../../src/twnn/index.js';
import { denseRef, expectAllClose, randomTensor, runModel } from './support.js';

/** Build `net` on an input of `shape` in a fresh graph with `y` as its output. */
function build(net: Module, shape: (string | number)[], options: { dtype?: DType; mode?: ParamMode; seed?: number } = {}) {
  const dtype = options.dtype ?? 'float32';
  const graph = new Graph('t');
  const ctx = new BuildContext(graph, { dtype, seed: options.seed ?? 0, mode: options.mode ?? 'initializer' });
  const x = graph.input('x', dtype, shape);
  const y = net.build(ctx, x);
  graph.output('y', y);
  return { graph, ctx, y };
}

const names = (ctx: BuildContext) => ctx.params.map((p) => `${p.name}:[${p.shape.join(',')}]${p.trainable ? '' : ' buffer'}`);

describe('parameter and node names', () => {
  it('sequential scopes children 0, 1, ... like torch.nn.Sequential', () => {
    const { graph, ctx } = build(sequential(dense(4, 3), relu(), dense(3, 2, { bias: false })), ['B', 4]);
    expect(names(ctx)).toEqual(['0.weight:[3,4]', '0.bias:[3]', '2.weight:[2,3]']);
    expect(graph.nodes.map((n) => n.name)).toEqual(['0/Gemm_0', '1/Relu_1', '2/Gemm_2']);
    expect(graph.initializers.map((v) => v.name)).toEqual(['0.weight', '0.bias', '2.weight']);
  });

  it('basicBlock with a projection uses torchvision names', () => {
    const { ctx, y } = build(sequential({ B2: basicBlock(4, 8, { stride: 2 }) }), ['B', 4, 6, 6]);
    expect(y.shape).toEqual(['B', 8, 3, 3]);
    expect(names(ctx)).toEqual([
      'B2.conv1.weight:[8,4,3,3]',
      'B2.bn1.weight:[8]',
      'B2.bn1.bias:[8]',
      'B2.bn1.running_mean:[8] buffer',
      'B2.bn1.running_var:[8] buffer',
      'B2.conv2.weight:[8,8,3,3]',
      'B2.bn2.weight:[8]',
      'B2.bn2.bias:[8]',
      'B2.bn2.running_mean:[8] buffer',
      'B2.bn2.running_var:[8] buffer',
      'B2.downsample.0.weight:[8,4,1,1]',
      'B2.downsample.1.weight:[8]',
      'B2.downsample.1.bias:[8]',
      'B2.downsample.1.running_mean:[8] buffer',
      'B2.downsample.1.running_var:[8] buffer',
    ]);
  });

  it('an identity basicBlock has no downsample; a bottleneck expands its width', () => {
    const same = build(basicBlock(8, 8), ['B', 8, 5, 5]);
    expect(same.ctx.params.some((p) => p.name.startsWith('downsample'))).toBe(false);
    expect(same.graph.nodes.map((n) => n.opType).slice(-2)).toEqual(['Add', 'Relu']);
    const wide = build(bottleneck(16, 4), ['B', 16, 5, 5]);
    expect(wide.y.shape).toEqual(['B', 16, 5, 5]);
    expect(wide.ctx.params.some((p) => p.name.startsWith('downsample'))).toBe(false);
    const grown = build(bottleneck(8, 4, { expansion: 2, stride: 2 }), ['B', 8, 5, 5]);
    expect(grown.y.shape).toEqual(['B', 8, 3, 3]);
    expect(grown.ctx.params.find((p) => p.name === 'downsample.0.weight')?.shape).toEqual([8, 8, 1, 1]);
  });

  it('named sequential entries scope params and nodes', () => {
    const net = sequential({ stem: sequential({ conv: conv2d(1, 2, 3), bn: batchNorm2d(2) }), pool: globalAvgPool(), flat: flatten() });
    const { graph, ctx, y } = build(net, ['B', 1, 5, 5]);
    expect(y.shape).toEqual(['B', 2]);
    expect(ctx.params.map((p) => p.name)).toEqual([
      'stem.conv.weight',
      'stem.conv.bias',
      'stem.bn.weight',
      'stem.bn.bias',
      'stem.bn.running_mean',
      'stem.bn.running_var',
    ]);
    expect(graph.nodes.map((n) => n.name)).toEqual([
      'stem/conv/Conv_0',
      'stem/bn/BatchNormalization_1',
      'pool/GlobalAveragePool_2',
      'flat/Flatten_3',
    ]);
  });

  it("mode 'input' makes parameters graph inputs instead of initializers", () => {
    const { graph, ctx } = build(dense(3, 2), ['B', 3], { mode: 'input' });
    expect(graph.initializers).toEqual([]);
    expect(graph.inputs.map((v) => `${v.name}:${v.dtype}[${v.shape.join(',')}]`)).toEqual(['x:float32[B,3]', 'weight:float32[2,3]', 'bias:float32[2]']);
    expect(ctx.params[0].value.size).toBe(6);
  });

  it('a parameter declared twice is an error naming it', () => {
    const twice: Module = {
      kind: 'twice',
      build: (ctx, x) => {
        ctx.param('w', [1], init.zeros());
        ctx.param('w', [1], init.zeros());
        return x;
      },
    };
    expect(() => build(sequential({ block: twice }), ['B', 1])).toThrow(/parameter 'block.w' is declared twice/);
  });
});

describe('layer shapes', () => {
  it('pools default their stride to the kernel, like torch', () => {
    expect(build(maxPool2d(2), ['B', 3, 8, 8]).y.shape).toEqual(['B', 3, 4, 4]);
    expect(build(avgPool2d(3, { stride: 1, padding: 1 }), ['B', 3, 8, 8]).y.shape).toEqual(['B', 3, 8, 8]);
    expect(build(conv2d(3, 4, 3, { stride: 2, padding: 1, dilation: 1 }), ['B', 3, 8, 8]).y.shape).toEqual(['B', 4, 4, 4]);
  });

  it('activations keep the shape and emit their op', () => {
    for (const [m, op] of [
      [relu(), 'Relu'],
      [tanh(), 'Tanh'],
      [sigmoid(), 'Sigmoid'],
      [leakyRelu(0.3), 'LeakyRelu'],
      [softmax(), 'Softmax'],
    ] as const) {
      const { graph, y } = build(m, ['B', 5]);
      expect(y.shape).toEqual(['B', 5]);
      expect(graph.nodes[0].opType).toBe(op);
    }
  });
});

describe('dense stacks through onnxruntime', () => {
  it.each<DType>(['float32', 'float64'])('an MLP equals x·Wᵀ+b with tanh, computed from its params (%s)', async (dtype) => {
    const { graph, ctx } = build(sequential(dense(6, 5), tanh(), dense(5, 3), sigmoid(), dense(3, 2, { bias: false }), leakyRelu(0.1)), ['B', 6], {
      dtype,
      seed: 4,
    });
    const x = randomTensor(dtype, [4, 6], 1);
    const out = await runModel(serializeModel(graph), { x });
    const [w0, b0, w2, b2, w4] = ctx.params;
    let h = denseRef(x.toNumbers(), 4, w0, b0).map(Math.tanh);
    h = denseRef(h, 4, w2, b2).map((v) => 1 / (1 + Math.exp(-v)));
    // ONNX float attributes are float32: LeakyRelu's alpha is fround(0.1) even in a float64 graph.
    const alpha = Math.fround(0.1);
    const expected = denseRef(h, 4, w4).map((v) => (v >= 0 ? v : alpha * v));
    expect(out.y.shape).toEqual([4, 2]);
    if (dtype === 'float64') expectAllClose(out.y.toNumbers(), expected, 1e-12, 1e-14);
    else expectAllClose(out.y.toNumbers(), expected, 1e-5, 1e-6);
  });

  it('softmax rows sum to one and follow exp(z)/Σexp(z)', async () => {
    const { graph, ctx } = build(sequential(dense(3, 4), softmax()), ['B', 3], { dtype: 'float64' });
    const x = randomTensor('float64', [2, 3], 2);
    const out = await runModel(serializeModel(graph), { x });
    const z = denseRef(x.toNumbers(), 2, ctx.params[0], ctx.params[1]);
    const expected = [0, 1].flatMap((r) => {
      const row = z.slice(r * 4, r * 4 + 4);
      const sum = row.reduce((a, v) => a + Math.exp(v), 0);
      return row.map((v) => Math.exp(v) / sum);
    });
    expectAllClose(out.y.toNumbers(), expected, 1e-12, 1e-15);
  });

  it('transposeWeight converts an [in, out] kernel to the [out, in] layout', () => {
    const t = transposeWeight(Tensor.fromNumbers('float32', [2, 3], [1, 2, 3, 4, 5, 6]));
    expect(t.shape).toEqual([3, 2]);
    expect(t.toNumbers()).toEqual([1, 4, 2, 5, 3, 6]);
    expect(() => transposeWeight(Tensor.zeros('float32', [2]))).toThrow(/2-D/);
  });
});

describe('argument validation', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['dense inFeatures 0', () => dense(0, 3), /^dense: inFeatures must be a positive integer, got 0$/],
    ['dense fractional outFeatures', () => dense(3, 2.5), /dense: outFeatures must be a positive integer, got 2.5/],
    ['dense bias not boolean', () => dense(3, 2, { bias: 'yes' as never }), /dense: bias must be true or false/],
    ['conv2d groups', () => conv2d(6, 4, 3, { groups: 4 }), /conv2d: groups 4 must divide both inChannels 6 and outChannels 4/],
    ['conv2d kernel', () => conv2d(1, 1, [3] as never), /conv2d: kernel must be a positive integer or a pair/],
    ['conv2d padding', () => conv2d(1, 1, 3, { padding: -1 }), /conv2d: padding must be a non-negative integer/],
    ['conv2d stride', () => conv2d(1, 1, 3, { stride: 0 }), /conv2d: stride must be a positive integer/],
    ['batchNorm2d eps', () => batchNorm2d(4, { eps: 0 }), /batchNorm2d: eps must be a finite number > 0, got 0/],
    ['batchNorm2d momentum', () => batchNorm2d(4, { momentum: 2 }), /batchNorm2d: momentum must be a finite number >= 0 and <= 1/],
    ['maxPool2d padding', () => maxPool2d(2, { padding: 2 }), /maxPool2d: padding \[2,2\] must be smaller than the kernel \[2,2\]/],
    ['avgPool2d kernel', () => avgPool2d(0), /avgPool2d: kernel must be a positive integer/],
    ['leakyRelu slope', () => leakyRelu(Number.NaN), /leakyRelu: negativeSlope must be a finite number/],
    ['softmax axis', () => softmax(0.5), /softmax: axis must be an integer/],
    ['basicBlock stride', () => basicBlock(4, 4, { stride: 0 }), /basicBlock: stride must be a positive integer/],
    ['bottleneck expansion', () => bottleneck(4, 4, { expansion: -1 }), /bottleneck: expansion must be a positive integer/],
    ['sequential empty', () => sequential(), /sequential: needs at least one module/],
    ['sequential non-module', () => sequential(dense(2, 2), 5 as never), /sequential: child '1' is not a module \(got number\)/],
    ['sequential named non-module', () => sequential({ a: relu(), b: {} as never }), /sequential: child 'b' is not a module/],
  ];
  it.each(cases)('%s', (_, make, message) => {
    expect(make).toThrow(SpecError);
    expect(make).toThrow(message);
  });

  it('a layer given the wrong input says which layer, where, and what it expected', () => {
    expect(() => build(sequential(dense(4, 8), relu(), dense(6, 2)), ['B', 4])).toThrow(
      /^dense '2': input has shape \[B,8\], expected \[B, 6\]/,
    );
    expect(() => build(sequential({ stem: conv2d(3, 8, 3) }), ['B', 1, 8, 8])).toThrow(/conv2d 'stem': input has shape \[B,1,8,8\], expected \[B, 3, H, W\]/);
    expect(() => build(batchNorm2d(3), ['B', 3])).toThrow(/batchNorm2d \(top level\): input has shape \[B,3\]/);
    expect(() => build(dense(4, 2), ['B', 2, 4])).toThrow(/flatten first/);
  });

  it('bad scope and parameter names are rejected', () => {
    const ctx = new BuildContext(new Graph('t'), { dtype: 'float32', seed: 0, mode: 'initializer' });
    expect(() => ctx.scope('a.b', () => 0)).toThrow(/scope name 'a.b'/);
    expect(() => ctx.param('w/1', [1], init.zeros())).toThrow(/parameter name 'w\/1'/);
    expect(() => ctx.param('w', [0, 2], init.zeros())).toThrow(/parameter 'w': shape \[0,2\] must have positive integer dimensions/);
    expect(() => new BuildContext(new Graph('t'), { dtype: 'int64', seed: 0, mode: 'input' })).toThrow(/float32 or float64/);
  });
});
