import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/index.js';
import { exportModel } from '../../src/lower/artifacts.js';
import { diffStats, formatSummary, kStepBenchmark, stack, trainStats, type KStepResult } from '../../tools/gpu-check.js';
import sineMlp from '../../graphs/sine-mlp.js';
import { twnn } from '../cli/run-cli.js';

const REPO = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'twnn-gpu-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('diffStats', () => {
  it('max and mean absolute difference, relative to the reference scale, and argmax agreement per row', () => {
    const ref = Tensor.fromNumbers('float32', [2, 3], [1, 2, 0, 3, -4, 0.5]);
    const other = Tensor.fromNumbers('float32', [2, 3], [1, 2.5, 0, 3, -4, 3.5]);
    const d = diffStats(ref, other);
    expect(d.maxAbs).toBe(3);
    expect(d.maxRel).toBe(3 / 4);
    expect(d.meanAbs).toBe(3.5 / 6);
    // Row 0 argmax stays 1; row 1 moves from 0 (3) to 2 (3.5).
    expect(d.argmaxAgree).toBe(0.5);
    expect(d.nonFinite).toBe(0);
  });

  it('counts non-finite values instead of letting them hide the rest', () => {
    const d = diffStats(Tensor.fromNumbers('float32', [3], [1, 2, 3]), Tensor.fromNumbers('float32', [3], [1, NaN, 3.5]));
    expect(d).toEqual({ maxAbs: 0.5, maxRel: 0.5 / 3, meanAbs: 0.5 / 3, nonFinite: 1 });
  });

  it('refuses outputs of different shapes', () => {
    expect(() => diffStats(Tensor.zeros('float32', [2, 2]), Tensor.zeros('float32', [4]))).toThrow('cannot compare outputs of shapes [2,2] and [4]');
  });
});

it('stack puts tensors along a new leading axis', () => {
  const s = stack([Tensor.fromNumbers('int64', [2], [1, 2]), Tensor.fromNumbers('int64', [2], [3, 4])]);
  expect(s.shape).toEqual([2, 2]);
  expect(s.toNumbers()).toEqual([1, 2, 3, 4]);
});

describe('trainStats on a real twnn train run', () => {
  const out = join(dir, 'train');
  let log = '';
  beforeAll(async () => {
    const r = await twnn(['train', 'graphs/sine-mlp.ts', '--epochs', '1', '--limit-steps', '8', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    log = r.stdout;
  });

  it('reads the batch, the epoch length and the step times', () => {
    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8');
    const stats = trainStats(metrics, log);
    const steps = metrics.trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.kind === 'step');
    expect(stats.steps).toBe(8);
    expect(stats.batch).toBe(64);
    expect(log).toContain(`1 epoch of ${stats.batchesPerEpoch} steps (batch 64`);
    // The median of steps 4..8, from the trainer's own samples/s.
    const times = steps.slice(3).map((r) => 64 / r.samples_per_s).sort((a: number, b: number) => a - b);
    expect(stats.medianStepSeconds).toBeCloseTo(times[2], 12);
    expect(stats.projectedEpochSeconds).toBeCloseTo(stats.batchesPerEpoch * times[2], 9);
    expect(stats.finalLoss).toBe(steps.at(-1).loss);
    expect(stats.trainerEpochSeconds).toBeGreaterThan(0);
    expect(stats.test).toMatch(/^loss \d/);
  });

  it('a log without the start line is a clear error', () => {
    expect(() => trainStats('{"kind":"step","samples_per_s":1}\n', 'nothing here')).toThrow("the train log has no 'N steps (batch B' start line");
  });
});

describe('kStepBenchmark on the CPU', () => {
  it('K single train.onnx steps and one train_steps.onnx run end in the same place', async () => {
    const exportDir = join(dir, 'sine-export');
    await exportModel(sineMlp, exportDir, { seed: 0 });
    const r = await kStepBenchmark(exportDir, { device: 'cpu', k: 4, repeats: 2, batch: 32 });
    expect(r).toMatchObject({ device: 'cpu', k: 4, batch: 32, steps: 8 });
    expect(r.lossMaxAbsDiff).toBeLessThan(1e-6);
    expect(r.paramMaxAbsDiff).toBeLessThan(1e-6);
    expect(r.singleSamplesPerSecond).toBeGreaterThan(0);
    expect(r.speedup).toBeCloseTo(r.stackedSamplesPerSecond / r.singleSamplesPerSecond, 9);
  });
});

describe('the summary', () => {
  it('has one line per comparison, the step statuses, and the frame', () => {
    const k: KStepResult = { device: 'cuda', k: 16, batch: 64, steps: 128, singleSamplesPerSecond: 4000, stackedSamplesPerSecond: 10000, speedup: 2.5, lossMaxAbsDiff: 2e-6, paramMaxAbsDiff: 1e-7 };
    const text = formatSummary({
      info: { gpu: 'NVIDIA H100 80GB HBM3, 81559 MiB', node: 'v20.20.2', ort: '1.29.0', date: '2026-11-26' },
      doctor: 'cuda: ready on cuda:0 (NVIDIA H100 80GB HBM3)',
      input: { model: 'm.onnx', source: 'the first 256 MNIST test images' },
      'diff:cuda (TF32 default)': { maxAbs: 1.2e-3, maxRel: 3e-4, meanAbs: 1e-4, argmaxAgree: 1, nonFinite: 0 },
      'train:cuda': { steps: 300, batch: 64, batchesPerEpoch: 938, medianStepSeconds: 0.005, samplesPerSecond: 12800, projectedEpochSeconds: 4.69 },
      'train:cpu': { steps: 300, batch: 64, batchesPerEpoch: 938, medianStepSeconds: 0.02, samplesPerSecond: 3200, projectedEpochSeconds: 18.76 },
      graph: 'graphs/mnist-resnet-plain.ts, --limit-steps 300',
      'ksteps:cuda': k,
      steps: [
        { name: 'doctor', status: 0, seconds: 4 },
        { name: 'train-cpu', status: 124, seconds: 120 },
        { name: 'ksteps-cpu', status: -1, seconds: 0 },
      ],
    });
    const lines = text.split('\n');
    expect(lines.at(-1)).toMatch(/^=+$/);
    expect(text).toContain('device      NVIDIA H100 80GB HBM3, 81559 MiB\n');
    expect(text).toContain('doctor      cuda: ready on cuda:0 (NVIDIA H100 80GB HBM3)\n');
    expect(text).toContain('inference   vs the CPU EP on the first 256 MNIST test images:\n');
    expect(text).toContain(`  ${'cuda (TF32 default)'.padEnd(44)} max|Δ|  1.2e-3  rel  3.0e-4  mean|Δ|  1.0e-4  argmax agrees 100.00%\n`);
    expect(text).toContain('epoch (938 steps of 64) ≈ 4.7 s');
    expect(text).toContain('  cuda vs cpu: 4.00× per step\n');
    expect(text).toContain('K=1 4000 samples/s, K=16 10000 samples/s: 2.50×');
    expect(text).toContain('steps       doctor ok 4s, train-cpu TIMEOUT 120s, ksteps-cpu skipped 0s\n');
  });
});

it('gpu-check.sh and gpu-bundle.sh are valid bash', () => {
  for (const script of ['tools/gpu-check.sh', 'tools/gpu-bundle.sh']) {
    const r = spawnSync('bash', ['-n', join(REPO, script)], { encoding: 'utf8' });
    expect(r.status, `${script}: ${r.stderr}`).toBe(0);
  }
});
