// `twnn bench stability` (issue 24's experiment): its run list and commands,
// the collapse detector on the committed fixed-point runs and on synthetic
// logs, the runner and report on tiny real runs (one finished, one that
// diverges, one stopped early and resumed, one killed before its first
// checkpoint and started again, one never trained), and the CLI.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANCE_LOSS, detectCollapse } from '../../lab/bench/collapse.js';
import { percent } from '../../lab/bench/format.js';
import { benchStability, DIVERGED_FILE } from '../../lab/bench/stability.js';
import { lrText, selectRuns, stabilityRuns, STABILITY_VARIANTS, type StabilityRun, type StabilityVariant } from '../../lab/bench/stability-runs.js';
import type { StabilityReport } from '../../lab/bench/stability-types.js';
import type { Dataset } from '../../src/data/batches.js';
import { basicBlock, conv2d, defineModel, dense, flatten, globalAvgPool, region, sequential } from '../../src/index.js';
import { evaluate, readMetrics, type MetricsRecord } from '../../src/runtime/metrics.js';
import { openSession } from '../../src/runtime/session.js';
import { train } from '../../src/runtime/trainer.js';
import { expectUserError, REPO, twnn } from '../cli/run-cli.js';
import { mnistSubsets } from '../helpers/mnist-subsets.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-bench-stability-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the run list', () => {
  it('is 3 variants × 2 lrs × 3 seeds, each with its folder and exact train command', () => {
    const runs = stabilityRuns();
    expect(runs).toHaveLength(18);
    expect(STABILITY_VARIANTS.map((v) => v.graph)).toEqual(['graphs/fashion-resnet-contractive.ts', 'graphs/fashion-resnet-fpcorr.ts', 'graphs/fashion-resnet-noclip.ts']);
    expect(new Set(runs.map((r) => r.dir)).size).toBe(18);
    const r = runs.find((x) => x.variant.id === 'noclip' && x.lr === 2e-3 && x.seed === 1)!;
    expect(r.dir).toBe('exported/stability/noclip-lr2e-3-s1');
    expect(r.command).toBe('twnn train graphs/fashion-resnet-noclip.ts --seed 1 --lr 2e-3 --spectral --checkpoint-every 100 -o exported/stability/noclip-lr2e-3-s1');
    expect([1e-3, 2e-3, 5e-4, 0.0125].map(lrText)).toEqual(['1e-3', '2e-3', '5e-4', '1.25e-2']);
  });

  it('filters by variant and lr, and names the known ones for an unknown name', () => {
    const runs = stabilityRuns();
    expect(selectRuns(runs, 'fpcorr').map((r) => r.dir)).toEqual(runs.filter((r) => r.variant.id === 'fpcorr').map((r) => r.dir));
    expect(selectRuns(runs, '2e-3').every((r) => r.lr === 2e-3)).toBe(true);
    expect(selectRuns(runs, '0.002')).toHaveLength(9);
    expect(selectRuns(runs, 'noclip, 2e-3').map((r) => r.dir)).toEqual([0, 1, 2].map((seed) => `exported/stability/noclip-lr2e-3-s${seed}`));
    expect(selectRuns(runs, 'noclip,fpcorr')).toHaveLength(12);
    expect(selectRuns(runs, '1e-3,2e-3')).toHaveLength(18);
    expect(() => selectRuns(runs, 'clipped')).toThrow("--only: 'clipped' is neither a variant (contractive, fpcorr, noclip) nor an lr of the experiment (1e-3, 2e-3)");
    expect(() => selectRuns(runs, '3e-3')).toThrow(/'3e-3' is neither/);
    expect(() => selectRuns(runs, ',')).toThrow(/--only: expected a variant/);
  });

  it('leaves graphs/fashion-resnet.ts clipped and trains fashion-resnet-noclip.ts without clipping, the same network', async () => {
    const clipped = (await import('../../graphs/fashion-resnet.js')).default;
    const noclip = (await import('../../graphs/fashion-resnet-noclip.js')).default;
    expect(clipped.task?.train?.clipNorm).toBe(1);
    expect(noclip.task?.train).not.toHaveProperty('clipNorm');
    expect({ ...noclip.task?.train, clipNorm: 1 }).toEqual(clipped.task?.train);
    expect(JSON.stringify(noclip.net)).toBe(JSON.stringify(clipped.net));
  });
});

type Step = Extract<MetricsRecord, { kind: 'step' }>;
const steps = (losses: readonly number[]): Step[] =>
  losses.map((loss, i) => ({ kind: 'step', epoch: 1, step: i + 1, lr: 1e-3, loss, iterations: 8, iterations_backward: 5, samples_per_s: 100 }));

describe('the collapse detector', () => {
  it('finds the committed MNIST ResNet runs at lr 2e-3 collapsed to chance, at the step the loss first reached it, and the runs at 1e-3 not', () => {
    const at = (name: string) => detectCollapse(readMetrics(join(REPO, 'docs/fixed-point-runs', `${name}.jsonl`)));
    expect(at('resnet-lr1e-3')).toBeUndefined();
    expect(at('resnet-jacobian-lr1e-3')).toBeUndefined();
    const plain = at('resnet-lr2e-3')!;
    const penalty = at('resnet-jacobian-lr2e-3')!;
    expect([plain.kind, plain.step]).toEqual(['chance', 169]);
    expect([penalty.kind, penalty.step]).toEqual(['chance', 270]);
    // The step found is the first whose loss is at the chance level, after the learned stretch.
    const log = readMetrics(join(REPO, 'docs/fixed-point-runs/resnet-jacobian-lr2e-3.jsonl')).filter((r): r is Step => r.kind === 'step');
    expect(log.find((r) => r.step === 270)!.loss).toBeGreaterThanOrEqual(0.9 * CHANCE_LOSS);
    expect(log.filter((r) => r.step > 200 && r.step < 270).every((r) => r.loss < 0.9 * CHANCE_LOSS)).toBe(true);
    expect(penalty.detail).toMatch(/rose to 2\.\d\d at step \d+/);
  });

  it('catches a jump to chance after learning, as in the Fashion runs, and dates it', () => {
    // Learned to 0.38, then from step 926 at 2.8 (graphs/fashion-resnet.ts, seed 0).
    const losses = Array.from({ length: 1200 }, (_, i) => (i < 925 ? 2.3 - 1.92 * Math.min(1, i / 400) : 2.8));
    expect(detectCollapse(steps(losses))).toMatchObject({ kind: 'chance', step: 926 });
  });

  it('does not count one bad batch, a run still learning, or a loss that falls', () => {
    const spike = Array.from({ length: 400 }, (_, i) => (i === 300 ? 9 : i < 100 ? 2.3 : 0.4));
    expect(detectCollapse(steps(spike))).toBeUndefined();
    // Never below the learned level: at chance throughout is not a return to chance (its accuracy decides).
    expect(detectCollapse(steps(Array(300).fill(2.3)))).toBeUndefined();
    expect(detectCollapse(steps(Array(300).fill(2.3)), { finalAccuracy: 0.1 })).toMatchObject({ kind: 'low-accuracy' });
    expect(detectCollapse(steps(Array(300).fill(0.3)), { finalAccuracy: 0.91 })).toBeUndefined();
    expect(detectCollapse(steps(Array(300).fill(0.3)), { finalAccuracy: 0.46 })!.detail).toBe('final test accuracy 46.00% is under 50%');
  });

  it('reports a divergence first, at its step', () => {
    expect(detectCollapse(steps(Array(10).fill(0.3)), { divergedAt: { step: 11, loss: NaN }, finalAccuracy: 0.9 })).toEqual({ kind: 'diverged', step: 11, detail: 'the loss was NaN at step 11; training stopped there' });
  });
});

// Tiny real runs: a conv TWNN (one region, a wormhole) on MNIST rows, 10 steps an epoch.
const task = { loss: 'cross_entropy', data: { kind: 'mnist', layout: 'image' }, train: { epochs: 1, batch: 32, lr: 3e-3 } } as const;
const gn = { norm: 'group', groups: 2 } as const;
const tiny = defineModel({
  name: 'tiny-twnn',
  input: { shape: ['B', 1, 28, 28] },
  net: sequential({
    stem: conv2d(1, 4, 4, { stride: 4 }),
    r: region({ blocks: { B1: basicBlock(4, 4, gn), B2: basicBlock(4, 4, gn) }, wormholes: [{ from: 'B2', to: 'B1' }] }),
    pool: globalAvgPool(),
    flatten: flatten(),
    head: dense(4, 10),
  }),
  task,
});
const variant: StabilityVariant = { id: 'tiny', label: 'Tiny TWNN', graph: 'tiny.ts' };
const loadSpec = async (file: string) => {
  if (file !== 'tiny.ts') throw new Error(`no graph file ${file}`);
  return tiny;
};
// lr 3e-3 learns; lr 1e30 overflows float32 within a few steps. Seed 1 is stopped after 4 steps, seed 2 killed
// before its first checkpoint (its log, no checkpoint), seed 7 never trained.
const runs = stabilityRuns([variant], [3e-3, 1e30], [0, 1, 2, 7], join(root, 'runs'));
const find = (lr: number, seed: number) => runs.find((r) => r.lr === lr && r.seed === seed)!;

let trainSet: Dataset;
let testSet: Dataset;
let before: StabilityReport;
let first: StabilityReport;
let second: StabilityReport;
let markdown: string;
const calls: string[] = [];

const trainHook = (limit: (run: StabilityRun) => number | undefined) => async (run: StabilityRun, resume: boolean) => {
  calls.push(`${lrText(run.lr)}-s${run.seed}${resume ? ' resume' : ''}`);
  if (run.seed === 7) return;
  const limitSteps = limit(run);
  await train({ spec: tiny, outDir: run.dir, seed: run.seed, lr: run.lr, spectral: true, checkpointEvery: 2, resume, ...(limitSteps ? { limitSteps } : {}), data: { train: trainSet, test: testSet } });
};

beforeAll(async () => {
  ({ train: trainSet, test: testSet } = await mnistSubsets('image', 320, 96));
  const options = { runs, loadSpec, testData: async () => testSet, outDir: join(root, 'docs') };
  await train({ spec: tiny, outDir: find(3e-3, 2).dir, seed: 2, lr: 3e-3, limitSteps: 3, data: { train: trainSet, test: testSet } });
  rmSync(join(find(3e-3, 2).dir, 'checkpoint.twnn'));
  ({ report: before } = await benchStability(options));
  ({ report: first } = await benchStability({ ...options, train: trainHook((run) => (run.seed === 1 ? 4 : undefined)) }));
  calls.push('--');
  ({ report: second } = await benchStability({ ...options, train: trainHook(() => undefined) }));
  markdown = readFileSync(join(root, 'docs', 'STABILITY.md'), 'utf8');
}, 300_000);

describe('benchStability on tiny runs', () => {
  it('trains what is not finished, resumes a stopped run from its checkpoint, and skips finished and diverged runs', () => {
    const status = (r: StabilityReport) => r.runs.map((x) => `${lrText(x.lr)}-s${x.seed}:${x.status}`);
    // Without --train: reported as they are; a log without a checkpoint is a run stopped early.
    expect(status(before)).toEqual(['3e-3-s0:missing', '3e-3-s1:missing', '3e-3-s2:unfinished', '3e-3-s7:missing', '1e30-s0:missing', '1e30-s1:missing', '1e30-s2:missing', '1e30-s7:missing']);
    expect(before.runs[2].steps).toBe(3);
    // Seed 2 has nothing to resume from, so it starts again.
    expect(calls).toEqual(['3e-3-s0', '3e-3-s1', '3e-3-s2', '3e-3-s7', '1e30-s0', '1e30-s1', '1e30-s2', '1e30-s7', '--', '3e-3-s1 resume', '3e-3-s7', '1e30-s7']);
    expect(status(first)).toEqual(['3e-3-s0:done', '3e-3-s1:unfinished', '3e-3-s2:done', '3e-3-s7:missing', '1e30-s0:diverged', '1e30-s1:diverged', '1e30-s2:diverged', '1e30-s7:missing']);
    expect(status(second)).toEqual(['3e-3-s0:done', '3e-3-s1:done', '3e-3-s2:done', '3e-3-s7:missing', '1e30-s0:diverged', '1e30-s1:diverged', '1e30-s2:diverged', '1e30-s7:missing']);
    expect(first.runs[2].steps).toBe(10);
    expect(first.runs[1].steps).toBe(4);
    expect(second.runs[1].steps).toBe(10);
  });

  it('records a divergence in the run folder, with its step, as a collapse, still read so once committed', async () => {
    const saved = JSON.parse(readFileSync(join(find(1e30, 0).dir, DIVERGED_FILE), 'utf8')) as { step: number; loss: string; message: string };
    expect(saved.message).toMatch(/^training diverged: the loss is (NaN|-?Infinity) at step \d+/);
    const r = second.runs.find((x) => x.lr === 1e30 && x.seed === 0)!;
    expect(r.collapse).toMatchObject({ kind: 'diverged', step: saved.step });
    expect(r.steps).toBe(saved.step - 1);
    const s = second.summaries.find((x) => x.lr === 1e30)!;
    expect([s.planned, s.finished, s.collapses.length, s.accuracy.n]).toEqual([4, 3, 3, 0]);
    // Committed, a run keeps model.onnx, manifest.json, metrics.jsonl (and diverged.json): no checkpoint, no training graphs.
    const dir = find(1e30, 0).dir;
    for (const f of readdirSync(dir)) if (!['model.onnx', 'manifest.json', 'metrics.jsonl', DIVERGED_FILE].includes(f)) rmSync(join(dir, f));
    const { report } = await benchStability({ runs: [find(1e30, 0)], loadSpec, testData: async () => testSet, outDir: join(root, 'committed-docs') });
    expect(report.runs[0]).toEqual(r);
  });

  it('reports accuracy and unsettled samples an independent evaluation reproduces, and the logged time, sweeps and spectral radius', async () => {
    const accuracies: number[] = [];
    for (const seed of [0, 1, 2]) {
      const session = await openSession(join(find(3e-3, seed).dir, 'model.onnx'));
      const scored = await evaluate(session, testSet, 'cross_entropy', 64);
      await session.close();
      accuracies.push(scored.accuracy!);
      const r = second.runs.find((x) => x.lr === 3e-3 && x.seed === seed)!;
      expect(r.test!.accuracy).toBe(scored.accuracy);
      expect(r.test!.sweeps).toBeCloseTo(scored.iterationsMean, 12);
      expect(r.collapse?.kind).toBe(scored.accuracy! < 0.5 ? 'low-accuracy' : undefined);
      const log = readMetrics(join(find(3e-3, seed).dir, 'metrics.jsonl'));
      const stepLog = log.filter((m): m is Step => m.kind === 'step');
      expect(r.sweeps!.forward).toBeCloseTo(stepLog.reduce((a, m) => a + m.iterations, 0) / stepLog.length, 12);
      const epoch = log.find((m) => m.kind === 'epoch')!;
      expect(epoch.kind === 'epoch' && epoch.spectral_radius).toBeTruthy();
    }
    const s = second.summaries.find((x) => x.lr === 3e-3)!;
    expect([s.planned, s.finished, s.accuracy.n]).toEqual([4, 3, 3]);
    expect(s.accuracy.mean).toBeCloseTo((accuracies[0] + accuracies[1] + accuracies[2]) / 3, 12);
    expect(s.unsettled.n).toBe(3);
    expect(s.secondsPerEpoch.mean).toBeGreaterThan(0);
    expect(s.spectral.map((p) => [p.epoch, p.region, p.runs])).toEqual([[1, 'r', 3]]);
    expect(s.spectral[0].max).toBeGreaterThanOrEqual(s.spectral[0].mean);
    expect(markdown).toContain(`s0: ${percent(accuracies[0])}, s1: ${percent(accuracies[1])}, s2: ${percent(accuracies[2])}`);
  });

  it('writes STABILITY.md and stability.json, every run with its command and state, the missing ones plainly', () => {
    expect(markdown).toContain('**6 of 8 runs finished**, 2 not trained yet');
    for (const r of runs) expect(markdown).toContain(`\`${r.command}\``);
    expect(markdown).toMatch(/\| tiny \| 1e30 \| 7 \| missing \| 0 \| — \| — \|/);
    expect(markdown).toMatch(/\| Tiny TWNN \| 1e30 \| 3 of 4 \| 3 of 3 \| s0: diverged at \d+, s1: diverged at \d+, s2: diverged at \d+ \|/);
    expect(JSON.parse(readFileSync(join(root, 'docs', 'stability.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(second)));
  });
});

describe('twnn bench stability', () => {
  it('lists its options under --help', async () => {
    const r = await twnn(['bench', 'stability', '--help']);
    expect(r.status).toBe(0);
    for (const flag of ['--train', '--only <names>', '-o, --out <dir>', '--runs-dir <dir>', '--eval-batch <n>']) expect(r.stdout).toContain(flag);
    expect((await twnn(['bench', '--help'])).stdout).toMatch(/stability \[options\]\s+does\s+the\s+TWNN\s+ResNet\s+train\s+without\s+gradient\s+clipping/);
  });

  it('reports 0 runs done honestly when none is trained', async () => {
    const out = join(root, 'empty-docs');
    const r = await twnn(['bench', 'stability', '-o', out, '--runs-dir', join(root, 'none'), '--only', 'noclip']);
    expect(r.status, r.stderr).toBe(0);
    const text = readFileSync(join(out, 'STABILITY.md'), 'utf8');
    expect(text).toContain('**0 of 6 runs finished**, 6 not trained yet');
    expect(text).toContain('No finished run has logged one yet.');
    expect(text).toContain(`\`twnn train graphs/fashion-resnet-noclip.ts --seed 2 --lr 2e-3 --spectral --checkpoint-every 100 -o ${join(root, 'none')}/noclip-lr2e-3-s2\``);
  });

  it('rejects an unknown --only, a bad --eval-batch, and --train without the graph files, in one line each', async () => {
    expectUserError(await twnn(['bench', 'stability', '--only', 'clipped', '-o', join(root, 'x')]), /--only: 'clipped' is neither a variant \(contractive, fpcorr, noclip\)/);
    expectUserError(await twnn(['bench', 'stability', '--eval-batch', '0', '-o', join(root, 'x')]), /--eval-batch/);
    const r = await twnn(['bench', 'stability', '--train', '--only', 'noclip', '-o', join(root, 'x'), '--runs-dir', join(root, 'x')], root);
    expectUserError(r, 'bench stability --train: graphs/fashion-resnet-noclip.ts not found (run from the repository root; a variant not merged yet can be left out with --only)');
    expect(existsSync(join(root, 'x'))).toBe(false);
  });
});
