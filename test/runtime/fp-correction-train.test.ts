// Training graphs/sine.ts with a fixed-point correction (task.train.fpCorrection):
// train.onnx runs, metrics.jsonl reports each step's terms, and the manifest
// says what train.onnx minimises.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import sine from '../../graphs/sine.js';
import { loadSine } from '../../src/data/sine.js';
import { defineModel } from '../../src/index.js';
import { readMetrics } from '../../src/runtime/metrics.js';
import { train } from '../../src/runtime/trainer.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-fpcorr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const smallSine = { train: loadSine({ window: 16, length: 300 }, 'train'), test: loadSine({ window: 16, length: 300 }, 'test') };

describe('training with a fixed-point correction', () => {
  it('trains graphs/sine.ts and reports the terms in metrics.jsonl', async () => {
    const spec = defineModel({
      name: 'sine-fpcorr',
      input: { shape: [...sine.input.shape], dtype: 'float' },
      net: sine.net,
      task: { ...sine.task, train: { ...sine.task?.train, fpCorrection: { terms: 2, gamma: 0.8, phantomSteps: 1 } } },
    });
    const outDir = join(dir, 'sine');
    const result = await train({ spec, outDir, epochs: 1, batch: 32, data: smallSine, limitSteps: 6 });
    expect(result.steps).toBe(6);
    const steps = readMetrics(join(outDir, 'metrics.jsonl')).filter((r) => r.kind === 'step');
    expect(steps).toHaveLength(6);
    for (const r of steps) {
      if (r.kind !== 'step') continue;
      expect(r.fp_correction).toHaveLength(2);
      expect(r.fp_correction!.every((v) => Number.isFinite(v) && v > 0)).toBe(true);
      // The sine TWNN's region settles in 4-5 sweeps, so its first terms start from S_1 (the first sweep), not the fixed point.
      expect(r.fp_correction).not.toEqual([r.loss, r.loss]);
    }
    const manifest = JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8'));
    expect(manifest.training.fpCorrection.terms).toBe(2);
    expect(manifest.training.fpCorrection.weights[0]).toBeCloseTo(0.64, 12);
    expect(manifest.training.fpCorrection.weights[1]).toBeCloseTo(0.8, 12);
    expect(manifest.graphs['train.onnx'].outputs.map((v: { name: string }) => v.name)).toContain('fp_correction');
  });
});
