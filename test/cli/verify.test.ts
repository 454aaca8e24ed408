// Corrupted weights are refused, not run (issue 13, item 3): `run`, `eval` and
// `codegen` check a model against the sha256 that the manifest.json beside it
// records; `--no-verify` runs it anyway; a model without a manifest runs as
// before. A bit flip inside an initializer still parses, so without the check
// it printed wrong numbers with exit 0.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelFile } from '../../src/onnx/load.js';
import { expectUserError, REPO, twnn } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-verify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const good = join(dir, 'sine');
const x = join(dir, 'x.json');

/** A copy of the export whose model.onnx has one bit flipped in a weight of its first layer (`how` edits the manifest). */
function corruptCopy(name: string, how: 'keep manifest' | 'no manifest' | 'bad manifest' = 'keep manifest'): string {
  const folder = join(dir, name);
  mkdirSync(folder);
  const bytes = readFileSync(join(good, 'model.onnx'));
  bytes[weightOffset] ^= 0x40; // an exponent bit of one float32: the weight changes by orders of magnitude
  writeFileSync(join(folder, 'model.onnx'), bytes);
  if (how === 'keep manifest') copyFileSync(join(good, 'manifest.json'), join(folder, 'manifest.json'));
  if (how === 'bad manifest') writeFileSync(join(folder, 'manifest.json'), '{ "files": ');
  return join(folder, 'model.onnx');
}

let weightOffset = 0;
beforeAll(async () => {
  const r = await twnn(['build', join(REPO, 'graphs/sine.ts'), '--out', good]);
  expect(r.status, r.stderr).toBe(0);
  const model = await readModelFile(join(good, 'model.onnx'));
  const raw = model.graph!.initializer!.find((t) => t.name === 'stem.0.weight')!.rawData as Uint8Array;
  // The top byte of element 5 (element 0 meets x[0] = sin 0 = 0, which would hide the change).
  weightOffset = readFileSync(join(good, 'model.onnx')).indexOf(Buffer.from(raw)) + 4 * 5 + 3;
  expect(weightOffset).toBeGreaterThan(3);
  writeFileSync(x, JSON.stringify([Array.from({ length: 16 }, (_, i) => Math.sin(i / 3))]));
});

describe('a model that no longer matches its manifest', () => {
  it('runs when intact', async () => {
    const r = await twnn(['run', join(good, 'model.onnx'), '--input', x, '--json']);
    expect(r.status, r.stderr).toBe(0);
  });

  it('is refused by run, naming the file, the manifest and --no-verify', async () => {
    const model = corruptCopy('run');
    expectUserError(await twnn(['run', model, '--input', x]), /run\/model\.onnx: does not match .*run\/manifest\.json \(sha256 [0-9a-f]{12}…, recorded [0-9a-f]{12}…; same size, \d+ bytes\): .*--no-verify uses it anyway/);
    const anyway = await twnn(['run', model, '--input', x, '--json', '--no-verify']);
    expect(anyway.status, anyway.stderr).toBe(0);
    // The flipped bit changed what the model computes: the check refused a real corruption.
    const intact = await twnn(['run', join(good, 'model.onnx'), '--input', x, '--json']);
    expect(JSON.parse(anyway.stdout).y).not.toEqual(JSON.parse(intact.stdout).y);
  });

  it('is refused by eval and codegen', async () => {
    const model = corruptCopy('eval');
    expectUserError(await twnn(['eval', model]), /eval\/model\.onnx: does not match .*manifest\.json/);
    expect((await twnn(['eval', model, '--no-verify'])).status).toBe(0);
    expectUserError(await twnn(['codegen', model]), /eval\/model\.onnx: does not match .*manifest\.json/);
    expect((await twnn(['codegen', model, '--no-verify', '-o', join(dir, 'w.ts')])).status).toBe(0);
  });

  it('runs as before without a manifest, and a manifest that is not JSON is named', async () => {
    expect((await twnn(['run', corruptCopy('bare', 'no manifest'), '--input', x])).status).toBe(0);
    const model = corruptCopy('garbled', 'bad manifest');
    expectUserError(await twnn(['run', model, '--input', x]), /garbled\/manifest\.json: not valid JSON .*; --no-verify skips it/);
  });
});

// Issue 23, item 9: the check keys on the file's content, not its name.
describe('a model beside a manifest that does not list it', () => {
  it('runs, and evaluates with the manifest\'s task, when it is a byte-identical copy of a listed file', async () => {
    const copy = join(good, 'model-copy.onnx');
    copyFileSync(join(good, 'model.onnx'), copy);
    expect((await twnn(['run', copy, '--input', x])).status).toBe(0);
    const r = await twnn(['eval', copy]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/on sine\/test \(mse\)/);
  });

  it('is refused by run, eval, codegen and flagged by inspect when it is a tampered copy under another name', async () => {
    const folder = join(dir, 'renamed');
    mkdirSync(folder);
    copyFileSync(join(good, 'manifest.json'), join(folder, 'manifest.json'));
    const bytes = readFileSync(join(good, 'model.onnx'));
    bytes[weightOffset] ^= 0x40;
    const model = join(folder, 'model2.onnx');
    writeFileSync(model, bytes);
    const none = /renamed\/model2\.onnx: is none of the files .*manifest\.json lists \(.*model\.onnx.*\): .*--no-verify uses it anyway/;
    expectUserError(await twnn(['run', model, '--input', x]), none);
    expectUserError(await twnn(['eval', model]), none);
    expectUserError(await twnn(['codegen', model, '-o', join(dir, 'w2.ts')]), none);
    // --no-verify runs it, but the manifest does not describe it: its task is not taken.
    expectUserError(await twnn(['eval', model, '--no-verify']), /model2\.onnx: the manifest\.json beside it does not list it; say which data set with --data/);
    const inspected = await twnn(['inspect', model]);
    expect(inspected.status).toBe(0);
    expect(inspected.stdout).toMatch(/manifest\n {2}does not match: .*is none of the files/);
    expect(inspected.stderr).toMatch(/^twnn: warning: does not match/);
    const json = JSON.parse((await twnn(['inspect', model, '--json'])).stdout) as { manifest: string };
    expect(json.manifest).toMatch(/^does not match/);
    expect(JSON.parse((await twnn(['inspect', join(good, 'model.onnx'), '--json'])).stdout).manifest).toMatch(/^verified: the sha256 of model\.onnx/);
  });

  it('is refused when its files entry was removed, or set to null', async () => {
    for (const [name, edit] of [
      ['entry-removed', (m: { files: Record<string, unknown> }) => delete m.files['model.onnx']],
      ['entry-null', (m: { files: Record<string, unknown> }) => (m.files['model.onnx'] = null)],
      ['files-null', (m: { files: unknown }) => (m.files = null)],
    ] as const) {
      const folder = join(dir, name);
      mkdirSync(folder);
      const model = join(folder, 'model.onnx');
      copyFileSync(join(good, 'model.onnx'), model);
      const manifest = JSON.parse(readFileSync(join(good, 'manifest.json'), 'utf8'));
      edit(manifest);
      writeFileSync(join(folder, 'manifest.json'), JSON.stringify(manifest));
      const r = await twnn(['eval', model]);
      expectUserError(r, name === 'entry-removed' ? /is none of the files/ : /field 'files' must be an object of \{ bytes, sha256 \} by file name/);
    }
  });
});

