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
    expectUserError(await twnn(['run', model, '--input', x]), /garbled\/manifest\.json: the manifest beside .*model\.onnx is not valid JSON \(corrupted\?\); --no-verify skips it/);
  });
});
