// groupNorm2d: forward and gradients against torch.nn.functional.group_norm
// (float32, fused kernel and composite), gradients by random-direction central
// differences (float64: the composite), which lowering a build gets, per-sample
// independence, names, and errors; basicBlock's GroupNorm variant.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { backward } from '../../src/autodiff/transform.js';
import { Graph, SpecError, Tensor, type DType } from '../../src/ir/index.js';
import { buildInferenceGraph } from '../../src/lower/inference.js';
import { buildTrainGraph } from '../../src/lower/training.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { mul, reduceSum } from '../../src/ops/index.js';
import { basicBlock, BuildContext, groupNorm2d, groupNormalize, sequential, type Module } from '../../src/twnn/index.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { expectAllClose, randomTensor, runModel } from './support.js';

const TORCH_SCRIPT = resolve(fileURLToPath(import.meta.url), '../torch_group_norm.py');

interface TorchCase {
  groups: number;
  eps: number;
  x: Tensor;
  weight: Tensor;
  bias: Tensor;
  /** A cotangent of the output: torch then also returns the input gradients. */
  gradY?: Tensor;
}

interface TorchResult {
  data: number[];
  grad_x?: number[];
  grad_weight?: number[];
  grad_bias?: number[];
}

const LOWERINGS = [{ lowering: 'fused', fused: true }, { lowering: 'composite', fused: false }] as const;

/** torch.nn.functional.group_norm of each case's float32 tensors (and its VJP with gradY), in one /usr/bin/python3 run. */
function torchGroupNorm(cases: readonly TorchCase[]): TorchResult[] {
  const dir = mkdtempSync(join(tmpdir(), 'twnn-gn-'));
  try {
    const file = join(dir, 'cases.json');
    const t = (v: Tensor) => ({ shape: v.shape, data: v.toNumbers() });
    writeFileSync(
      file,
      JSON.stringify(cases.map((c) => ({ groups: c.groups, eps: c.eps, x: t(c.x), weight: t(c.weight), bias: t(c.bias), ...(c.gradY ? { grad_y: t(c.gradY) } : {}) }))),
    );
    const run = spawnSync('/usr/bin/python3', [TORCH_SCRIPT, file], { encoding: 'utf8', timeout: 120_000 });
    if (run.status !== 0) throw new Error(`torch_group_norm.py failed (exit ${run.status}): ${run.stderr || run.error?.message}`);
    return JSON.parse(run.stdout) as TorchResult[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `net` built on a symbolic-batch input of `shape`, as model bytes, with its context and the op types it emitted. */
function build(net: Module, shape: (string | number)[], weights?: Map<string, Tensor>, dtype: DType = 'float32', groupNorm?: 'fused' | 'composite') {
  const graph = new Graph('gn');
  const ctx = new BuildContext(graph, { dtype, seed: 5, mode: 'initializer', weights, ...(groupNorm ? { groupNorm } : {}) });
  graph.output('y', net.build(ctx, graph.input('x', dtype, shape)));
  return { bytes: serializeModel(graph), ctx, opTypes: new Set(graph.nodes.map((n) => n.opType)) };
}

/** Scaled and shifted inputs, so the normalisation has something to undo, with random affine parameters and cotangent. */
const torchCases = [
  { groups: 4, channels: 8, eps: 1e-5, label: '4 groups of 2 channels' },
  { groups: 1, channels: 6, eps: 1e-3, label: 'one group (LayerNorm over C,H,W)' },
  { groups: 5, channels: 5, eps: 1e-5, label: 'a group per channel (InstanceNorm)' },
].map((c, k) => {
  const raw = randomTensor('float32', [3, c.channels, 5, 6], 13 + k);
  const x = Tensor.fromNumbers('float32', raw.shape, raw.toNumbers().map((v, i) => 3 * v + (i % 7) - 2));
  return { ...c, k, x, weight: randomTensor('float32', [c.channels], 11 + k), bias: randomTensor('float32', [c.channels], 21 + k), gradY: randomTensor('float32', [...raw.shape], 31 + k) };
});
let torchResults: TorchResult[] = [];
beforeAll(() => {
  torchResults = torchGroupNorm(torchCases);
});

describe('groupNorm2d forward', () => {
  it.each(LOWERINGS.flatMap((l) => torchCases.map((c) => ({ ...c, ...l }))))(
    'matches torch.nn.functional.group_norm ($lowering): $label',
    async ({ groups, channels, eps, x, weight, bias, k, fused }) => {
      const { bytes, opTypes } = build(groupNorm2d(groups, channels, { eps, fused }), ['B', channels, 'H', 'W'], new Map([['weight', weight], ['bias', bias]]));
      expect(opTypes.has('InstanceNormalization')).toBe(fused);
      const { y } = await runModel(bytes, { x });
      expect(y.shape).toEqual([3, channels, 5, 6]);
      expectAllClose(y.toNumbers(), torchResults[k].data, 1e-4, 1e-5);
    },
  );

  it('normalises each sample on its own: a sample gives the same output alone or beside others', async () => {
    const { bytes } = build(groupNorm2d(2, 4), ['B', 4, 3, 3]);
    const pair = randomTensor('float32', [2, 4, 3, 3], 21);
    const first = Tensor.fromNumbers('float32', [1, 4, 3, 3], pair.toNumbers().slice(0, 36));
    const together = (await runModel(bytes, { x: pair })).y.toNumbers().slice(0, 36);
    const alone = (await runModel(bytes, { x: first })).y.toNumbers();
    expectAllClose(together, alone, 1e-6, 1e-6);
  });
});

describe('groupNorm2d gradients', () => {
  it.each(LOWERINGS.flatMap((l) => torchCases.map((c) => ({ ...c, ...l }))))(
    'x, weight and bias match torch autograd in float32 ($lowering): $label',
    async ({ groups, channels, eps, x, weight, bias, gradY, k, fused }) => {
      const g = new Graph('gn_grad');
      const inputs = [g.input('x', 'float32', ['B', channels, 5, 6]), g.input('weight', 'float32', [channels]), g.input('bias', 'float32', [channels])];
      const y = groupNormalize(g, inputs[0], { groups, eps, weight: inputs[1], bias: inputs[2], fused });
      const loss = reduceSum(g, mul(g, y, g.input('u', 'float32', y.shape)), [], false);
      backward(g, loss, inputs).forEach((v, i) => g.output(`grad${i}`, v!));
      const out = await runModel(serializeModel(g), { x, weight, bias, u: gradY });
      const expected = torchResults[k];
      // float32 sums over up to 60 terms in either order: ~1e-6 of the largest term.
      expectAllClose(out.grad0.toNumbers(), expected.grad_x!, 1e-4, 2e-5);
      expectAllClose(out.grad1.toNumbers(), expected.grad_weight!, 1e-4, 2e-5);
      expectAllClose(out.grad2.toNumbers(), expected.grad_bias!, 1e-4, 2e-5);
    },
  );

  it('x, weight and bias agree with central differences (float64: the composite)', async () => {
    await gradCheck({
      op: 'GroupNorm',
      inputs: [{ shape: [2, 6, 3, 4], dims: ['B', 6, 3, 4], scale: 2 }, { shape: [6] }, { shape: [6] }],
      build: (g, [x, weight, bias]) => groupNormalize(g, x, { groups: 3, eps: 1e-5, weight, bias }),
    });
  });

  it('agree for a single group with a large eps (the eps term is differentiated too)', async () => {
    await gradCheck({
      op: 'GroupNorm',
      label: 'groups 1, eps 0.5',
      inputs: [{ shape: [3, 2, 2, 2], scale: 0.3 }, { shape: [2] }, { shape: [2] }],
      build: (g, [x, weight, bias]) => groupNormalize(g, x, { groups: 1, eps: 0.5, weight, bias }),
    });
  });
});

describe('groupNorm2d lowering', () => {
  const opTypes = (options: Parameters<typeof groupNorm2d>[2], dtype: DType = 'float32', groupNorm?: 'fused' | 'composite') =>
    build(groupNorm2d(2, 4, options), ['B', 4, 3, 3], undefined, dtype, groupNorm).opTypes;

  it('is the fused kernel in float32 by default, the composite with fused: false, and always the composite in float64', () => {
    expect(opTypes({}).has('InstanceNormalization')).toBe(true);
    expect(opTypes({}).has('ReduceMean')).toBe(false);
    expect(opTypes({ fused: false }).has('InstanceNormalization')).toBe(false);
    expect(opTypes({ fused: false }).has('ReduceMean')).toBe(true);
    expect(opTypes({ fused: true }, 'float64').has('InstanceNormalization')).toBe(false);
  });

  it("a build's groupNorm option sets the lowering of the layers that leave fused unset, for that build only", () => {
    expect(opTypes({}, 'float32', 'composite').has('InstanceNormalization')).toBe(false);
    // A layer that chooses keeps its choice.
    expect(opTypes({ fused: true }, 'float32', 'composite').has('InstanceNormalization')).toBe(true);
    expect(opTypes({}, 'float32', 'fused').has('InstanceNormalization')).toBe(true);
    expect(opTypes({}).has('InstanceNormalization')).toBe(true);
  });

  it('reaches the GroupNorms of a whole model through buildInferenceGraph and buildTrainGraph', async () => {
    const spec = (await import('../../graphs/mnist-resnet.js')).default;
    const ops = (g: { nodes: readonly { opType: string; subgraphs(): { nodes: readonly unknown[] }[] }[] }): string[] =>
      g.nodes.flatMap((n) => [n.opType, ...n.subgraphs().flatMap((s) => ops(s as typeof g))]);
    expect(ops(buildInferenceGraph(spec, { groupNorm: 'composite' }).graph)).not.toContain('InstanceNormalization');
    expect(ops(buildTrainGraph(spec, { groupNorm: 'composite' }).graph)).not.toContain('InstanceNormalization');
    expect(ops(buildInferenceGraph(spec).graph)).toContain('InstanceNormalization');
  });
});

describe('groupNorm2d parameters and errors', () => {
  it('has torch.nn.GroupNorm parameter names and no buffers', () => {
    const { ctx } = build(sequential({ gn: groupNorm2d(2, 4) }), ['B', 4, 3, 3]);
    expect(ctx.params.map((p) => `${p.name}:[${p.shape.join(',')}]:${p.trainable}`)).toEqual(['gn.weight:[4]:true', 'gn.bias:[4]:true']);
    expect(ctx.params[0].value.toNumbers()).toEqual([1, 1, 1, 1]);
    expect(ctx.params[1].value.toNumbers()).toEqual([0, 0, 0, 0]);
  });

  it('rejects channels that are not a multiple of groups', () => {
    expect(() => groupNorm2d(3, 8)).toThrow(SpecError);
    expect(() => groupNorm2d(3, 8)).toThrow('groupNorm2d: channels (8) must be a multiple of groups (3)');
  });

  it('rejects bad arguments and an input of the wrong shape, naming the layer', () => {
    expect(() => groupNorm2d(0, 8)).toThrow('groupNorm2d: groups must be a positive integer, got 0');
    expect(() => groupNorm2d(2, 8, { eps: 0 })).toThrow('groupNorm2d: eps must be a finite number > 0, got 0');
    expect(() => build(sequential({ norm: groupNorm2d(2, 8) }), ['B', 4, 3, 3])).toThrow("groupNorm2d 'norm': input has shape [B,4,3,3], expected [B, 8, H, W]");
  });
});

describe("basicBlock({ norm: 'group' })", () => {
  it('uses GroupNorm under torchvision names, in the projection too, with no buffers', () => {
    const { ctx } = build(sequential({ B2: basicBlock(4, 8, { stride: 2, norm: 'group', groups: 2 }) }), ['B', 4, 6, 6]);
    expect(ctx.params.map((p) => `${p.name}:[${p.shape.join(',')}]`)).toEqual([
      'B2.conv1.weight:[8,4,3,3]',
      'B2.bn1.weight:[8]',
      'B2.bn1.bias:[8]',
      'B2.conv2.weight:[8,8,3,3]',
      'B2.bn2.weight:[8]',
      'B2.bn2.bias:[8]',
      'B2.downsample.0.weight:[8,4,1,1]',
      'B2.downsample.1.weight:[8]',
      'B2.downsample.1.bias:[8]',
    ]);
    expect(ctx.params.every((p) => p.trainable)).toBe(true);
  });

  it('rejects an unknown norm and groups that do not divide the channels', () => {
    expect(() => basicBlock(4, 8, { norm: 'layer' as 'group' })).toThrow("basicBlock: norm must be 'batch', 'group' or 'none', got \"layer\"");
    expect(() => basicBlock(4, 6, { norm: 'group', groups: 4 })).toThrow('groupNorm2d: channels (6) must be a multiple of groups (4)');
  });
});
