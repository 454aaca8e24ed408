// `train({ spectral: true })` (twnn train --spectral): spectral.onnx is
// exported, and each epoch line of metrics.jsonl records each region's
// spectral radius on the same test samples with that epoch's weights.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import sine from '../../graphs/sine.js';
import { loadSine } from '../../src/data/sine.js';
import { Tensor } from '../../src/ir/tensor.js';
import { DEFAULT_POWER_STEPS } from '../../src/lower/spectral.js';
import { readInitializers, readModelFile } from '../../src/onnx/load.js';
import { readMetrics } from '../../src/runtime/metrics.js';
import { openSession } from '../../src/runtime/session.js';
import { train, type TrainEvent } from '../../src/runtime/trainer.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-train-spectral-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// 300 samples, windows of 16: 227 train windows, 57 test windows (fewer than the 256 measured, so all of them).
const smallSine = { train: loadSine({ window: 16, length: 300 }, 'train'), test: loadSine({ window: 16, length: 300 }, 'test') };

describe('train with spectral', () => {
  it("logs region1's spectral radius per epoch: the last one is spectral.onnx's on the test windows with the trained weights", async () => {
    const outDir = join(dir, 'sine');
    const events: TrainEvent[] = [];
    await train({ spec: sine, outDir, epochs: 2, batch: 32, data: smallSine, spectral: true, onProgress: (e) => events.push(e) });
    const epochs = readMetrics(join(outDir, 'metrics.jsonl')).flatMap((r) => (r.kind === 'epoch' ? [r] : []));
    expect(epochs).toHaveLength(2);
    for (const r of epochs) {
      const s = r.spectral_radius!.region1;
      expect(s.mean).toBeGreaterThan(0);
      expect(s.max).toBeGreaterThanOrEqual(s.mean);
      expect(s.max).toBeLessThan(1);
    }
    // The weights moved, so did the estimate.
    expect(epochs[0].spectral_radius!.region1.mean).not.toBe(epochs[1].spectral_radius!.region1.mean);
    const reported = events.flatMap((e) => (e.kind === 'epoch' ? [e.spectral] : []));
    expect(reported.map((s) => s?.map((r) => r.samples))).toEqual([[57], [57]]);

    const session = await openSession(join(outDir, 'spectral.onnx'));
    const weights = readInitializers(await readModelFile(join(outDir, 'model.onnx')));
    const feeds: Record<string, Tensor> = { x: smallSine.test.x, power_steps: Tensor.fromNumbers('int64', [], [DEFAULT_POWER_STEPS]) };
    for (const name of session.inputNames) if (!(name in feeds)) feeds[name] = weights.get(name)!;
    const rho = (await session.run(feeds)).spectral_radius.toNumbers();
    await session.close();
    const last = epochs[1].spectral_radius!.region1;
    expect(last.mean).toBeCloseTo(rho.reduce((a, b) => a + b, 0) / rho.length, 6);
    expect(last.max).toBeCloseTo(Math.max(...rho), 6);
  }, 180_000);

  it('without it: no spectral.onnx and no spectral_radius in metrics.jsonl', async () => {
    const outDir = join(dir, 'plain');
    await train({ spec: sine, outDir, epochs: 1, batch: 32, data: smallSine });
    expect(existsSync(join(outDir, 'spectral.onnx'))).toBe(false);
    const [epoch] = readMetrics(join(outDir, 'metrics.jsonl')).filter((r) => r.kind === 'epoch');
    expect(epoch).not.toHaveProperty('spectral_radius');
  }, 180_000);
});
