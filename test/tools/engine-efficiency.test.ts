// tools/engine-efficiency.ts: a TWNN's time per sweep against its plain network's pass.
import { expect, it } from 'vitest';
import { efficiency } from '../../tools/engine-efficiency.js';

it('measures the MNIST MLP TWNN against its plain MLP: sweeps from the model, overheads from the timed passes', async () => {
  const e = await efficiency('mnist-mlp', 'mnist-mlp-plain', 2, 1);
  // The trained MLP TWNN settles in a few sweeps per sample (its first sweep is the plain pass).
  expect(e.sweeps).toBeGreaterThan(2);
  expect(e.sweeps).toBeLessThan(12);
  expect(e.adjointSteps).toBeGreaterThan(1);
  for (const t of [e.twnnForward, e.twnnStep, e.plainForward, e.plainStep]) expect(t).toBeGreaterThan(0);
  expect(e.forwardOverhead).toBeCloseTo(e.twnnForward / (e.sweeps * e.plainForward), 10);
  const backward = Math.max(e.plainStep - e.plainForward, 0);
  expect(e.trainingOverhead).toBeCloseTo(e.twnnStep / ((e.sweeps + 1) * e.plainForward + (e.adjointSteps + 1) * backward), 10);
}, 120_000);

it('refuses a baseline that has regions, and a TWNN that has none', async () => {
  await expect(efficiency('mnist-mlp', 'mnist-mlp', 1, 1)).rejects.toThrow("mnist-mlp: has fixed-point regions; the baseline must be plain");
  await expect(efficiency('mnist-mlp-plain', 'mnist-mlp-plain', 1, 1)).rejects.toThrow('mnist-mlp-plain: has no fixed-point region');
}, 120_000);
