// Every model committed under exported/ is what today's lowering makes of its
// weights: a change to the lowering that would leave a deployed model stale
// fails here until `npx tsx tools/relower-committed.ts --write` re-exports them.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModelSpec } from '../../src/cli/graph-file.js';
import { REPO } from '../cli/run-cli.js';
import { committedModelDirs, relower } from '../../tools/relower-committed.js';

/** The folders git tracks a model.onnx in (exported/sine is made by the demo, not committed). */
const tracked = execFileSync('git', ['ls-files', 'exported'], { cwd: REPO, encoding: 'utf8' })
  .split('\n')
  .filter((f) => f.endsWith('/model.onnx'))
  .map((f) => join(REPO, dirname(f)))
  .sort();

describe('committed models', () => {
  it('are found: the paper runs and the study runs', () => {
    expect(tracked.length).toBeGreaterThanOrEqual(20);
    // The tool finds each of them (and whatever a local run added).
    expect(tracked.filter((d) => !committedModelDirs().includes(d))).toEqual([]);
  });

  it.each(tracked.map((d) => [d.slice(REPO.length + 1), d]))('%s is current: re-lowering its weights gives the committed bytes', async (_name, dir) => {
    const r = await relower(dir, loadModelSpec);
    expect(r.files.has('model.onnx')).toBe(true);
    expect(r.stale, `stale in ${dir}: run npx tsx tools/relower-committed.ts --write`).toEqual([]);
  }, 120_000);
});
