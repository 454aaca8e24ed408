// `twnn bench solvers` on the sine TWNN (its data needs no download): every
// variant runs, computes plain iteration's predictions, and the report says
// what each costs, beside the spectral radius at the fixed point; the old
// absolute adjoint stop takes one adjoint step.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import sine from '../../graphs/sine.js';
import { benchSolvers, SOLVER_VARIANTS } from '../../lab/bench/solvers.js';
import { loadTaskData } from '../../src/data/datasets.js';
import { twnn } from '../cli/run-cli.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-bench-solvers-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('benchSolvers', () => {
  it('measures each variant on the sine TWNN; the variants agree with plain iteration', async () => {
    const data = await loadTaskData(sine.task!.data!, 'test');
    const [result] = await benchSolvers({ graphs: [{ name: 'graphs/sine.ts', spec: sine, data }], batch: 64, samples: 128, repeats: 1 });
    expect(result.variants.map((v) => v.variant)).toEqual(SOLVER_VARIANTS.map((v) => v.id));
    // The sine TWNN at initialisation is a strong contraction at its fixed point.
    expect(result.spectral).toEqual([{ region: 'region1', samples: 128, mean: expect.any(Number), max: expect.any(Number), above1: 0, nonFinite: 0 }]);
    expect(result.spectral[0].mean).toBeGreaterThan(0);
    expect(result.spectral[0].max).toBeLessThan(1);
    const byId = Object.fromEntries(result.variants.map((v) => [v.variant, v]));
    for (const id of ['plain', 'anderson', 'broyden']) {
      const inf = byId[id].inference!;
      expect(inf.rows, id).toBe(128);
      expect(inf.sweepsMean, id).toBeGreaterThanOrEqual(2);
      expect(inf.unsettled, id).toBe(0);
      // Every variant settles to tol 1e-3: the predictions are the same up to that.
      expect(inf.maxRelDiff, id).toBeLessThan(1e-2);
      expect(inf.msPerBatch, id).toBeGreaterThan(0);
    }
    // The accelerated solvers take fewer forward sweeps than plain iteration to the same predictions.
    for (const id of ['anderson', 'broyden']) expect(byId[id].inference!.sweepsMean, id).toBeLessThanOrEqual(byId.plain.inference!.sweepsMean);
    expect(byId.broyden.training.loss, 'broyden').toBeCloseTo(byId.plain.training.loss, 2);
    expect(byId['plain-absolute'].training.adjointMean).toBe(1);
    expect(byId.plain.training.adjointMean).toBeGreaterThan(1);
    expect(byId.jacobian.inference).toBeUndefined();
    expect(byId['plain-absolute'].inference).toBeUndefined();
    expect(byId.jacobian.training.penalty).toBeGreaterThan(0);
    expect(byId.jacobian.training.loss).toBeCloseTo(byId.plain.training.loss, 6);
  });

  it('twnn bench solvers prints the table and writes it with -o', async () => {
    const out = join(root, 'solvers.md');
    const r = await twnn(['bench', 'solvers', 'graphs/sine.ts', '--samples', '64', '--repeats', '1', '-o', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('### graphs/sine.ts (initial weights)');
    expect(r.stdout).toContain('| Anderson (m = 5) forward and adjoint |');
    expect(r.stdout).toMatch(/spectral radius of region1's dF\/dS at the fixed point \(64 samples\): mean 0\.\d{3}, max 0\.\d{3}, 50 power steps\./);
    expect(r.stdout).toMatch(/\| Broyden \(m = 8\) forward and adjoint \| \d+\.\d+, \d+ \| 0 \|/);
    expect(r.stdout).toContain('Command: `twnn bench solvers graphs/sine.ts --batch 64 --samples 64 --repeats 1`');
    expect(readFileSync(out, 'utf8')).toBe(r.stdout);
  });
});
