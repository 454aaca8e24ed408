// The paper runs' exported models, committed under exported/paper/<run>/
// (model.onnx, manifest.json, metrics.jsonl; docs/DESIGN.md §6 allows small reference
// models): `twnn eval` on the real 10k MNIST test set reproduces the accuracy
// the training run logged at its last epoch, and reaches the run's target.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PAPER_RUNS } from '../../lab/bench/paper-runs.js';
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

describe.each(PAPER_RUNS.map((r) => [r.id, r] as const))('exported/paper/%s', (_id, run) => {
  it('is committed, and twnn eval on the 10k test set gives the accuracy its training logged', async () => {
    for (const file of ['model.onnx', 'manifest.json', 'metrics.jsonl']) expect(existsSync(join(REPO, run.dir, file)), `${run.dir}/${file}`).toBe(true);
    const r = await twnn(['eval', join(run.dir, 'model.onnx')]);
    expect(r.status, r.stderr).toBe(0);
    const match = /on mnist\/test \(cross_entropy\): .*accuracy ([\d.]+)% on 10000 examples/.exec(r.stdout);
    expect(match, r.stdout).not.toBeNull();
    const accuracy = Number(match![1]) / 100;
    // Printed to 0.01% (one sample in 10000); the trainer's evaluation ran the same graph and weights.
    expect(Math.abs(accuracy - loggedAccuracy(run.dir))).toBeLessThanOrEqual(1.5e-4);
    if (run.target !== undefined) expect(accuracy, `target ${run.target}`).toBeGreaterThanOrEqual(run.target);
  }, 300_000);
});
