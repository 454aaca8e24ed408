// batchNorm2d in training graphs against torch's F.batch_norm(training=True):
// the output, the running-statistic updates and the gradients (through twnn's
// reverse mode), all in float64 with identical inputs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/autodiff/transform.js';
import { BuildContext } from '../../src/twnn/module.js';
import { batchNorm2d } from '../../src/twnn/norm.js';
import { Graph, SpecError, Tensor, type Value } from '../../src/ir/index.js';
import { pythonJson } from '../helpers/onnx-checker.js';
import { runGraph } from '../helpers/ort.js';
import { randn, seededRandom } from '../helpers/rng.js';
import { expectAllClose } from './support.js';

const TORCH_BATCH_NORM = `
import json, sys, torch
import torch.nn.functional as F
c = json.load(open(sys.argv[1]))
t = lambda name: torch.tensor(c[name]['data'], dtype=torch.float64).reshape(c[name]['shape'])
x, w, b = t('x').requires_grad_(), t('weight').requires_grad_(), t('bias').requires_grad_()
rm, rv = t('running_mean'), t('running_var')
y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=c['momentum'], eps=c['eps'])
gx, gw, gb = torch.autograd.grad(y, [x, w, b], t('gy'))
out = {'y': y, 'running_mean': rm, 'running_var': rv, 'grad_x': gx, 'grad_weight': gw, 'grad_bias': gb}
print(json.dumps({k: v.detach().flatten().tolist() for k, v in out.items()}))
`;

type Results = Record<'y' | 'running_mean' | 'running_var' | 'grad_x' | 'grad_weight' | 'grad_bias', number[]>;

function torchBatchNorm(tensors: Record<string, Tensor>, eps: number, momentum: number): Results {
  const dir = mkdtempSync(join(tmpdir(), 'twnn-bn-'));
  try {
    const file = join(dir, 'case.json');
    const payload: Record<string, unknown> = { eps, momentum };
    for (const [name, t] of Object.entries(tensors)) payload[name] = { shape: t.shape, data: t.toNumbers() };
    writeFileSync(file, JSON.stringify(payload));
    return pythonJson<Results>(TORCH_BATCH_NORM, [file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const draw = (shape: number[], seed: number, map: (z: number) => number = (z) => z) =>
  Tensor.fromNumbers('float64', shape, randn(seededRandom(seed), shape.reduce((a, b) => a * b, 1)).map(map));

/** A training graph with one batchNorm2d layer 'bn' on x [B,C,H,W] (parameters as inputs), its update outputs and gradients. */
function buildTraining(channels: number, spatial: [number, number], eps: number, momentum: number): { g: Graph; ctx: BuildContext } {
  const g = new Graph('bn_train');
  const ctx = new BuildContext(g, { dtype: 'float64', seed: 1, mode: 'input', training: true });
  const x = g.input('x', 'float64', ['B', channels, ...spatial]);
  const y = ctx.scope('bn', () => batchNorm2d(channels, { eps, momentum }).build(ctx, x));
  g.output('y', y);
  for (const [name, v] of ctx.bufferUpdates) g.output(`${name}.new`, v);
  const param = (name: string) => g.inputs.find((v) => v.name === name) as Value;
  const grads = backward(g, y, [x, param('bn.weight'), param('bn.bias')], { seed: g.input('gy', 'float64', y.shape) });
  ['grad_x', 'grad_weight', 'grad_bias'].forEach((name, i) => g.output(name, grads[i]));
  return { g, ctx };
}

describe('batchNorm2d training mode against torch (float64)', () => {
  it.each([
    { name: 'batch 3, 4 channels, 5x2', batch: 3, channels: 4, spatial: [5, 2] as [number, number], eps: 1e-5, momentum: 0.1 },
    { name: 'batch 2, 3 channels, 2x3, eps 1e-3, momentum 0.3', batch: 2, channels: 3, spatial: [2, 3] as [number, number], eps: 1e-3, momentum: 0.3 },
  ])('$name: output, running statistics and gradients', async ({ batch, channels, spatial, eps, momentum }) => {
    const { g, ctx } = buildTraining(channels, spatial, eps, momentum);
    expect([...ctx.bufferUpdates.keys()]).toEqual(['bn.running_mean', 'bn.running_var']);
    const xShape = [batch, channels, ...spatial];
    // Channels with different means and spreads, so that a mix-up of axes or statistics shows.
    const offsets = randn(seededRandom(9), channels).map((z) => 3 * z);
    const channelOf = (i: number) => Math.floor(i / (spatial[0] * spatial[1])) % channels;
    const z = draw(xShape, 2).toNumbers();
    const tensors = {
      x: Tensor.fromNumbers('float64', xShape, z.map((v, i) => (1 + channelOf(i)) * v + offsets[channelOf(i)])),
      weight: draw([channels], 3, (z) => 1 + 0.5 * z),
      bias: draw([channels], 4),
      running_mean: draw([channels], 5),
      running_var: draw([channels], 6, (z) => 0.5 + z * z),
      gy: draw(xShape, 7),
    };
    const out = await runGraph(g, {
      x: tensors.x,
      gy: tensors.gy,
      'bn.weight': tensors.weight,
      'bn.bias': tensors.bias,
      'bn.running_mean': tensors.running_mean,
      'bn.running_var': tensors.running_var,
    });
    const expected = torchBatchNorm(tensors, eps, momentum);
    const close = (actual: Tensor, want: number[]) => expectAllClose(actual.toNumbers(), want, 1e-8, 1e-10);
    close(out.y, expected.y);
    close(out['bn.running_mean.new'], expected.running_mean);
    close(out['bn.running_var.new'], expected.running_var);
    close(out.grad_x, expected.grad_x);
    close(out.grad_weight, expected.grad_weight);
    close(out.grad_bias, expected.grad_bias);
  });

  it('builds the inference op, with no buffer updates, outside training', () => {
    const g = new Graph('bn_eval');
    const ctx = new BuildContext(g, { dtype: 'float64', seed: 1, mode: 'initializer' });
    ctx.scope('bn', () => batchNorm2d(2).build(ctx, g.input('x', 'float64', ['B', 2, 3, 3])));
    expect(g.nodes.map((n) => n.opType)).toEqual(['BatchNormalization']);
    expect(ctx.bufferUpdates.size).toBe(0);
  });

  it('rejects a training input with one value per channel', () => {
    const g = new Graph('bn_one');
    const ctx = new BuildContext(g, { dtype: 'float64', seed: 1, mode: 'input', training: true });
    const x = g.input('x', 'float64', [1, 2, 1, 1]);
    expect(() => ctx.scope('bn', () => batchNorm2d(2).build(ctx, x))).toThrow(SpecError);
    expect(() => ctx.scope('bn2', () => batchNorm2d(2).build(ctx, x))).toThrow(/batchNorm2d 'bn2': training mode needs more than one value per channel/);
  });
});
