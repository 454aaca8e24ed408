// The Fashion-MNIST study's runs, committed under exported/study/<model>-s<seed>
// and its longer-training runs under exported/study/long/ (model.onnx, manifest.json, metrics.jsonl, as the paper runs are): `twnn
// eval` on the real 10k Fashion-MNIST test set reproduces the accuracy each
// training run logged at its last epoch, and the skip-gated models report how
// often each block was skipped.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { longStudyRuns, studyRuns } from '../../lab/bench/study-runs.js';
import { REPO, twnn } from '../cli/run-cli.js';

/** The test accuracy of the last epoch record in a run's metrics.jsonl. */
function loggedAccuracy(dir: string): number {
  const epochs = readFileSync(join(REPO, dir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.includes('"kind":"epoch"'))
    .map((line) => JSON.parse(line) as { test_accuracy: number });
  expect(epochs.length).toBeGreaterThan(0);
  return epochs[epochs.length - 1].test_accuracy;
}

describe.each([...studyRuns(), ...longStudyRuns()].map((r) => [r.dir, r] as const))('%s', (_dir, run) => {
  it('is committed, and twnn eval on the 10k Fashion-MNIST test set gives the accuracy its training logged', async () => {
    for (const file of ['model.onnx', 'manifest.json', 'metrics.jsonl']) expect(existsSync(join(REPO, run.dir, file)), `${run.dir}/${file}`).toBe(true);
    const r = await twnn(['eval', join(run.dir, 'model.onnx')]);
    expect(r.status, r.stderr).toBe(0);
    const match = /on fashion-mnist\/test \(cross_entropy\): .*accuracy ([\d.]+)% on 10000 examples/.exec(r.stdout);
    expect(match, r.stdout).not.toBeNull();
    // Printed to 0.01% (one sample in 10000); the trainer's evaluation ran the same graph and weights.
    expect(Math.abs(Number(match![1]) / 100 - loggedAccuracy(run.dir))).toBeLessThanOrEqual(1.5e-4);
    if (run.model.kind === 'twnn-skip') expect(r.stdout).toMatch(/skipped: region1\.B1 [\d.]+%, region1\.B2 [\d.]+%, region2\.B3 [\d.]+%, region2\.B4 [\d.]+% \(gate < 0\.5\)/);
  }, 300_000);
});
