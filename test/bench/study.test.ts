// `benchStudy` end to end on tiny runs: a small conv TWNN with a skip-gated
// block and a plain conv net, two seeds each, trained through the study's own
// `train` hook on MNIST rows, plus a seed never trained. STUDY.md and
// study.json must hold every run, accuracies an independent evaluation
// reproduces, the skip rates and the accuracy without skipping, the skip
// timings at batch 1 and 64, and a verdict per claim.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percent, signed } from '../../lab/bench/format.js';
import { benchPaper } from '../../lab/bench/paper.js';
import { benchStudy } from '../../lab/bench/study.js';
import type { StudyReport } from '../../lab/bench/study-types.js';
import { studyRuns, type StudyModel } from '../../lab/bench/study-runs.js';
import type { Dataset } from '../../src/data/batches.js';
import { basicBlock, conv2d, defineModel, dense, flatten, globalAvgPool, region, sequential, type ModelSpec } from '../../src/index.js';
import { evaluate } from '../../src/runtime/metrics.js';
import { openSession } from '../../src/runtime/session.js';
import { train } from '../../src/runtime/trainer.js';
import { mnistSubsets } from '../helpers/mnist-subsets.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-bench-study-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const task = { loss: 'cross_entropy', data: { kind: 'mnist', layout: 'image' }, train: { epochs: 1, batch: 32, lr: 3e-3 } } as const;
const gn = { norm: 'group', groups: 2 } as const;
const stem = () => conv2d(1, 4, 4, { stride: 4 }); // [B,1,28,28] -> [B,4,7,7]
const specs: Record<string, ModelSpec> = {
  'tiny-skip.ts': defineModel({
    name: 'tiny-skip',
    input: { shape: ['B', 1, 28, 28] },
    net: sequential({
      stem: stem(),
      r: region({ blocks: { B1: basicBlock(4, 4, gn), B2: basicBlock(4, 4, { ...gn, skip: { gateBias: 0 } }) }, wormholes: [{ from: 'B2', to: 'B1' }] }),
      pool: globalAvgPool(),
      flatten: flatten(),
      head: dense(4, 10),
    }),
    task,
  }),
  'tiny-plain.ts': defineModel({ name: 'tiny-plain', input: { shape: ['B', 1, 28, 28] }, net: sequential({ stem: stem(), b: basicBlock(4, 4, gn), pool: globalAvgPool(), flatten: flatten(), head: dense(4, 10) }), task }),
};
const models: StudyModel[] = [
  { id: 'tiny-skip', label: 'Tiny TWNN, skipping', role: 'twnn', paperName: 'TWRNN skipping B4', graph: 'tiny-skip.ts', kind: 'twnn-skip' },
  { id: 'tiny-plain', label: 'Tiny plain', role: 'baseline', paperName: 'ResNet-36', graph: 'tiny-plain.ts', kind: 'same-blocks' },
];
const loadSpec = async (file: string) => {
  if (!specs[file]) throw new Error(`no graph file ${file}`);
  return specs[file];
};
const runs = studyRuns(models, [0, 1], root);
const never = studyRuns(models.slice(1), [7], root);
// The longer-training check: seed 0 again, for 2 epochs instead of the graph files' 1.
const long = studyRuns(models, [0], join(root, 'long'), 2);

let trainSet: Dataset;
let testSet: Dataset;
let report: StudyReport;
let markdown: string;
const trained: string[] = [];

beforeAll(async () => {
  ({ train: trainSet, test: testSet } = await mnistSubsets('image', 320, 192));
  ({ report } = await benchStudy({
    runs: [...runs, ...never],
    longRuns: long,
    outDir: join(root, 'docs'),
    loadSpec,
    // Trains what is missing; the never-trained seed is left out, to be reported as missing.
    train: async (run) => {
      if (run.seed === 7) return;
      trained.push(run.dir);
      await train({ spec: await loadSpec(run.model.graph), outDir: run.dir, seed: run.seed, ...(run.epochs ? { epochs: run.epochs } : {}), data: { train: trainSet, test: testSet } });
    },
    testData: async () => testSet,
    stepRepeats: 1,
    stepRounds: 2,
    skipMemory: true,
    skipTimingSamples: 5,
    skipTimingBatches: 2,
  }));
  markdown = readFileSync(join(root, 'docs', 'STUDY.md'), 'utf8');
}, 300_000);

describe('benchStudy on tiny runs', () => {
  it('trains the missing runs, then lists every run with its command, a missing one marked', () => {
    expect(trained).toEqual([...runs, ...long].map((r) => r.dir));
    expect(report.runs.map((r) => `${r.model}-s${r.seed}:${r.status}`)).toEqual(['tiny-skip-s0:done', 'tiny-skip-s1:done', 'tiny-plain-s0:done', 'tiny-plain-s1:done', 'tiny-plain-s7:missing']);
    for (const r of [...runs, ...never]) expect(markdown).toContain(`\`${r.command}\``);
    expect(JSON.parse(readFileSync(join(root, 'docs', 'study.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(report)));
  });

  it('reports accuracies an independent evaluation reproduces, with mean and spread over the seeds', async () => {
    const accuracies: number[] = [];
    for (const r of runs.slice(2)) {
      const session = await openSession(join(r.dir, 'model.onnx'));
      accuracies.push((await evaluate(session, testSet, 'cross_entropy', 64)).accuracy!);
      await session.close();
    }
    const plain = report.models.find((m) => m.id === 'tiny-plain')!;
    expect(plain.accuracy.n).toBe(2);
    expect(plain.accuracy.mean).toBeCloseTo((accuracies[0] + accuracies[1]) / 2, 12);
    expect(plain.accuracy.std).toBeCloseTo(Math.abs(accuracies[0] - accuracies[1]) / Math.SQRT2, 12);
    expect(markdown).toContain(`s0: ${percent(accuracies[0])}, s1: ${percent(accuracies[1])}`);
  });

  it('reports skip rates per block, the same accuracy computed densely, and skip timings at batch 1 and 64', () => {
    const skip = report.models.find((m) => m.id === 'tiny-skip')!;
    expect(skip.skip!.rates.map((r) => r.block)).toEqual(['r.B2']);
    expect(skip.skip!.rates[0].rate.n).toBe(2);
    // Computed densely, the same weights compute the same function.
    expect(skip.skip!.unskippedAccuracy.n).toBe(2);
    expect(skip.skip!.unskippedAccuracy.mean).toBeCloseTo(skip.accuracy.mean, 12);
    expect(report.skipTimings.map((t) => [t.batch, t.inputs])).toEqual([[1, 5], [64, 2]]);
    for (const t of report.skipTimings) expect(t.skippingMs > 0 && t.unskippedMs > 0).toBe(true);
    expect(markdown).toContain('| r.B2 |');
  });

  it('times a training step of each model round-robin and places each epoch on the training-time axis', () => {
    for (const m of report.models) {
      expect(m.msPerStep).toBeGreaterThan(0);
      expect(m.perEpoch).toHaveLength(1);
      expect(m.perEpoch[0].benchSeconds).toBeCloseTo((report.method.stepsPerEpoch * m.msPerStep!) / 1000, 9);
    }
  });

  it('judges the claims it has models for, each with a verdict', () => {
    const claims = report.verdicts.claims.map((c) => c.claim);
    expect(claims.filter((c) => c.startsWith('Skipping saves inference time'))).toHaveLength(2);
    expect(markdown).toMatch(/\| Skipping saves inference time at batch 1 \|.*\| \*\*(holds|does not hold)\*\* \|/);
    expect(existsSync(join(root, 'docs', 'STUDY.md'))).toBe(true);
  });

  it('reports the longer-training check: every epoch, model.onnx re-evaluated, and the gap against the study runs of the same seed', async () => {
    const l = report.long!;
    expect(l.epochs).toBe(2);
    expect(l.runs.map((r) => `${r.model}-s${r.seed}:${r.status}:${r.epochs.length}`)).toEqual(['tiny-skip-s0:done:2', 'tiny-plain-s0:done:2']);
    const accuracy: number[] = [];
    for (const r of long) {
      const session = await openSession(join(r.dir, 'model.onnx'));
      accuracy.push((await evaluate(session, testSet, 'cross_entropy', 64)).accuracy!);
      await session.close();
    }
    expect(l.runs.map((r) => r.test!.accuracy)).toEqual(accuracy);
    const studyS0 = (id: string) => report.runs.find((r) => r.model === id && r.seed === 0)!.test!.accuracy;
    expect(l.gaps).toEqual([
      { twnn: 'tiny-skip', baseline: 'tiny-plain', seed: 0, epochs: 2, gap: accuracy[0] - accuracy[1], studyGap: studyS0('tiny-skip') - studyS0('tiny-plain'), studyEpochs: 1 },
    ]);
    expect(markdown).toContain('## Longer training: 2 epochs, seed 0');
    const e = l.runs[1].epochs;
    expect(markdown).toContain(`| Tiny plain | 0 | ${percent(e[0].accuracy)} | ${percent(e[1].accuracy)} | ${percent(accuracy[1])} |`);
    expect(markdown).toContain(`| Tiny TWNN, skipping | Tiny plain | 0 | ${signed(accuracy[0] - accuracy[1], 2, 100)} (2 epochs) | ${signed(studyS0('tiny-skip') - studyS0('tiny-plain'), 2, 100)} (1 epoch) |`);
    for (const r of long) expect(markdown).toContain(`\`twnn train ${r.model.graph} --seed 0 --epochs 2 -o ${r.dir}\``);
  });

  it("lands in RESULTS.md: twnn bench paper includes the study.json beside it", async () => {
    await benchPaper({ runs: [], outDir: join(root, 'docs'), sineReport: join(root, 'no-sine.json') });
    const results = readFileSync(join(root, 'docs', 'RESULTS.md'), 'utf8');
    expect(results).toContain('## 2b. Fashion-MNIST: do wormholes help? (issue 14)');
    const plain = report.models.find((m) => m.id === 'tiny-plain')!;
    expect(results).toContain(`| Tiny plain | ResNet-36 | 2 | ${percent(plain.accuracy.mean)} ± ${percent(plain.accuracy.std)} |`);
    for (const c of report.verdicts.claims) expect(results).toContain(`| ${c.claim} |`);
    expect(results).toContain('Longer training, one seed (2 epochs; not judged');
    expect(results).toMatch(/\| Tiny TWNN, skipping \| Tiny plain \| 0 \| [+−]\d+\.\d\d \(2 epochs\) \| [+−]\d+\.\d\d \(1 epoch\) \|/);
  });
});
