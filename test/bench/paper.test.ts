// `benchPaper` end to end on small fake runs: a tiny TWNN and a tiny plain
// network trained for a few steps on MNIST examples, a run that was never
// trained, the TWNN as git keeps it (no checkpoint, no train.onnx), and a sine
// report; RESULTS.md must hold every row, numbers that an independent
// evaluation reproduces, and every figure it links.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percent } from '../../lab/bench/format.js';
import { benchPaper } from '../../lab/bench/paper.js';
import type { PaperReport } from '../../lab/bench/paper-types.js';
import type { BenchRun } from '../../lab/bench/runs.js';
import type { Dataset } from '../../src/data/batches.js';
import { defineModel, dense, exportModel, region, relu, sequential, tanh } from '../../src/index.js';
import { evaluate } from '../../src/runtime/metrics.js';
import { openSession } from '../../src/runtime/session.js';
import { train } from '../../src/runtime/trainer.js';
import { mnistSubsets } from '../helpers/mnist-subsets.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-bench-paper-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const task = { loss: 'cross_entropy', data: { kind: 'mnist', layout: 'flat' }, train: { epochs: 1, batch: 32, lr: 3e-3 } } as const;
/** An open gate (bias 0) and a tight tol, so samples differ in their sweeps. */
const tinyTwnn = defineModel({
  name: 'tiny-twnn',
  input: { shape: ['B', 784] },
  net: sequential({
    stem: sequential(dense(784, 16), relu()),
    region1: region({
      blocks: [sequential(dense(16, 16), tanh()), sequential(dense(16, 16), tanh())],
      wormholes: [{ from: 2, to: 1, gateBias: 0 }],
      iterate: { tol: 1e-5, maxIter: 40 },
    }),
    head: dense(16, 10),
  }),
  task,
});
const tinyPlain = defineModel({ name: 'tiny-plain', input: { shape: ['B', 784] }, net: sequential(dense(784, 16), relu(), dense(16, 10)), task });

const runs: BenchRun[] = [
  { id: 'tiny', label: 'Tiny TWNN', family: 'Tiny MLP', role: 'twnn', dir: join(root, 'tiny-twnn'), command: 'twnn train tiny-twnn.ts', note: 'a fake run for the test' },
  { id: 'tiny-plain', label: 'Tiny plain', family: 'Tiny MLP', role: 'baseline', dir: join(root, 'tiny-plain'), command: 'twnn train tiny-plain.ts --limit-steps 10' },
  { id: 'never', label: 'Never trained', family: 'Tiny MLP', role: 'baseline', dir: join(root, 'never'), command: 'twnn train never.ts --epochs 3' },
  { id: 'stopped', label: 'Still training', family: 'Tiny MLP', role: 'baseline', dir: join(root, 'stopped'), command: 'twnn train stopped.ts' },
  // The tiny TWNN's folder as git keeps it: with its graph file, and without.
  { id: 'committed', label: 'Tiny TWNN, committed', family: 'Committed', role: 'twnn', dir: join(root, 'committed'), command: 'twnn train tiny-twnn.ts', graph: 'tiny-twnn.ts' },
  { id: 'committed-bare', label: 'Tiny TWNN, committed, no graph', family: 'Committed', role: 'baseline', dir: join(root, 'committed-bare'), command: 'twnn train tiny-twnn.ts' },
];
/** The CLI's loadModelSpec imports the graph file; here its one graph is at hand. */
const loadSpec = async (file: string) => {
  if (file !== 'tiny-twnn.ts') throw new Error(`no graph file ${file}`);
  return tinyTwnn;
};

let trainSet: Dataset;
let testSet: Dataset;
let report: PaperReport;
let files: string[];
let results: string;
const out = join(root, 'docs');

beforeAll(async () => {
  ({ train: trainSet, test: testSet } = await mnistSubsets('flat', 640, 400));
  await train({ spec: tinyTwnn, outDir: runs[0].dir, data: { train: trainSet, test: testSet }, seed: 1 });
  await train({ spec: tinyPlain, outDir: runs[1].dir, data: { train: trainSet, test: testSet }, seed: 1, limitSteps: 10 });
  // A run caught mid-training: its checkpoint has moved on, its model.onnx still holds the initial weights.
  await train({ spec: tinyPlain, outDir: runs[3].dir, data: { train: trainSet, test: testSet }, seed: 1, limitSteps: 2 });
  await exportModel(tinyPlain, runs[3].dir, { seed: 1 });
  for (const r of runs.slice(4)) {
    mkdirSync(r.dir);
    for (const file of ['model.onnx', 'manifest.json', 'metrics.jsonl']) copyFileSync(join(runs[0].dir, file), join(r.dir, file));
  }
  const sineReport = join(root, 'sine-report.json');
  writeFileSync(sineReport, JSON.stringify({ task: 'sine', test: { mse: 0.00123, tiny: 1.0927589878649694e-6, mean: 4.2603905858788185, generated: 200 }, notes: ['ignored list'], files: { wave: 'sine.svg' } }));
  ({ report, files } = await benchPaper({
    runs,
    outDir: out,
    testData: async () => testSet,
    trainSize: () => trainSet.x.shape[0],
    latencyCount: 20,
    latencyRepeats: 1,
    stepRepeats: 2,
    sineReport,
    loadSpec,
  }));
  results = readFileSync(join(out, 'RESULTS.md'), 'utf8');
}, 300_000);

/** The table row of `label` in RESULTS.md, split into cells. */
function row(label: string): string[] {
  const line = results.split('\n').find((l) => l.startsWith(`| ${label} |`));
  if (!line) throw new Error(`no row for ${label} in:\n${results}`);
  return line.split(' | ').map((c) => c.replace(/^\| ?| ?\|$/g, ''));
}

describe('benchPaper on fake runs', () => {
  it('writes RESULTS.md with a row per run, the command of each, and the untrained run marked', () => {
    expect(files[0]).toBe(join(out, 'RESULTS.md'));
    for (const r of runs) expect(row(r.label).at(-1)).toBe(`\`${r.command}\``);
    expect(row('Never trained')[2]).toBe('not run yet');
    expect(row('Still training')[2]).toBe('not finished (see notes)');
    expect(results).toContain(`- **Still training**: run 'stopped': ${join(runs[3].dir, 'model.onnx')} does not hold the weights of`);
    expect(row('Tiny TWNN')[1]).toBe('twnn');
    expect(results).toContain('- **Tiny TWNN**: a fake run for the test');
  });

  it('reports accuracies that an independent evaluation of each model.onnx reproduces', async () => {
    for (const [k, r] of runs.slice(0, 2).entries()) {
      const session = await openSession(join(r.dir, 'model.onnx'));
      const expected = await evaluate(session, testSet, 'cross_entropy', 64);
      await session.close();
      expect(report.runs[k].test!.accuracy).toBeCloseTo(expected.accuracy!, 12);
      expect(report.runs[k].test!.sweepsMean).toBeCloseTo(expected.iterationsMean, 12);
      expect(row(r.label)[2]).toBe(percent(expected.accuracy!));
    }
  });

  it('takes parameters from the manifest and epochs and time from the checkpoint (projected when stopped mid-epoch)', () => {
    const manifest = JSON.parse(readFileSync(join(runs[0].dir, 'manifest.json'), 'utf8')) as { trainableParameterCount: number };
    expect(row('Tiny TWNN')[3]).toBe(manifest.trainableParameterCount.toLocaleString('en-US'));
    expect(row('Tiny TWNN')[4]).toBe('1');
    expect(row('Tiny TWNN')[5]).toMatch(/^\d+\.\d s on cpu$/);
    expect(row('Tiny plain')[4]).toBe('0.50');
    expect(row('Tiny plain')[5]).toMatch(/ \(projected\) on cpu$/);
    expect(row('Tiny plain')[7]).toBe('1 / 1 (no regions)');
  });

  it('times a training step of every trained run in the bench itself', () => {
    for (const r of report.runs.slice(0, 2)) {
      expect(r.stepTime!.repeats).toBe(2);
      expect(r.stepTime!.batch).toBe(32);
      expect(r.stepTime!.msPerStep).toBeGreaterThan(0);
    }
    expect(row('Tiny TWNN')[6]).toMatch(/^\d+\.\d ms \(batch 32\)$/);
    expect(results).toMatch(/a training step takes \d+\.\d\dx the baseline's, timed back to back in this bench/);
  });

  it('measures the peak memory of a training step in a child process', () => {
    for (const r of report.runs.slice(0, 2)) {
      expect(r.memoryError).toBeUndefined();
      expect(r.memory!.sweeps).toBeGreaterThanOrEqual(1);
      // Node and onnxruntime alone take tens of MiB.
      expect(r.memory!.rssBeforeKb).toBeGreaterThan(20 * 1024);
      expect(r.memory!.peakKb).toBeGreaterThanOrEqual(r.memory!.rssBeforeKb);
    }
    expect(row('Tiny TWNN')[9]).toMatch(/^\d+\.\d MiB \(\d+\.\d MiB\)$/);
  });

  it('gives the dynamic-depth evidence of the TWNN only, from its per-sample sweeps', () => {
    const twnn = report.runs[0];
    const ps = twnn.perSample!;
    expect(ps.samples).toBe(400);
    expect(twnn.depth!.buckets.reduce((s, b) => s + b.samples, 0)).toBe(400);
    expect(twnn.depth!.distribution.min).toBeGreaterThanOrEqual(2);
    expect(twnn.depth!.distribution.max).toBeGreaterThan(twnn.depth!.distribution.min);
    expect(report.runs[1].depth).toBeUndefined();
    const l = twnn.latency!;
    expect(l.easy.rows).toHaveLength(20);
    expect(Math.max(...l.easy.rows.map((r) => ps.sweeps[r]))).toBeLessThanOrEqual(Math.min(...l.hard.rows.map((r) => ps.sweeps[r])));
    expect(l.sweepRatio).toBeCloseTo(l.hard.sweepsMean / l.easy.sweepsMean, 12);
    expect(l.timeRatio).toBeGreaterThan(0);
    expect(results).toContain('### Tiny TWNN');
    expect(results).toContain('point-biserial r(sweeps, correct)');
    expect(results).toMatch(/\| time ratio hard \/ easy \(sweep ratio\) \| \d+\.\d\dx \(\d+\.\d\dx\) \|/);
  });

  it('writes every figure it links, as SVG and PNG', () => {
    const linked = [...results.matchAll(/\]\((figures\/[^)]+)\.svg\)/g)].map((m) => m[1]);
    expect(linked).toEqual(expect.arrayContaining(['figures/sweeps-tiny', 'figures/confidence-tiny', 'figures/loss-tiny-mlp']));
    for (const f of linked) {
      expect(readFileSync(join(out, `${f}.svg`), 'utf8')).toMatch(/^<svg/);
      expect([...readFileSync(join(out, `${f}.png`)).subarray(1, 4)].map((b) => String.fromCharCode(b)).join('')).toBe('PNG');
    }
    expect(files.filter((f) => f.endsWith('.svg') || f.endsWith('.png'))).toHaveLength(2 * linked.length);
  });

  it("includes the sine report's scalar fields and the paper's settings", () => {
    expect(results).toContain('| test.mse | 0.00123 |');
    expect(results).toContain('| test.tiny | 1.093e-6 |');
    expect(results).toContain('| test.mean | 4.26 |');
    expect(results).toContain('| test.generated | 200 |');
    expect(results).toContain('| task | sine |');
    expect(results).not.toContain('ignored list');
    expect(results).not.toContain('sine.svg');
    expect(results).toContain('| paper, Table II | 0.001 | — | 64 |');
    expect(results).toMatch(/\| Tiny TWNN \| 0\.003 \| constant \| 32 \| 1 \| adam \| 0\.00001 \| 40 \| implicit \| 1 \|/);
  });

  it('says what cannot be checked', () => {
    expect(results).toContain('**cannot be checked here**');
    expect(results).toContain('| TWRNN | 96.54% |');
    expect(existsSync(join(out, 'figures'))).toBe(true);
  });
});

describe('benchPaper on a committed run (model.onnx, manifest.json and metrics.jsonl only)', () => {
  const local = () => report.runs[0];
  const committed = () => report.runs[4];
  const bare = () => report.runs[5];

  it('reports what the run with its checkpoint reports: settings, epochs, accuracy', () => {
    expect(local().loaded!.from).toBe('checkpoint');
    for (const r of [committed(), bare()]) {
      expect(r.loaded!.from).toBe('metrics');
      const { hyper: _a, ...config } = r.loaded!.config;
      const { hyper: _b, ...expected } = local().loaded!.config;
      expect(config).toEqual(expected);
      expect(r.loaded!.position).toMatchObject({ epoch: 1, position: 0, step: local().loaded!.position.step });
      expect(r.training!.secondsPerEpoch).toBeCloseTo(local().training!.secondsPerEpoch, 2);
      expect(r.test).toEqual(local().test);
    }
    expect(row('Tiny TWNN, committed')[2]).toBe(row('Tiny TWNN')[2]);
    expect(row('Tiny TWNN, committed')[4]).toBe('1');
    expect(results).toMatch(/\| Tiny TWNN, committed \| 0\.003 \| constant \| 32 \| 1 \| adam \| 0\.00001 \| 40 \| implicit \| 1 \|/);
  });

  it("times and measures a training step of its graph file exported again, the run's own train.onnx byte for byte", () => {
    expect(local().stepGraph).toBe('run');
    expect(local().stepGraphIdentical).toBeUndefined();
    const r = committed();
    expect(r.stepGraph).toBe('re-exported');
    expect(r.stepGraphIdentical).toBe(true);
    expect(r.stepError).toBeUndefined();
    expect(r.stepTime!.batch).toBe(32);
    expect(r.stepTime!.msPerStep).toBeGreaterThan(0);
    expect(r.memoryError).toBeUndefined();
    expect(r.memory!.sweeps).toBeGreaterThanOrEqual(1);
    expect(row('Tiny TWNN, committed')[6]).toMatch(/^\d+\.\d ms \(batch 32\)$/);
    expect(readFileSync(join(r.run.dir, 'metrics.jsonl'), 'utf8')).toBe(readFileSync(join(runs[0].dir, 'metrics.jsonl'), 'utf8'));
    expect(existsSync(join(r.run.dir, 'train.onnx'))).toBe(false);
  });

  it('skips the step of a committed run without a graph file, saying why', () => {
    const r = bare();
    const why = `run 'committed-bare': ${join(r.run.dir, 'train.onnx')} is missing (git keeps a run's model.onnx, manifest.json and metrics.jsonl only) and the run names no graph file ('graph')`;
    expect(r.stepError).toContain(why);
    expect(r.stepTime).toBeUndefined();
    expect(r.memory).toBeUndefined();
    expect(r.stepGraph).toBeUndefined();
    expect(row('Tiny TWNN, committed, no graph')[6]).toBe('not timed');
    expect(row('Tiny TWNN, committed, no graph')[9]).toBe('failed (see notes)');
    expect(results).toContain(`- **Tiny TWNN, committed, no graph**: the peak memory could not be measured: ${why}`);
  });
});
