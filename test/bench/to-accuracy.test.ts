// `twnn bench to-accuracy` on a slice of MNIST: twnn and its PyTorch twin,
// trained from the same weights on the same batches, agree on the first steps
// and then follow the same trajectory (the same test accuracy after every
// turn), Anderson races beside them, the report says who got there first, and
// the command refuses what it cannot race.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import mlp from '../../graphs/mnist-mlp.js';
import { raceToAccuracy } from '../../lab/bench/to-accuracy.js';
import { accuracyReport, fastest, sharedAccuracy } from '../../lab/bench/to-accuracy-report.js';
import type { AccuracyRaceResult, RacePoint } from '../../lab/bench/to-accuracy.js';
import { SOLVER_VARIANTS } from '../../lab/bench/solvers.js';
import { makeDataset, takeBatch, type Dataset } from '../../src/data/batches.js';
import { loadTaskData } from '../../src/data/datasets.js';
import { expectUserError, twnn } from '../cli/run-cli.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-bench-accuracy-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function slice(split: 'train' | 'test', rows: number): Promise<Dataset> {
  const { x, target } = takeBatch(await loadTaskData(mlp.task!.data!, split), [...Array(rows).keys()]);
  return makeDataset(`mnist ${split}, first ${rows}`, x, target);
}

describe('raceToAccuracy', () => {
  it('trains twnn and the torch twin on the same run to a test accuracy', async () => {
    const variants = ['plain', 'anderson'].map((id) => SOLVER_VARIANTS.find((v) => v.id === id)!);
    const result = await raceToAccuracy({
      graph: 'graphs/mnist-mlp.ts',
      spec: mlp,
      weightsFrom: 'seed 0',
      train: await slice('train', 1024),
      test: await slice('test', 300),
      twnnVariants: variants,
      target: 0.8,
      evalEvery: 6,
      maxSteps: 30,
      evalBatch: 128,
      agreementSteps: 3,
      tuneSteps: 2,
      torchThreads: [1],
      openblasThreads: [1],
    });
    expect(result.agreement.ok).toBe(true);
    expect(result.agreement.lossDiff).toBeLessThan(1e-4);
    expect(result.plannedSteps).toBe(2 * 16);
    expect(result.tuning.map((t) => t.mode)).toEqual(['dense', 'active']);
    expect(result.contestants.map((c) => c.id)).toEqual(['twnn plain', 'twnn anderson', `torch ${[...result.tuning].sort((a, b) => a.seconds - b.seconds)[0].mode}`]);
    const [plain, anderson, torch] = result.contestants;
    // The same run on both sides: the same turns, test accuracies within a sample or two, the same sweeps.
    expect(plain.timeline.map((p) => p.step)).toEqual(torch.timeline.map((p) => p.step));
    plain.timeline.forEach((p, k) => {
      expect(Math.abs(p.accuracy - torch.timeline[k].accuracy), `step ${p.step}`).toBeLessThanOrEqual(2 / 300);
      expect(p.sweeps).toBeCloseTo(torch.timeline[k].sweeps, 0);
      expect(p.loss).toBeCloseTo(torch.timeline[k].loss, 3);
    });
    for (const c of result.contestants) {
      expect(c.reached, c.id).toBeDefined();
      expect(c.reached!.accuracy).toBeGreaterThanOrEqual(0.8);
      expect(c.timeline[c.timeline.length - 1].step).toBe(c.reached!.step);
      // Accuracy climbs from chance, and the clock only moves forward.
      expect(c.timeline[0].accuracy).toBeGreaterThan(0.1);
      for (let k = 1; k < c.timeline.length; k++) expect(c.timeline[k].seconds).toBeGreaterThan(c.timeline[k - 1].seconds);
    }
    // Anderson finds the same fixed points (to the tolerance), so its run follows plain iteration's closely.
    expect(anderson.timeline.map((p) => p.step)).toEqual(plain.timeline.map((p) => p.step));
    anderson.timeline.forEach((p, k) => expect(Math.abs(p.accuracy - plain.timeline[k].accuracy), `step ${p.step}`).toBeLessThanOrEqual(0.02));
    const report = accuracyReport(result, 'twnn bench to-accuracy graphs/mnist-mlp.ts');
    expect(report).toContain('## Time to 80.00% test accuracy');
    expect(report).toContain(`| twnn plain | ${variants[0].label} | ${plain.reached!.step} |`);
    expect(report).toMatch(new RegExp(`\\*\\*Verdict\\*\\*: twnn's fastest \\(${fastest(result, 'twnn')!.id}\\) takes \\d+\\.\\d\\dx the time`));
  }, 120_000);
});

describe('accuracyReport', () => {
  const point = (step: number, seconds: number, accuracy: number): RacePoint => ({ step, seconds, accuracy, testSweeps: 10, loss: 0.1, sweeps: 12, adjointSteps: 8 });
  const result: AccuracyRaceResult = {
    graph: 'graphs/mnist-resnet.ts',
    weightsFrom: 'seed 0',
    target: 0.99,
    evalEvery: 100,
    maxSteps: 300,
    batch: 64,
    plannedSteps: 7504,
    lr: 0.001,
    lrSchedule: 'cosine',
    clipNorm: 1,
    agreement: { steps: 3, lossDiff: 1e-7, sweepsDiff: 0, limit: 1e-3, ok: true },
    tuning: [{ openblas: 'OPENBLAS_NUM_THREADS=1', threads: 2, mode: 'active', seconds: 1 }],
    contestants: [
      { id: 'twnn plain', engine: 'twnn', label: 'plain', timeline: [point(100, 50, 0.97), point(200, 100, 0.99)], reached: { step: 200, seconds: 100, accuracy: 0.99 } },
      { id: 'torch active', engine: 'torch', label: 'twin', timeline: [point(100, 20, 0.975), point(200, 40, 0.985), point(300, 60, 0.98)] },
    ],
    seconds: 600,
  };

  it("says when PyTorch missed the target, and compares the times to the best accuracy both reached", () => {
    expect(sharedAccuracy(result)).toBe(0.985);
    const report = accuracyReport(result, 'twnn bench to-accuracy --clip-norm 1');
    expect(report).toContain("and the gradient's norm clipped at 1 by twnn");
    expect(report).toContain('| torch active | twin | not reached in 300 (best 98.50%) | – |');
    expect(report).toContain('**Verdict**: PyTorch did not reach 99.00% within 300 steps, so there is no ratio.');
    // twnn first reached 98.5% at 100 s (its 99% evaluation), PyTorch at 40 s.
    expect(report).toContain("The highest test accuracy every contestant reached is 98.50%: twnn's fastest there (twnn plain) took 100 s, PyTorch's (torch active) 40 s: 2.50x.");
  });
});

describe('twnn bench to-accuracy', () => {
  it('writes its report atomically to --out', async () => {
    const out = join(root, 'accuracy.md');
    // The sine task is a regression: refused before any training.
    expectUserError(await twnn(['bench', 'to-accuracy', 'graphs/sine.ts', '-o', out]), "graphs/sine.ts: bench to-accuracy needs a classification task (task.loss 'cross_entropy' and task.data)");
    expectUserError(await twnn(['bench', 'to-accuracy', '--solvers', 'plain,broyden']), '--solvers expects a comma-separated list of plain, anderson; unknown: broyden');
    expect(() => readFileSync(out)).toThrow();
  }, 60_000);
});
