// `twnn build --spectral` and what `twnn eval` prints from spectral.onnx: the
// mean and max estimate over the first --spectral-samples test samples,
// checked against one run of the graph on those rows with the model's own
// weights; an export without it gets no spectral line; --spectral takes the
// graph from another export of the same graph file.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTaskData } from '../../src/data/datasets.js';
import { takeBatch } from '../../src/data/batches.js';
import { Tensor } from '../../src/ir/index.js';
import { readInitializers, readModelFile } from '../../src/onnx/load.js';
import { openSession } from '../../src/runtime/session.js';
import { cli } from '../helpers/in-process-cli.js';
import { REPO } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-spectral-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const withGraph = join(dir, 'with');
const without = join(dir, 'without');
const SAMPLES = 300;

beforeAll(async () => {
  for (const [out, extra] of [[withGraph, ['--spectral']], [without, ['--seed', '1']]] as const) {
    const r = await cli(['build', join(REPO, 'graphs/sine.ts'), '--out', out, '--dtype', 'float64', ...extra]);
    expect(r.status, r.stderr).toBe(0);
  }
}, 120_000);

/** Mean and max of spectral.onnx's estimates on the first SAMPLES sine test windows, with `modelDir`'s weights, in one run. */
async function direct(spectralPath: string, modelDir: string, powerSteps: number): Promise<{ mean: number; max: number }> {
  const weights = readInitializers(await readModelFile(join(modelDir, 'model.onnx')));
  const session = await openSession(spectralPath);
  const test = await loadTaskData({ kind: 'sine', window: 16, length: 10000 }, 'test', 'float64');
  const feeds: Record<string, Tensor> = { x: takeBatch(test, [...Array(SAMPLES).keys()]).x, power_steps: Tensor.fromNumbers('int64', [], [powerSteps]) };
  for (const name of session.inputNames) if (!(name in feeds)) feeds[name] = weights.get(name)!;
  const rho = (await session.run(feeds)).spectral_radius.toNumbers();
  await session.close();
  expect(rho).toHaveLength(SAMPLES);
  expect(rho.every((r) => r > 0 && r < 1)).toBe(true);
  return { mean: rho.reduce((a, b) => a + b, 0) / rho.length, max: Math.max(...rho) };
}

/** The numbers eval printed on its spectral line. */
function printed(stdout: string): { mean: number; max: number } {
  const m = /spectral radius of region1's dF\/dS at the fixed point \((\d+) samples\): mean ([\d.]+), max ([\d.]+)/.exec(stdout);
  expect(m, stdout).not.toBeNull();
  expect(Number(m![1])).toBe(SAMPLES);
  return { mean: Number(m![2]), max: Number(m![3]) };
}

describe('twnn eval with spectral.onnx', () => {
  it('build --spectral writes it; eval prints region1 mean and max over the samples, as the graph gives them', async () => {
    expect(existsSync(join(withGraph, 'spectral.onnx'))).toBe(true);
    const r = await cli(['eval', join(withGraph, 'model.onnx'), '--spectral-samples', String(SAMPLES), '--power-steps', '80']);
    expect(r.status, r.stderr).toBe(0);
    const want = await direct(join(withGraph, 'spectral.onnx'), withGraph, 80);
    const got = printed(r.stdout);
    expect(got.mean).toBeCloseTo(want.mean, 3);
    expect(got.max).toBeCloseTo(want.max, 3);
  }, 120_000);

  it('build --spectral of a model without a region is a one-line error naming it, and writes nothing', async () => {
    const out = join(dir, 'no-region');
    const r = await cli(['build', join(REPO, 'graphs/sine-mlp.ts'), '--out', out, '--spectral']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      `twnn: error: ${join(REPO, 'graphs/sine-mlp.ts')}: model 'sine-mlp': spectral.onnx estimates the spectral radius of a fixed-point region's sweep, and the model has no region`,
    ]);
    expect(existsSync(join(out, 'model.onnx'))).toBe(false);
  }, 120_000);

  it('says nothing about it for an export without the graph, and takes it from another export with --spectral', async () => {
    expect(existsSync(join(without, 'spectral.onnx'))).toBe(false);
    const plain = await cli(['eval', join(without, 'model.onnx')]);
    expect(plain.status, plain.stderr).toBe(0);
    expect(plain.stdout).not.toMatch(/spectral radius/);
    const borrowed = await cli(['eval', join(without, 'model.onnx'), '--spectral', join(withGraph, 'spectral.onnx'), '--spectral-samples', String(SAMPLES)]);
    expect(borrowed.status, borrowed.stderr).toBe(0);
    // The weights are this model's (seed 1), not those of the export the graph came from.
    const want = await direct(join(withGraph, 'spectral.onnx'), without, 50);
    const got = printed(borrowed.stdout);
    expect(got.mean).toBeCloseTo(want.mean, 3);
    expect(got.max).toBeCloseTo(want.max, 3);
    expect(got).not.toEqual(printed((await cli(['eval', join(withGraph, 'model.onnx'), '--spectral-samples', String(SAMPLES)])).stdout));
  }, 120_000);
});
