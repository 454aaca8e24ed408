// `twnn bench torch` on small batches: the PyTorch twin of the MNIST MLP
// (committed weights) and the sine TWNN (initial weights) agrees with twnn's
// model.onnx, grad.onnx and train.onnx, a tiny interleaved timing run yields
// its numbers, the torch description follows the ResNet's spec, and the
// command writes its report.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import mlp from '../../graphs/mnist-mlp.js';
import resnet from '../../graphs/mnist-resnet.js';
import sine from '../../graphs/sine.js';
import { benchTorch, type TorchBenchModel } from '../../lab/bench/torch.js';
import { describeForTorch, type TorchArch } from '../../src/runtime/torch/arch.js';
import { DDP_SCRIPT } from '../../src/runtime/torch/ddp.js';
import { TorchWorker } from '../../lab/bench/torch-worker.js';
import { torchReport } from '../../lab/bench/torch-report.js';
import { loadTaskData } from '../../src/data/datasets.js';
import { buildInferenceGraph } from '../../src/lower/inference.js';
import { readInitializers, readModelFile } from '../../src/onnx/load.js';
import { region, sequential, tanh, dense, defineModel, type ModelSpec } from '../../src/index.js';
import { expectUserError, twnn } from '../cli/run-cli.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-bench-torch-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TINY = { inferenceBatches: [1, 16], trainBatch: 16, rowScale: 1, agreementRows: 32, gradRows: 8, tuningPasses: 1, torchThreads: [1], openblasThreads: [1] };

async function model(id: string, spec: ModelSpec, weightsFile?: string): Promise<TorchBenchModel> {
  const weights = weightsFile ? readInitializers(await readModelFile(weightsFile), weightsFile) : undefined;
  return {
    id,
    title: id,
    graph: `graphs/${id}.ts`,
    spec,
    ...(weights ? { weights } : {}),
    weightsFrom: weightsFile ?? 'seed 0',
    data: await loadTaskData(spec.task!.data!, 'test'),
    targets: { inference: 0.6, training: 0.8 },
    passRows: { 1: 4, 16: 32 },
  };
}

describe('benchTorch', () => {
  it('agrees with twnn on the MLP and sine TWNNs, then times them interleaved', async () => {
    const models = [await model('mnist-mlp', mlp, 'exported/paper/mnist-mlp/model.onnx'), await model('sine', sine)];
    const result = await benchTorch({ ...TINY, models, repeats: 1 });
    expect(result.disagreements).toEqual([]);
    expect(result.machine.torch).toMatch(/^1\.13/);
    expect(result.machine.blas).toMatch(/OpenBLAS/);
    // The share of the CPU other processes took while it ran, from /proc.
    expect(result.machine.othersShare).toBeGreaterThanOrEqual(0);
    expect(result.machine.othersShare).toBeLessThanOrEqual(1);
    for (const m of result.models) {
      // Two torch modes, each: inference counts and y, grad.onnx loss, counts and gradients, train.onnx loss, counts and moves.
      expect(m.agreement, m.id).toHaveLength(16);
      for (const c of m.agreement) {
        expect(c.ok, `${m.id}: ${c.what} (${c.mode}) ${c.value}`).toBe(true);
        expect(c.value, `${m.id}: ${c.what}`).toBeLessThanOrEqual(c.limit);
      }
      // Same sweeps per sample on both sides, to the row; outputs to float32 rounding.
      for (const c of m.agreement.filter((a) => a.what.includes('other counts'))) expect(c.value, `${m.id}: ${c.what}`).toBe(0);
      for (const c of m.agreement.filter((a) => a.what.startsWith('inference y'))) expect(c.value, m.id).toBeLessThan(1e-5);
      expect(m.workloads.map((w) => w.id)).toEqual(['inference-1', 'inference-16', 'training-16']);
      for (const w of m.workloads) {
        expect(w.sweeps, `${m.id} ${w.id}`).toBeGreaterThanOrEqual(2);
        expect(w.twnn.runs).toHaveLength(1);
        expect(w.twnn.median).toBeGreaterThan(0);
        expect(w.tuning.map((t) => t.mode)).toEqual(['dense', 'active']);
        for (const mode of ['dense', 'active'] as const) {
          expect(w.torch[mode].timing.median, `${m.id} ${w.id} ${mode}`).toBeGreaterThan(0);
          expect(w.torch[mode]).toMatchObject({ threads: 1, openblas: 'OPENBLAS_NUM_THREADS=1', mode });
        }
        expect(w.ratio).toBeCloseTo(w.twnn.median / w.torch[w.baseline].timing.median, 10);
        expect(w.target).toBe(w.kind === 'training' ? 0.8 : 0.6);
      }
      expect(m.workloads[2].adjointSteps).toBeGreaterThanOrEqual(1);
    }
    const report = torchReport(result, 'twnn bench torch --quick');
    expect(report).toContain('Written by `twnn bench torch --quick`');
    expect(report).toContain('| mnist-mlp | inference, batch 16 |');
    expect(report).toContain('| sine | training step, batch 16 |');
    expect(report).not.toContain('agreement check failed');
  }, 90_000);

  it('refuses a region option it does not know, naming the region and the option (what a newer twnn could add)', () => {
    const built = buildInferenceGraph(sine);
    const arch = describeForTorch(sine, built.graph, built.params);
    const region1 = (arch.children as [string, TorchArch][]).find(([n]) => n === 'region1')![1];
    (region1.config as Record<string, unknown>).anchorDecay = 0.5;
    const r = spawnSync('/usr/bin/python3', [DDP_SCRIPT, '--check', '-'], { encoding: 'utf8', input: JSON.stringify({ arch }) });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("region 'region1': anchorDecay 0.5 has no torch reference");
    // The unchanged description builds.
    delete (region1.config as Record<string, unknown>).anchorDecay;
    expect(spawnSync('/usr/bin/python3', [DDP_SCRIPT, '--check', '-'], { encoding: 'utf8', input: JSON.stringify({ arch }) }).status).toBe(0);
  }, 60_000);
});

describe("the twin's JSON lines", () => {
  it('write a non-finite float as null, as JSON.stringify does, so Node can read a NaN loss', () => {
    const script = "import sys; sys.path.insert(0, 'python'); import twnn_torch as t; print(t.json_line({'loss': float('nan'), 'y': [1.5, float('-inf')], 'step': 3}))";
    const r = spawnSync('/usr/bin/python3', ['-c', script], { cwd: join(import.meta.dirname, '../..'), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(JSON.stringify({ loss: NaN, y: [1.5, -Infinity], step: 3 })));
    expect(JSON.parse(r.stdout)).toEqual({ loss: null, y: [1.5, null], step: 3 });
  });
});

describe('TorchWorker', () => {
  it('outlives the SIGHUP a frozen worker gets when the shell that started the bench exits', async () => {
    const worker = await TorchWorker.start({ openblasThreads: 1 });
    try {
      // What the kernel sends an orphaned process group with a stopped member: SIGHUP, then SIGCONT.
      worker.freeze(true);
      process.kill(worker.pid, 'SIGHUP');
      worker.freeze(false);
      const hello = await worker.call({ cmd: 'hello' });
      expect(hello.torch).toMatch(/^1\.13/);
    } finally {
      await worker.close();
    }
  }, 60_000);
});

describe('describeForTorch', () => {
  it("describes the ResNet's regions from the built graph and the spec", () => {
    const built = buildInferenceGraph(resnet);
    const arch = describeForTorch(resnet, built.graph, built.params);
    const child = (a: TorchArch, name: string) => (a.children as [string, TorchArch][]).find(([n]) => n === name)![1];
    const region1 = child(arch, 'region1');
    const [[b1, block1], [b2, block2]] = region1.blocks as [string, TorchArch][];
    expect([b1, b2]).toEqual(['B1', 'B2']);
    expect(block1).toMatchObject({ kind: 'residual', downsample: null });
    expect((block2.main as [string, TorchArch][]).map(([n, l]) => `${n}:${l.kind}`)).toEqual(['conv1:conv2d', 'bn1:groupNorm2d', 'relu:relu', 'conv2:conv2d', 'bn2:groupNorm2d']);
    expect((block2.main as [string, TorchArch][])[0][1]).toMatchObject({ inChannels: 16, outChannels: 32, stride: [2, 2], padding: [1, 1], bias: false });
    expect((block2.main as [string, TorchArch][])[1][1]).toEqual({ kind: 'groupNorm2d', groups: 8, channels: 32, eps: expect.closeTo(1e-5, 10) });
    expect(region1.wormholes).toEqual([
      { from: 2, to: 1, scope: 'wormhole_B2_B1', projection: { kind: 'convTranspose', inChannels: 32, outChannels: 16, stride: 2 }, gate: { kind: 'conv', features: 16 } },
    ]);
    expect(region1.config).toMatchObject({ tol: 1e-3, maxIter: 300, norm: 'max', returnIterate: 'best', backward: 'implicit', backwardNorm: 'relative' });
    expect((child(arch, 'region2').wormholes as TorchArch[])[0].projection).toEqual({ kind: 'conv1x1', inChannels: 64, outChannels: 32 });
    expect(child(child(arch, 'stem'), 'bn')).toEqual({ kind: 'batchNorm2d', channels: 16, eps: 1e-5, momentum: 0.1 });
  });
});

describe('twnn bench torch', () => {
  it('prints the report and writes it atomically to --out', async () => {
    const out = join(root, 'PERFORMANCE.md');
    const r = await twnn(['bench', 'torch', '--models', 'sine', '--quick', '--repeats', '1', '-o', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('Written by `twnn bench torch --models sine --quick --repeats 1`');
    expect(r.stdout).toMatch(/\| TWNN sine \| inference, batch 64 \| \d\.\d\d \| [\d.]+ \| [\d.]+ \((dense|active)\) \| \d+\.\d\d \| ≤ 0\.8 \| (met|\*\*not met\*\*) \|/);
    expect(r.stderr).toContain(`wrote ${out}`);
    expect(readFileSync(out, 'utf8')).toBe(r.stdout);
  }, 90_000);

  it('rejects an unknown model and a missing python with one line', async () => {
    expectUserError(await twnn(['bench', 'torch', '--models', 'sine,lstm']), '--models expects a comma-separated list of mlp, sine, resnet; unknown: lstm');
    expectUserError(await twnn(['bench', 'torch', '--models', 'sine', '--python', join(root, 'no-python'), '-o', join(root, 'x.md')]), `bench torch: ${join(root, 'no-python')} is missing`);
  }, 60_000);
});
