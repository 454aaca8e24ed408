// Skip-gated residual blocks (paper Eq. 5-6, src/twnn/skip-gate.ts): the
// training network's loss and every gradient against PyTorch autograd, and the
// skipping inference network (and its dense form) against PyTorch's logits,
// with samples on both sides of the threshold; inside a region's Loop (active rows and dense, every sample
// skipping, none skipping); the training loss's cost term; the skip rates
// eval reports; and the option errors.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { basicBlock, conv2d, defineModel, dense, exportModel, flatten, globalAvgPool, region, sequential, Tensor, type ModelSpec } from '../../src/index.js';
import { buildInferenceGraph } from '../../src/lower/inference.js';
import { buildGradGraph, buildTrainGraph } from '../../src/lower/training.js';
import { readModelFile } from '../../src/onnx/load.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { countSkips, skipRates, skipSummary, skipThresholds, type SkipCounts } from '../../src/runtime/skip-rates.js';
import { gradientError, gradientsAt } from '../../tools/gradient-accuracy.js';
import { expectAllClose, randomTensor, runModel } from './support.js';

const TORCH_SCRIPT = resolve(fileURLToPath(import.meta.url), '../torch_skip_gate.py');

interface TorchSkip {
  loss: number;
  grads: Record<string, number[]>;
  grad_x: number[];
  gates: number[];
  y: number[];
}

function torchSkip(payload: object): TorchSkip {
  const dir = mkdtempSync(join(tmpdir(), 'twnn-torch-skip-'));
  try {
    const file = join(dir, 'case.json');
    writeFileSync(file, JSON.stringify(payload));
    // The first python3 on PATH does not see Debian's torch.
    const run = spawnSync('/usr/bin/python3', [TORCH_SCRIPT, file], { encoding: 'utf8', timeout: 120_000 });
    if (run.status !== 0) throw new Error(`torch_skip_gate.py failed (exit ${run.status}): ${run.stderr || run.error?.message}`);
    return JSON.parse(run.stdout) as TorchSkip;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const labels = (n: number) => Tensor.fromNumbers('int64', [n], Array.from({ length: n }, (_, i) => i % 3));

function blockNet(stride: number, skip: { threshold?: number; gateBias?: number; cost?: number }): ModelSpec {
  return defineModel({
    name: 'skip-block',
    input: { shape: ['B', 4, 6, 6], dtype: 'float' },
    net: sequential({ blk: basicBlock(4, stride === 1 ? 4 : 8, { stride, norm: 'group', groups: 2, skip }), pool: globalAvgPool(), flatten: flatten(), head: dense(stride === 1 ? 4 : 8, 3) }),
    task: { loss: 'cross_entropy' },
  });
}

describe('a skip-gated basicBlock against PyTorch', () => {
  it.each([1, 2])('stride %i: loss and gradients (grad.onnx), logits skipping and dense (model.onnx), gates', async (stride) => {
    const spec = blockNet(stride, { gateBias: 0, threshold: 0.5 });
    const batch = 12;
    const x = randomTensor('float32', [batch, 4, 6, 6], 7 + stride);
    const grad = buildGradGraph(spec, { seed: 3 });
    // The gate's weight is drawn small (kaiming over 4 inputs) and the input's spatial means are too: make the gates spread.
    const values = new Map(grad.params.map((p) => [p.name, p.name === 'blk.skip_gate.weight' ? Tensor.fromNumbers('float32', p.shape, [4, -3, 5, 2]) : p.value]));
    const torch = torchSkip({
      params: Object.fromEntries([...values].map(([name, t]) => [name, { shape: t.shape, data: t.toNumbers() }])),
      x: { shape: x.shape, data: x.toNumbers() },
      target: labels(batch).toNumbers(),
      stride,
      groups: 2,
      threshold: 0.5,
    });
    const skipped = torch.gates.filter((s) => s < 0.5).length;
    expect(skipped, `gates ${torch.gates.join(', ')}`).toBeGreaterThan(0);
    expect(skipped).toBeLessThan(batch);

    const out = await runModel(serializeModel(grad.graph), { x, target: labels(batch), ...Object.fromEntries(values) });
    expect(out.loss.toNumbers()[0]).toBeCloseTo(torch.loss, 5);
    for (const name of grad.trainable) expectAllClose(out[`grad.${name}`].toNumbers(), torch.grads[name], 1e-3, 1e-5);
    expectAllClose(out['grad.x'].toNumbers(), torch.grad_x, 1e-3, 1e-6);
    expect(grad.trainable).toContain('blk.skip_gate.weight');

    for (const mode of ['on', 'off'] as const) {
      const { graph } = buildInferenceGraph(spec, { weights: values, blockSkipping: mode });
      const y = await runModel(serializeModel(graph), { x });
      expectAllClose(y.y.toNumbers(), torch.y, 1e-4, 1e-5);
      expectAllClose(y['skip_gate.blk'].toNumbers(), torch.gates, 1e-5, 1e-6);
    }
  });

  it("declares the gate after the block's convolutions and shortcut, under skip_gate", () => {
    const { params } = buildInferenceGraph(blockNet(2, {}));
    expect(params.map((p) => `${p.name}:[${p.shape.join(',')}]`)).toEqual([
      'blk.downsample.0.weight:[8,4,1,1]',
      'blk.downsample.1.weight:[8]',
      'blk.downsample.1.bias:[8]',
      'blk.skip_gate.weight:[1,4]',
      'blk.skip_gate.bias:[1]',
      'blk.conv1.weight:[8,4,3,3]',
      'blk.bn1.weight:[8]',
      'blk.bn1.bias:[8]',
      'blk.conv2.weight:[8,8,3,3]',
      'blk.bn2.weight:[8]',
      'blk.bn2.bias:[8]',
      'head.weight:[3,8]',
      'head.bias:[3]',
    ]);
    expect(params.find((p) => p.name === 'blk.skip_gate.bias')!.value.toNumbers()).toEqual([3]);
  });
});

/** A small TWNN whose second region block is skip-gated: stem, region [B1, B2 (gated)], wormhole B2 -> B1, head. */
function regionNet(gateBias: number, threshold = 0.5): ModelSpec {
  const gn = { norm: 'group', groups: 4 } as const;
  return defineModel({
    name: 'skip-region',
    input: { shape: ['B', 1, 8, 8], dtype: 'float' },
    net: sequential({
      stem: conv2d(1, 8, 3, { padding: 1 }),
      r: region({
        blocks: { B1: basicBlock(8, 8, gn), B2: basicBlock(8, 8, { ...gn, skip: { gateBias, threshold, cost: 0.1 } }) },
        wormholes: [{ from: 'B2', to: 'B1', gateBias: -2 }],
        iterate: { tol: 1e-5, maxIter: 100 },
      }),
      pool: globalAvgPool(),
      flatten: flatten(),
      head: dense(8, 3),
    }),
    task: { loss: 'cross_entropy' },
  });
}

async function inferRegion(spec: ModelSpec, x: Tensor, options: Parameters<typeof buildInferenceGraph>[1] = {}) {
  return runModel(serializeModel(buildInferenceGraph(spec, { seed: 1, ...options }).graph), { x });
}

describe('a skip-gated block inside a region', () => {
  const x = randomTensor('float32', [6, 1, 8, 8], 11);

  it('with every gate open, skipping changes nothing; the gates at the fixed point are outputs', async () => {
    const spec = regionNet(12);
    const on = await inferRegion(spec, x);
    const off = await inferRegion(spec, x, { blockSkipping: 'off' });
    expectAllClose(on.y.toNumbers(), off.y.toNumbers(), 1e-6, 1e-7);
    expect(on.iterations.toNumbers()).toEqual(off.iterations.toNumbers());
    expect(on['skip_gate.r.B2'].shape).toEqual([6]);
    expect(Math.min(...on['skip_gate.r.B2'].toNumbers())).toBeGreaterThan(0.99);
  });

  it('with every gate closed, no sample runs the branch, at batch 6 and at batch 1 (an empty branch batch), active rows or dense', async () => {
    const spec = regionNet(-12);
    const off = await inferRegion(spec, x, { blockSkipping: 'off' });
    const on = await inferRegion(spec, x);
    const dense = await inferRegion(spec, x, { regionOverrides: { sweeps: 'dense' } });
    expectAllClose(on.y.toNumbers(), off.y.toNumbers(), 1e-6, 1e-7);
    expectAllClose(dense.y.toNumbers(), on.y.toNumbers(), 1e-6, 1e-7);
    expect(Math.max(...on['skip_gate.r.B2'].toNumbers())).toBeLessThan(1e-4);
    const one = await inferRegion(spec, new Tensor('float32', [1, 1, 8, 8], (x.data as Float32Array).slice(0, 64)));
    expectAllClose(one.y.toNumbers(), on.y.toNumbers().slice(0, 3), 1e-5, 1e-6);
  });

  it('with gates on both sides of the threshold, active-row and dense sweeps agree and some samples skip', async () => {
    // The gates sit near sigmoid(0): a threshold at their median (read off the never-skipping network) splits them.
    const soft = (await inferRegion(regionNet(0, 0), x))['skip_gate.r.B2'].toNumbers();
    const median = [...soft].sort((a, b) => a - b)[soft.length / 2];
    const spec = regionNet(0, median);
    const on = await inferRegion(spec, x);
    const dense = await inferRegion(spec, x, { regionOverrides: { sweeps: 'dense' } });
    const off = await inferRegion(spec, x, { blockSkipping: 'off' });
    expectAllClose(on.y.toNumbers(), dense.y.toNumbers(), 1e-5, 1e-6);
    expectAllClose(off.y.toNumbers(), on.y.toNumbers(), 1e-5, 1e-6);
    const gates = on['skip_gate.r.B2'].toNumbers();
    expect(gates.some((s) => s < median) && gates.some((s) => s >= median), `${gates.join(', ')} against ${median}`).toBe(true);
  });

  it('differentiates like any region: the implicit gradient equals unrolled backprop at convergence (float32)', async () => {
    const setting = { spec: regionNet(0), dtype: 'float32', batch: { x, target: labels(6) } } as const;
    const implicit = await gradientsAt(setting, { tol: 1e-6, backwardTol: 1e-6 });
    const unrolled = await gradientsAt(setting, { tol: 1e-6, backwardTol: 1e-6, backward: { mode: 'unrolled' } });
    expect(implicit.sweeps).toBeGreaterThan(4);
    expect(Math.max(...implicit.grads['grad.r.B2.skip_gate.weight'].map(Math.abs))).toBeGreaterThan(1e-4);
    const { error, worst } = gradientError(implicit.grads, unrolled.grads);
    expect(error, worst).toBeLessThan(1e-6);
  });

  it("train.onnx adds cost·mean(gate at the fixed point) to its objective and outputs it as skip_cost; grad.onnx's loss leaves it out", async () => {
    const spec = regionNet(0);
    const target = labels(6);
    const train = buildTrainGraph(spec, { seed: 1 });
    const feeds: Record<string, Tensor> = { x, target, lr: Tensor.scalar(0, 'float32'), step: Tensor.scalar(1, 'int64') };
    for (const p of train.params) feeds[p.name] = p.value;
    for (const v of train.graph.inputs) if (!(v.name in feeds)) feeds[v.name] = new Tensor('float32', v.shape as number[], new Float32Array((v.shape as number[]).reduce((a, b) => a * b, 1)));
    const out = await runModel(serializeModel(train.graph), feeds);
    const soft = await inferRegion(spec, x, { blockSkipping: 'off' });
    const gates = soft['skip_gate.r.B2'].toNumbers();
    const expected = (0.1 * gates.reduce((a, b) => a + b, 0)) / gates.length;
    expect(out.skip_cost.toNumbers()[0]).toBeCloseTo(expected, 5);
    const grad = buildGradGraph(spec, { seed: 1 });
    expect(grad.graph.outputs.map((v) => v.name)).not.toContain('skip_cost');
  });
});

describe('skip rates', () => {
  it("model.onnx records each gated block's threshold; eval's counts and summary line follow the gates", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'twnn-skip-export-'));
    try {
      await exportModel(regionNet(0, 0.4), dir);
      const thresholds = skipThresholds(await readModelFile(join(dir, 'model.onnx')));
      expect(thresholds).toEqual({ 'r.B2': 0.4 });
      const counts: SkipCounts = {};
      countSkips(counts, { 'skip_gate.r.B2': Tensor.fromNumbers('float32', [4], [0.1, 0.39, 0.4, 0.9]) }, thresholds);
      countSkips(counts, { 'skip_gate.r.B2': Tensor.fromNumbers('float32', [4], [0.5, 0.5, 0.5, 0.2]) }, thresholds);
      expect(skipRates(counts)).toEqual([{ block: 'r.B2', threshold: 0.4, rate: 3 / 8 }]);
      expect(skipSummary(skipRates(counts))).toBe('skipped: r.B2 37.5% (gate < 0.4)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a model without skip gates has no thresholds', async () => {
    const { graph } = buildInferenceGraph(regionNet(0));
    expect(graph.outputs.map((v) => v.name)).toEqual(['y', 'iterations', 'residual', 'unsettled', 'skip_gate.r.B2']);
    const plain = defineModel({ name: 'plain', input: { shape: ['B', 2], dtype: 'float' }, net: dense(2, 2) });
    const dir = mkdtempSync(join(tmpdir(), 'twnn-skip-export-'));
    try {
      await exportModel(plain, dir);
      expect(skipThresholds(await readModelFile(join(dir, 'model.onnx')))).toEqual({});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('skip option errors', () => {
  it('names the field and the bound', () => {
    expect(() => basicBlock(4, 4, { skip: { threshold: 1.5 } })).toThrow('basicBlock: skip.threshold must be');
    expect(() => basicBlock(4, 4, { skip: { cost: -1 } })).toThrow('basicBlock: skip.cost must be');
    expect(() => basicBlock(4, 4, { skip: { treshold: 0.5 } as object })).toThrow("basicBlock: skip: unknown option 'treshold'");
    expect(() => basicBlock(4, 4, { skip: 'yes' as unknown as true })).toThrow('basicBlock: skip must be true or an object');
  });
});
