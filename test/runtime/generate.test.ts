import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Graph, Tensor, TwnnError } from '../../src/ir/index.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { abs, add, cast, gemm, log, matmul, mul, reshape, slice, tanh } from '../../src/ops/index.js';
import { generate } from '../../src/runtime/generate.js';
import { openSession } from '../../src/runtime/session.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-generate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const OMEGA = (2 * Math.PI) / 50;

/**
 * s[t+1] = 2cos(ω)·s[t] − s[t−1]: the exact next-sample rule of sin(ωt), as a
 * float64 model y = x·w over a window of 4 (only the last two samples weigh).
 */
function recurrenceModel(): Uint8Array {
  const g = new Graph('sine-recurrence');
  const x = g.input('x', 'float64', ['B', 4]);
  const w = g.initializer('w', Tensor.fromNumbers('float64', [4, 1], [0, 0, -1, 2 * Math.cos(OMEGA)]));
  g.output('y', matmul(g, x, w));
  return serializeModel(g);
}

// A float32 MLP with fixed weights: window 3, 4 hidden tanh units, one output.
const W1 = [0.5, -0.3, 0.8, 0.1, 0.4, -0.6, -0.2, 0.7, 0.3, 0.9, -0.5, 0.2];
const B1 = [0.1, -0.2, 0.05, 0];
const W2 = [0.6, -0.4, 0.3, 0.5];
const B2 = 0.05;

/** The MLP, plus `iterations` = trunc(10·|y|) as int64 and `residual` = ln(x[:, 0]) (non-finite when the oldest sample is <= 0). */
function mlpModel(withResidual: boolean): Uint8Array {
  const g = new Graph('mlp');
  const x = g.input('x', 'float32', ['B', 3]);
  const w1 = g.initializer('w1', Tensor.fromNumbers('float32', [4, 3], W1));
  const b1 = g.initializer('b1', Tensor.fromNumbers('float32', [4], B1));
  const w2 = g.initializer('w2', Tensor.fromNumbers('float32', [1, 4], W2));
  const b2 = g.initializer('b2', Tensor.fromNumbers('float32', [1], [B2]));
  const y = gemm(g, tanh(g, gemm(g, x, w1, b1, { transB: true })), w2, b2, { transB: true });
  g.output('y', y);
  const ten = g.constant(Tensor.scalar(10, 'float32'));
  g.output('iterations', reshape(g, cast(g, mul(g, abs(g, y), ten), 'int64'), [-1]));
  if (withResidual) g.output('residual', reshape(g, log(g, slice(g, x, [0], [1], [1])), [-1]));
  return serializeModel(g);
}

/** The MLP's rule in JS, each step's result rounded to float32 as the model's output is. */
function mlpReference(seed: number[], steps: number): { series: number[]; iterations: number[] } {
  const history = seed.map(Math.fround);
  const series: number[] = [];
  const iterations: number[] = [];
  for (let k = 0; k < steps; k++) {
    const x = history.slice(-3);
    let y = B2;
    for (let j = 0; j < 4; j++) y += W2[j] * Math.tanh(B1[j] + W1[j * 3] * x[0] + W1[j * 3 + 1] * x[1] + W1[j * 3 + 2] * x[2]);
    const y32 = Math.fround(y);
    series.push(y32);
    iterations.push(Math.trunc(Math.fround(Math.abs(y32) * 10)));
    history.push(y32);
  }
  return { series, iterations };
}

describe('generate', () => {
  it('runs the exact sine recurrence for 500 steps and reproduces sin(ωt)', async () => {
    const path = join(dir, 'recurrence.onnx');
    writeFileSync(path, recurrenceModel());
    const seed = [0, 1, 2, 3].map((t) => Math.sin(OMEGA * t));
    const { series, iterations } = await generate(path, seed, 500);
    expect(series).toHaveLength(500);
    expect(iterations).toBeUndefined();
    let worst = 0;
    for (let k = 0; k < 500; k++) worst = Math.max(worst, Math.abs(series[k] - Math.sin(OMEGA * (k + 4))));
    expect(worst).toBeLessThan(1e-9);
  });

  it('matches a JS loop of a fixed-weight float32 MLP, with per-step iteration counts, and leaves a given session open', async () => {
    const session = await openSession(mlpModel(false), { where: 'mlp' });
    try {
      const seed = [0.3, -0.1, 0.6];
      const expected = mlpReference(seed, 60);
      const got = await generate(session, Float64Array.from(seed), 60);
      expect(got.series).toHaveLength(60);
      for (let k = 0; k < 60; k++) expect(got.series[k], `step ${k + 1}`).toBeCloseTo(expected.series[k], 5);
      expect(Array.from(got.iterations!)).toEqual(expected.iterations);
      // The counts are not all alike, so the test would see them misaligned.
      expect(new Set(expected.iterations).size).toBeGreaterThan(1);
      // Still open: a second run from the generated tail continues the same trajectory.
      const more = await generate(session, got.series.subarray(57), 5);
      const longer = mlpReference(seed, 65);
      for (let k = 0; k < 5; k++) expect(more.series[k]).toBeCloseTo(longer.series[60 + k], 5);
    } finally {
      await session.close();
    }
  });

  it('a step whose fixed point diverges is an error naming the step', async () => {
    const session = await openSession(mlpModel(true), { where: 'mlp-residual' });
    try {
      // ln of the window's oldest sample: the seed's -0.1 reaches that slot at step 3.
      await expect(generate(session, [0.3, 0.2, -0.1], 10)).rejects.toThrow(
        new TwnnError('mlp-residual (generation step 3): the fixed-point iteration of a region diverged (non-finite residual) for sample 0; its outputs are not a prediction'),
      );
    } finally {
      await session.close();
    }
  });

  it('rejects a seed of the wrong length, bad steps and non-finite seeds, naming the model', async () => {
    const path = join(dir, 'recurrence-errors.onnx');
    writeFileSync(path, recurrenceModel());
    await expect(generate(path, [0, 1, 2], 10)).rejects.toThrow(`${path}: the seed window has 3 samples, but the model's input x takes 4`);
    await expect(generate(path, [0, 1, 2, 3], 0)).rejects.toThrow('generate: steps must be a positive integer, got 0');
    await expect(generate(path, [0, 1, NaN, 3], 5)).rejects.toThrow('generate: seedWindow[2] is NaN; the seed must be finite numbers');
  });

  it('rejects a model that is not a next-sample model', async () => {
    const g = new Graph('two-outputs');
    const x = g.input('x', 'float32', ['B', 2]);
    g.output('y', add(g, x, x));
    const wide = await openSession(serializeModel(g), { where: 'wide' });
    try {
      await expect(generate(wide, [1, 2], 3)).rejects.toThrow("wide: generation needs an output 'y' of one value per row, got [1,2]");
    } finally {
      await wide.close();
    }
    const h = new Graph('named-input');
    const u = h.input('u', 'float32', ['B', 2]);
    h.output('y', add(h, u, u));
    const other = await openSession(serializeModel(h), { where: 'other' });
    try {
      await expect(generate(other, [1, 2], 3)).rejects.toThrow("other: generation feeds an input 'x', but the model's inputs are u");
    } finally {
      await other.close();
    }
  });
});
