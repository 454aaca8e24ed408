import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatSineReport, sineReport, type SineReport } from '../../src/report/sine-report.js';
import { generate } from '../../src/runtime/generate.js';
import { expectUserError, twnn } from '../cli/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-sine-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const out = join(dir, 'sine');
const model = join(out, 'model.onnx');

/** The sine task of graphs/sine.ts, as its manifest records it. */
function taskData(): { window: number; length: number } {
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { task: { data: { window: number; length: number } } };
  return manifest.task.data;
}

function pngSize(path: string): [number, number] {
  const png = readFileSync(path);
  expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
  return [png.readUInt32BE(16), png.readUInt32BE(20)];
}

/** The `sine:` lines of a command's output. */
const sineLines = (stdout: string) => stdout.split('\n').filter((l) => l.startsWith('sine: '));

let trainStdout = '';
let report: SineReport;

// A short, cheap run of the real graph: the numbers are those of a barely trained model, so only their sanity is checked here.
beforeAll(async () => {
  const r = await twnn(['train', 'graphs/sine.ts', '--limit-steps', '30', '--out', out]);
  expect(r.status, r.stderr).toBe(0);
  trainStdout = r.stdout;
  report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as SineReport;
}, 120_000);

describe('the sine report after twnn train', () => {
  it('prints the one-step and free-running MSE with PASS/FAIL, the sweeps, and where the pictures are', () => {
    const lines = sineLines(trainStdout);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^sine: one-step test MSE \d\.\d\de-\d+ over 1997 windows {2}(PASS|FAIL) \(target <= 1e-4\)$/);
    expect(lines[1]).toMatch(/^sine: free-running MSE \d\.\d\de[-+]\d+ over 1000 steps from t = 7987 {2}(PASS|FAIL) \(target <= 1e-2\)$/);
    expect(lines[2]).toMatch(/^sine: sweeps per test sample: mean \d+\.\d\d, max \d+$/);
    expect(lines[3]).toBe(`sine: pictures ${join(out, 'sine.png')} (generated vs true wave), ${join(out, 'sweeps.png')} (sweeps); numbers ${join(out, 'report.json')}`);
    // The report comes after the trainer's summary, whose test loss is the same one-step MSE.
    expect(trainStdout.indexOf('sine: one-step')).toBeGreaterThan(trainStdout.indexOf('files:'));
    const trainerLoss = Number(/test: loss ([0-9.e-]+)/.exec(trainStdout)![1]);
    // The summary prints six significant digits.
    expect(Math.abs(report.oneStep.mse - trainerLoss) / trainerLoss).toBeLessThan(1e-5);
    expect(lines[0]).toContain(report.oneStep.mse.toExponential(2));
  });

  it('writes the pictures (SVG and PNG) and report.json', () => {
    for (const f of ['sine.svg', 'sine.png', 'sweeps.svg', 'sweeps.png', 'report.json']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(pngSize(join(out, 'sine.png'))).toEqual([1200, 420]);
    expect(pngSize(join(out, 'sweeps.png'))).toEqual([800, 400]);
    const wave = readFileSync(join(out, 'sine.svg'), 'utf8');
    expect(wave).toContain('>true wave</text>');
    expect(wave).toContain('>generated</text>');
    expect(wave).toContain(`(MSE ${report.freeRunning.mse.toExponential(2)})`);
    expect(readFileSync(join(out, 'sweeps.svg'), 'utf8')).toContain('Fixed-point sweeps per test sample');
    expect(report.files).toEqual({ waveSvg: 'sine.svg', wavePng: 'sine.png', sweepsSvg: 'sweeps.svg', sweepsPng: 'sweeps.png', json: 'report.json' });
  });

  it('report.json holds sane numbers: the task, the targets with verdicts, and sweep counts that add up', () => {
    expect(report.task).toEqual({ kind: 'sine', ...taskData() });
    expect(report.oneStep.samples).toBe(1997);
    expect(report.oneStep.mse).toBeGreaterThan(0);
    expect(report.oneStep.mse).toBeLessThan(1);
    expect(report.freeRunning).toMatchObject({ steps: 1000, startIndex: 7987 });
    expect(Number.isFinite(report.freeRunning.mse)).toBe(true);
    expect(report.freeRunning.maxAbsError ** 2).toBeGreaterThanOrEqual(report.freeRunning.mse);
    expect(report.targets.oneStepMse).toEqual({ value: report.oneStep.mse, limit: 1e-4, pass: report.oneStep.mse <= 1e-4 });
    expect(report.targets.freeRunningMse).toEqual({ value: report.freeRunning.mse, limit: 1e-2, pass: report.freeRunning.mse <= 1e-2 });
    // graphs/sine.ts is a TWNN: every sample takes the plain sweep and at least one check.
    expect(report.sweeps.min).toBeGreaterThanOrEqual(2);
    expect(report.sweeps.max).toBeLessThanOrEqual(300);
    const counts = Object.entries(report.sweeps.counts);
    expect(counts.reduce((s, [, n]) => s + n, 0)).toBe(1997);
    expect(counts.reduce((s, [k, n]) => s + Number(k) * n, 0) / 1997).toBeCloseTo(report.sweeps.mean, 10);
  });

  it('the free-running MSE is that of generating 1000 steps from the first test window against sin(2πt/50)', async () => {
    const { window } = taskData();
    const first = 7987; // the first test window: floor(0.8 · (10000 − 16)) training windows come before it
    const seed = Array.from({ length: window }, (_, k) => Math.sin(((first + k) * 2 * Math.PI) / 50));
    const { series } = await generate(model, seed, 1000);
    let squared = 0;
    for (let k = 0; k < 1000; k++) squared += (series[k] - Math.sin(((first + window + k) * 2 * Math.PI) / 50)) ** 2;
    expect(report.freeRunning.mse).toBeCloseTo(squared / 1000, 12);
  });

  it('sineReport without an outDir computes the same numbers and writes nothing', async () => {
    const again = await sineReport({ model, data: taskData() });
    expect(again.files).toBeUndefined();
    expect({ ...again, files: report.files }).toEqual(report);
    expect(formatSineReport(again).split('\n').filter(Boolean)).toEqual(sineLines(trainStdout).slice(0, 3));
  });
});

describe('the sine report from twnn eval', () => {
  it('prints the same numbers as twnn train, and --report writes the pictures', async () => {
    const elsewhere = join(dir, 'eval-report');
    const r = await twnn(['eval', model, '--report', elsewhere]);
    expect(r.status, r.stderr).toBe(0);
    expect(sineLines(r.stdout).slice(0, 3)).toEqual(sineLines(trainStdout).slice(0, 3));
    expect(sineLines(r.stdout)[3]).toContain(join(elsewhere, 'sine.png'));
    for (const f of ['sine.svg', 'sine.png', 'sweeps.svg', 'sweeps.png', 'report.json']) expect(existsSync(join(elsewhere, f)), f).toBe(true);
  });

  it('--report with --split train is a one-line error', async () => {
    expectUserError(await twnn(['eval', model, '--split', 'train', '--report', join(dir, 'never')]), '--report scores the test split; it cannot go with --split train');
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });
});
