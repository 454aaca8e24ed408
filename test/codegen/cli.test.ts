// `twnn codegen` through the real executable: the file it writes, its flags,
// and one-line errors for bad input.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mnistMlp from '../../graphs/mnist-mlp.js';
import { generateWrapper } from '../../src/codegen/generate.js';
import { exportModel } from '../../src/index.js';
import { expectUserError, twnn } from '../cli/run-cli.js';
import { createWorkspace, float16Model, REPO, type Workspace } from './support.js';

let ws: Workspace;
let modelPath: string;
beforeAll(async () => {
  ws = createWorkspace();
  await exportModel(mnistMlp, ws.path('mnist-mlp'));
  modelPath = ws.path('mnist-mlp', 'model.onnx');
});
afterAll(() => ws.remove());

describe('twnn codegen', () => {
  it('writes <model dir>/<model name>.ts, the same text as generateWrapper, and says what it wrote', async () => {
    const r = await twnn(['codegen', modelPath]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const path = ws.path('mnist-mlp', 'mnist-mlp.ts');
    expect(r.stdout).toBe(`wrote ${path}: class MnistMlp (load, run, predict, close), 1 input, 4 outputs\n`);
    expect(readFileSync(path, 'utf8')).toBe((await generateWrapper(modelPath)).text);
    // Written atomically: no temp file left beside it.
    expect(readdirSync(ws.path('mnist-mlp')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('--out and --name choose the file and the class; a foreign model gets run only', async () => {
    const out = ws.path('gen', 'classifier.ts');
    const r = await twnn(['codegen', join(REPO, 'test/fixtures/conv-net.onnx'), '--out', out, '--name', 'tiny conv']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`wrote ${out}: class TinyConv (load, run, close), 1 input, 1 output\n`);
    const text = readFileSync(out, 'utf8');
    expect(text).toContain('export class TinyConv {');
    // The model, relative to the module: the two can move together.
    expect(text).toContain(`new URL('${relative(ws.path('gen'), join(REPO, 'test/fixtures/conv-net.onnx'))}', import.meta.url)`);
  });

  it('--help describes the command and its flags', async () => {
    const r = await twnn(['codegen', '--help']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('Usage: twnn codegen [options] <model>');
    for (const flag of ['-o, --out <file.ts>', '--name <name>', '--no-manifest']) expect(r.stdout).toContain(flag);
  });

  it('a corrupt file: exit 2, one line, nothing written', async () => {
    const bad = ws.write('bad/model.onnx', 'not an onnx model at all, just text');
    expectUserError(await twnn(['codegen', bad]), `${bad}: corrupt or truncated ONNX file`);
    expect(readdirSync(ws.path('bad'))).toEqual(['model.onnx']);
  });

  it('a float16 input and a non-TypeScript --out: exit 2, one line each', async () => {
    const half = ws.write('half/half.onnx', float16Model());
    expectUserError(await twnn(['codegen', half]), "input 'h' has element type float16, which no JS typed array holds");
    expect(existsSync(ws.path('half', 'half.ts'))).toBe(false);
    expectUserError(await twnn(['codegen', modelPath, '--out', ws.path('w.js')]), 'the wrapper is a TypeScript module; name a .ts or .mts file');
  });
});
