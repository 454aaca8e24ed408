// tools/compaction-bench.ts: lazy compaction against eager, timed one variant's session at a time.
import { expect, it } from 'vitest';
import { benchGraph } from '../../tools/compaction-bench.js';

it('times every compactBelow value on the trained MNIST MLP, each computing the same sweeps, adjoint steps and loss', async () => {
  const timed = await benchGraph('mnist-mlp', [1, 0.5, 0], 2, 1);
  expect(timed.map((t) => t.value)).toEqual([1, 0.5, 0]);
  for (const t of timed) {
    expect(t.inference).toHaveLength(2);
    expect(t.step).toHaveLength(2);
    expect(Math.min(...t.inference, ...t.step)).toBeGreaterThan(0);
    expect(t.fingerprint).toBe(timed[0].fingerprint);
  }
  // Sixty-four test samples' sweeps, each between the plain sweep and maxIter.
  const sweeps = timed[0].fingerprint.split(';')[0].replace('sweeps ', '').split(',').map(Number);
  expect(sweeps).toHaveLength(64);
  expect(sweeps.every((s) => s >= 2 && s <= 300)).toBe(true);
}, 120_000);
