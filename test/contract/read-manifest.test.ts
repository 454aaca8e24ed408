// manifest.json is a file users can edit: the one reader checks each field a
// reader relies on and names the file and the field when one is wrong.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/common/errors.js';
import { manifestBeside, parseManifest, readManifest } from '../../src/contract/read-manifest.js';
import { REPO } from '../cli/run-cli.js';

const committed = readFileSync(join(REPO, 'exported/paper/mnist-mlp/manifest.json'), 'utf8');
const edited = (change: (m: Record<string, any>) => void): string => {
  const m = JSON.parse(committed) as Record<string, any>;
  change(m);
  return JSON.stringify(m);
};
const tmp = mkdtempSync(join(tmpdir(), 'twnn-manifest-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('reading manifest.json', () => {
  it('reads a committed manifest, typed', () => {
    const m = parseManifest(committed, 'm.json');
    expect(m.name).toBe('mnist-mlp');
    expect(m.training.trainable.length).toBeGreaterThan(0);
    expect(m.task.data).toEqual({ kind: 'mnist', layout: 'flat' });
  });

  it.each([
    ['name', (m: Record<string, any>) => (m.name = 123), "field 'name' must be a string, got 123"],
    ['iterators', (m: Record<string, any>) => (m.iterators = 'x'), "field 'iterators' must be a list of iterator records, got \"x\""],
    ['training', (m: Record<string, any>) => (m.training.trainable = 'w'), "field 'training.trainable' must be a list of parameter names"],
    ['optimizer lr', (m: Record<string, any>) => (m.training.optimizer.lr = null), "field 'training.optimizer.lr' must be a number, got null"],
    ['task', (m: Record<string, any>) => (m.task.loss = 'hinge'), "field 'task.loss' must be 'mse' or 'cross_entropy'"],
    ['files', (m: Record<string, any>) => (m.files['model.onnx'] = null), "field 'files' must be an object of { bytes, sha256 } by file name"],
    ['name missing', (m: Record<string, any>) => delete m.name, "field 'name' must be a string, got nothing"],
  ])('refuses a hand-edited %s, naming the file and the field', (_what, change, message) => {
    const run = () => parseManifest(edited(change), 'dir/manifest.json');
    expect(run).toThrow(FormatError);
    expect(run).toThrow(`dir/manifest.json: ${message}`);
  });

  it('tells broken JSON and foreign JSON apart', async () => {
    expect(() => parseManifest('{"format": "twnn.manifest",', 'a.json')).toThrow(/a.json: not valid JSON/);
    expect(() => parseManifest('{"format": "other"}', 'a.json')).toThrow(/a.json: not a twnn manifest/);
    // Beside a model, someone else's manifest.json is not ours to judge; a broken twnn one is.
    const foreign = join(tmp, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'manifest.json'), '{"format": "other"}');
    expect(await manifestBeside(join(foreign, 'model.onnx'))).toBeUndefined();
    expect(await manifestBeside(join(tmp, 'none', 'model.onnx'))).toBeUndefined();
    const broken = join(tmp, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'manifest.json'), edited((m) => (m.graphs = [])));
    await expect(manifestBeside(join(broken, 'model.onnx'))).rejects.toThrow(/field 'graphs' must be an object/);
  });

  it('refuses a FIFO or a folder where the manifest should be, instead of blocking on it', async () => {
    const dir = join(tmp, 'fifo');
    mkdirSync(dir);
    execFileSync('mkfifo', [join(dir, 'manifest.json')]);
    await expect(readManifest(join(dir, 'manifest.json'))).rejects.toThrow(/not a regular file \(a named pipe\)/);
    await expect(manifestBeside(join(dir, 'model.onnx'))).rejects.toThrow(/named pipe/);
    await expect(readManifest(tmp)).rejects.toThrow(/not a regular file \(a folder\)/);
    await expect(readManifest(join(tmp, 'missing.json'))).rejects.toThrow(/missing.json: no such file/);
  });
});
