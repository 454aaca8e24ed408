import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Graph, Tensor } from '../../src/ir/index.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { div, tanh } from '../../src/ops/index.js';
import { expectUserError, REPO, twnn } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-cli-errors-'));
writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const model = join(dir, 'good.onnx');
const input = join(dir, 'x.json');
let good: Uint8Array;

beforeAll(() => {
  const g = new Graph('good');
  g.output('y', tanh(g, g.input('x', 'float32', ['B', 2])));
  good = serializeModel(g);
  writeFileSync(model, good);
  writeFileSync(input, '[[0.5, -0.5]]');
});

describe('bad model files: exit 2, one line naming the file', () => {
  const cases: [string, () => Uint8Array | null, RegExp][] = [
    ['missing', () => null, /missing.onnx: cannot read ONNX file \(no such file\)/],
    ['empty', () => new Uint8Array(0), /empty.onnx: empty file, not an ONNX model/],
    ['truncated', () => good.subarray(0, Math.floor(good.length / 2)), /truncated.onnx: corrupt or truncated ONNX file/],
    ['corrupt', () => Uint8Array.from(good, (b, i) => (i > 8 && i % 5 === 0 ? 0xff : b)), /corrupt.onnx: (corrupt or truncated ONNX file|not an ONNX model)/],
    ['text', () => new TextEncoder().encode('{"hello": "world"}\n'), /text.onnx: (corrupt or truncated ONNX file|not an ONNX model)/],
  ];

  it.each(cases)('inspect on a %s file', async (name, bytes, message) => {
    const file = join(dir, `${name}.onnx`);
    const b = bytes();
    if (b) writeFileSync(file, b);
    expectUserError(await twnn(['inspect', file]), message);
  });

  it.each(cases)('run on a %s file', async (name, bytes, message) => {
    const file = join(dir, `${name}.onnx`);
    const b = bytes();
    if (b) writeFileSync(file, b);
    expectUserError(await twnn(['run', file, '--input', input]), message);
  });

  it('a directory', async () => expectUserError(await twnn(['inspect', dir]), `${dir}: cannot read ONNX file (is a directory)`));
});

describe('bad input files', () => {
  it.each([
    ['missing.json', null, 'missing.json: cannot read input file (no such file)'],
    ['broken.json', '[[1, 2', /broken.json: not valid JSON/],
    ['null.json', 'null', 'null.json: expected a nested array or an object'],
    ['bad.npy', 'not numpy', /bad.npy' is not a readable .npy file/],
  ])('%s', async (name, text, message) => {
    const file = join(dir, name);
    if (text !== null) writeFileSync(file, text);
    expectUserError(await twnn(['run', model, '--input', file]), message);
  });
});

describe('devices', () => {
  it('--device cuda on a machine without the CUDA EP says what is missing and how to install it', async () => {
    const r = await twnn(['run', model, '--input', input, '--device', 'cuda']);
    expectUserError(r, /--device cuda:0: onnxruntime-node's CUDA execution provider is not installed \(missing libonnxruntime_providers_cuda.so, libonnxruntime_providers_shared.so in .*node_modules\/onnxruntime-node\/bin\/napi-v6\/linux\/x64\); install it with 'npm run cuda:install'/);
    expect(r.stdout).toBe('');
  });

  it('--device foo is rejected, naming the value', async () => {
    expectUserError(await twnn(['run', model, '--input', input, '--device', 'foo']), "unknown device 'foo': expected cpu, cuda or cuda:N");
  });

  it('--device cpu runs', async () => {
    const r = await twnn(['run', model, '--input', input, '--device', 'cpu', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const y = JSON.parse(r.stdout).y.data[0];
    expect(y[0]).toBeCloseTo(Math.tanh(0.5), 6);
    expect(y[1]).toBeCloseTo(Math.tanh(-0.5), 6);
  });
});

describe('bad graph files for build', () => {
  const api = JSON.stringify(pathToFileURL(join(REPO, 'src/index.ts')).href);
  const graph = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it('a missing file', async () => expectUserError(await twnn(['build', join(dir, 'nope.ts')]), /nope.ts: cannot read graph file \(no such file\)/));

  it('a default export that is not a model', async () => {
    const file = graph('not-a-model.ts', 'export default { name: "x" };\n');
    expectUserError(await twnn(['build', file]), `${file}: expected the default export to be a model (export default defineModel({...})), found a default export of type object`);
  });

  it('no default export', async () => {
    const file = graph('no-default.ts', 'export const x = 1;\n');
    expectUserError(await twnn(['build', file]), `${file}: expected the default export to be a model (export default defineModel({...})), found no default export`);
  });

  it('a spec error raised while the file loads names the file', async () => {
    const file = graph('bad-spec.ts', `import { defineModel, dense } from ${api};\nexport default defineModel({ name: 'bad name!', input: { shape: ['B', 2] }, net: dense(2, 1) });\n`);
    expectUserError(await twnn(['build', file]), new RegExp(`${file}:2: defineModel: name must start with a letter or digit`));
  });

  it('a bug in the graph file is a user error naming the file, its line and the cause (issue 12): the file is the user\'s, not twnn\'s', async () => {
    const file = graph('throws.ts', 'const boom = (): never => { throw new TypeError("boom in graph"); };\nexport default boom();\n');
    expectUserError(await twnn(['build', file]), /throws\.ts:1: cannot load the graph file: TypeError: boom in graph$/);
  });
});

describe('a foreign model that divides by zero', () => {
  it('prints its NaN and infinity, and says so on stderr (exit 0)', async () => {
    const g = new Graph('div');
    const x = g.input('x', 'float32', [3]);
    g.output('y', div(g, x, g.constant(Tensor.fromNumbers('float32', [3], [0, 1, 0]))));
    const model = join(dir, 'div.onnx');
    writeFileSync(model, serializeModel(g));
    writeFileSync(join(dir, 'div-x.json'), JSON.stringify({ x: [0, 1, 2] }));
    const r = await twnn(['run', model, '--input', join(dir, 'div-x.json')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\[NaN, 1, Infinity\]/);
    expect(r.stderr).toBe(`twnn: warning: ${model}: output 'y' holds NaN or infinity in 2 of 3 elements (first at flat index 0)\n`);
  });
});

