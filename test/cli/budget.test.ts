// `twnn run` and `twnn eval` with --tol / --max-iter, as a deployer uses them: one
// value for every region or region=value, the unsettled samples counted under the
// budget given, bad values named with their region, and a model exported before the
// budget was an input refused with a message saying to re-export.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectUserError, REPO, twnn } from './run-cli.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-cli-budget-'));
const model = join(root, 'sine', 'model.onnx');
const old = resolve(REPO, 'test/fixtures/pre-budget-sine/model.onnx');
const input = join(root, 'x.json');

beforeAll(async () => {
  const built = await twnn(['build', 'graphs/sine.ts', '--out', join(root, 'sine'), '--seed', '3']);
  expect(built.status, built.stderr).toBe(0);
  // Four windows of a sine: the model at seed 3 takes 4 to 6 sweeps on them.
  writeFileSync(input, JSON.stringify([0, 1, 2, 3].map((k) => Array.from({ length: 16 }, (_, i) => Math.sin((i + 5 * k) / 3)))));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const sweeps = (stdout: string) => (JSON.parse(stdout) as { iterations: { data: number[] } }).iterations.data;

describe('twnn run --tol / --max-iter', () => {
  it('runs under the budget given, printing it, and counts what it cut short as unsettled', async () => {
    const full = await twnn(['run', model, '--input', input, '--json']);
    expect(full.status, full.stderr).toBe(0);
    expect(full.stderr).toMatch(/region1: sweeps per sample .*tol 0\.001, maxIter 300\)/);
    const before = sweeps(full.stdout);
    expect(Math.max(...before)).toBeGreaterThan(3);

    const cut = await twnn(['run', model, '--input', input, '--json', '--max-iter', '3']);
    expect(cut.status, cut.stderr).toBe(0);
    const after = sweeps(cut.stdout);
    expect(after).toEqual(before.map((n) => Math.min(n, 3)));
    expect(cut.stderr).toMatch(/tol 0\.001, maxIter 3\)/);
    expect(cut.stderr).toMatch(/warning: .*region 'region1' ran all maxIter 3 sweeps without settling \(residual > tol 0\.001\)/);

    // region=value, and a region's own value over the one for all.
    const perRegion = await twnn(['run', model, '--input', input, '--json', '--max-iter', '9', '--max-iter', 'region1=3', '--tol', 'region1=0.2']);
    expect(perRegion.status, perRegion.stderr).toBe(0);
    expect(perRegion.stderr).toMatch(/tol 0\.2, maxIter 3\)/);
    expect(sweeps(perRegion.stdout).every((n, b) => n <= Math.min(3, before[b]))).toBe(true);
  });

  it.each([
    [['--max-iter', '1'], "maxIter of region 'region1' must be an integer from 2 (the plain sweep and one check) to 2147483647, got 1"],
    [['--max-iter', '99999999999'], 'got 99999999999'],
    [['--tol', '-0.5'], "tol of region 'region1' must be a finite number >= 0, got -0.5"],
    [['--tol', 'region7=0.1'], "no region 'region7' to set a budget for; its regions are 'region1'"],
    [['--max-iter', 'many'], "--max-iter expects an integer, got 'many'"],
    [['--tol', 'nan'], "--tol expects a number, got 'nan'"],
  ])('refuses %j with one line', async (flags, message) => {
    expectUserError(await twnn(['run', model, '--input', input, ...flags]), message);
  });

  it('runs a model exported before the budget was an input, and refuses a budget for it', async () => {
    const ran = await twnn(['run', old, '--input', input]);
    expect(ran.status, ran.stderr).toBe(0);
    expectUserError(await twnn(['run', old, '--input', input, '--max-iter', '3']), /has no tol\/maxIter inputs .*re-export it with twnn build/);
    expectUserError(await twnn(['eval', old, '--tol', '0.01']), /has no tol\/maxIter inputs/);
  });
});

describe('twnn eval --max-iter', () => {
  it('evaluates under the budget: fewer sweeps, the cut samples counted unsettled', async () => {
    const full = await twnn(['eval', model]);
    expect(full.status, full.stderr).toBe(0);
    const cut = await twnn(['eval', model, '--max-iter', '3']);
    expect(cut.status, cut.stderr).toBe(0);
    const mean = (out: string) => Number(/iterations: mean ([\d.]+), max (\d+)/.exec(out)![1]);
    expect(/iterations: mean [\d.]+, max (\d+)/.exec(cut.stdout)![1]).toBe('3');
    expect(mean(cut.stdout)).toBeLessThan(mean(full.stdout));
    expect(cut.stdout).toMatch(/region1: \d+ of \d+ samples ran all maxIter 3 sweeps without settling \(residual > tol 0\.001\)/);
  });
});
