// The run list of `twnn bench paper --runs`: checked field by field, with errors naming the entry.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PAPER_RUNS } from '../../lab/bench/paper-runs.js';
import { gatherRows, makeDataset } from '../../src/data/batches.js';
import { loadMnist } from '../../src/data/mnist.js';
import { defineModel, dense, exportModel, sequential } from '../../src/index.js';
import { train } from '../../src/runtime/trainer.js';
import { loadRun, parseRuns } from '../../lab/bench/runs.js';
import { FormatError, TwnnError } from '../../src/common/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-bench-runs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const good = { id: 'tw', label: 'TWNN', family: 'MLP', role: 'twnn', dir: 'exported/x', command: 'twnn train graphs/x.ts' };

describe('parseRuns', () => {
  it('accepts a valid list, keeping optional fields only when given', () => {
    const runs = parseRuns([good, { ...good, id: 'b', role: 'baseline', device: 'cuda', note: 'n', target: 0.99, graph: 'graphs/x.ts' }], 'runs.json');
    expect(runs).toEqual([good, { ...good, id: 'b', role: 'baseline', device: 'cuda', note: 'n', target: 0.99, graph: 'graphs/x.ts' }]);
  });

  it.each([
    [[], 'runs.json: expected a non-empty JSON array of runs'],
    [{}, 'runs.json: expected a non-empty JSON array of runs'],
    [[5], 'runs.json: run #1 must be an object'],
    [[{ ...good, id: 'a b' }], "runs.json: run #1: id 'a b' may hold only letters, digits, '-' and '_'"],
    [[good, good], "runs.json: run #2: id 'tw' is used twice"],
    [[{ ...good, role: 'plain' }], 'runs.json: run #1: \'role\' must be "twnn" or "baseline", got "plain"'],
    [[{ ...good, command: '' }], "runs.json: run #1: 'command' must be a non-empty string, got \"\""],
    [[{ ...good, label: undefined }], "runs.json: run #1: 'label' must be a non-empty string, got undefined"],
    [[{ ...good, dirr: 'x' }], "runs.json: run #1: unknown key 'dirr'"],
    [[{ ...good, target: 99.3 }], "runs.json: run #1: 'target' must be a test accuracy in (0, 1], got 99.3"],
    [[{ ...good, target: '0.99' }], 'runs.json: run #1: \'target\' must be a test accuracy in (0, 1], got "0.99"'],
    [[{ ...good, graph: '' }], "runs.json: run #1: 'graph' must be a non-empty string, got \"\""],
  ])('rejects %j', (value, message) => {
    expect(() => parseRuns(value, 'runs.json')).toThrow(FormatError);
    expect(() => parseRuns(value, 'runs.json')).toThrow(message);
  });

  it('the built-in paper runs pass their own check and have unique folders', () => {
    expect(parseRuns(JSON.parse(JSON.stringify(PAPER_RUNS)), 'PAPER_RUNS')).toEqual(PAPER_RUNS);
    expect(new Set(PAPER_RUNS.map((r) => r.dir)).size).toBe(PAPER_RUNS.length);
    // A fresh clone has no train.onnx: every paper run's step is exported again from its graph file.
    for (const r of PAPER_RUNS) expect(existsSync(r.graph!), `${r.id}: ${r.graph}`).toBe(true);
    for (const family of new Set(PAPER_RUNS.map((r) => r.family))) {
      const roles = PAPER_RUNS.filter((r) => r.family === family).map((r) => r.role);
      expect(roles, family).toContain('twnn');
      expect(roles, family).toContain('baseline');
    }
  });
});

describe('loadRun', () => {
  it('is undefined for a folder without a checkpoint or a training log (not trained yet)', async () => {
    expect(await loadRun({ ...good, role: 'twnn', dir: join(dir, 'nothing') })).toBeUndefined();
  });

  it('names the missing file when a folder has a checkpoint but no manifest', async () => {
    const broken = join(dir, 'broken');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'checkpoint.twnn'), 'x');
    const run = { ...good, role: 'twnn' as const, dir: broken };
    await expect(loadRun(run)).rejects.toThrow(TwnnError);
    await expect(loadRun(run)).rejects.toThrow(`run 'tw': ${join(broken, 'manifest.json')} is missing`);
  });

  it("reads a finished run, and refuses one whose model.onnx is not the checkpoint's weights (still training)", async () => {
    const spec = defineModel({ name: 'r', input: { shape: ['B', 784] }, net: sequential(dense(784, 10)), task: { data: { kind: 'mnist', layout: 'flat' } } });
    const mnist = await loadMnist({ split: 'test', layout: 'flat' });
    const rows = Array.from({ length: 64 }, (_, i) => i);
    const small = makeDataset('small', gatherRows(mnist.x, rows), gatherRows(mnist.target, rows));
    const runDir = join(dir, 'finished');
    await train({ spec, outDir: runDir, data: { train: small, test: small }, batch: 16, limitSteps: 3 });
    const run = { ...good, role: 'baseline' as const, dir: runDir };
    const loaded = await loadRun(run);
    expect(loaded?.position.step).toBe(3);
    expect(loaded?.from).toBe('checkpoint');
    expect(loaded?.manifest.name).toBe('r');
    // What a run looks like mid-training: the checkpoint has moved on, model.onnx still holds the initial weights.
    await exportModel(spec, runDir, { seed: 0 });
    await expect(loadRun(run)).rejects.toThrow(`run 'tw': ${join(runDir, 'model.onnx')} does not hold the weights of ${join(runDir, 'checkpoint.twnn')} (parameter '0.weight' differs)`);
  });
});
