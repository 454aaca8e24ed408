import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBytes } from '../../src/cli/options.js';
import { readNpy } from '../../src/data/npy.js';
import { Graph, Tensor } from '../../src/ir/index.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { matmul, mul } from '../../src/ops/index.js';
import { expectUserError, python, REPO, twnn } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-cli-'));
// Graph files are ES modules, as in the repository (whose package.json says so).
writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A graph file written with the public API only: 3 -> 4 tanh -> 2.
const GRAPH = `import { defineModel, dense, sequential, tanh } from ${JSON.stringify(pathToFileURL(join(REPO, 'src/index.ts')).href)};
export default defineModel({
  name: 'tiny-mlp',
  input: { shape: ['B', 3] },
  net: sequential(dense(3, 4), tanh(), dense(4, 2)),
});
`;
const PARAMS = 3 * 4 + 4 + 4 * 2 + 2;
const X = [
  [0.5, -1, 2],
  [0, 0.25, -0.75],
];

/**
 * y for the exported MLP computed by numpy in float64 from the model's own
 * initializers (read with onnx, not onnxruntime), taken in the manifest's order.
 */
function referenceMlp(modelDir: string, x: number[][]): number[][] {
  const code = `
import json, sys, numpy as np, onnx
from onnx import numpy_helper
m = onnx.load(sys.argv[1] + '/model.onnx')
manifest = json.load(open(sys.argv[1] + '/manifest.json'))
P = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in m.graph.initializer}
w0, b0, w1, b1 = (P[p['name']] for p in manifest['params'])
x = np.array(json.loads(sys.argv[2]), dtype=np.float32).astype(np.float64)
print(json.dumps((np.tanh(x @ w0.T + b0) @ w1.T + b1).tolist()))`;
  return JSON.parse(python(code, [modelDir, JSON.stringify(x)]));
}

function expectClose(actual: number[][], expected: number[][], tol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - expected[i][j]), `[${i}][${j}]: ${v} vs ${expected[i][j]}`).toBeLessThan(tol)));
}

/** Parse the `  [[a, b],\n   [c, d]]` block `twnn run` prints under `name: dtype [shape]`. */
function printedValues(stdout: string, name: string): number[][] {
  const start = stdout.indexOf(`${name}: `);
  const block = stdout.slice(stdout.indexOf('\n', start) + 1).split(/\n(?=\S)/)[0];
  return JSON.parse(block);
}

describe('build -> inspect -> run', () => {
  const graphFile = join(dir, 'tiny-mlp.ts');
  const out = join(dir, 'out');
  let reference: number[][];

  beforeAll(async () => {
    writeFileSync(graphFile, GRAPH);
    const r = await twnn(['build', graphFile, '--out', out, '--seed', '3']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('built tiny-mlp (float32, opset 17, seed 3)');
    for (const f of ['model.onnx', 'manifest.json']) {
      const path = join(out, f);
      expect(r.stdout).toContain(`${path}  ${formatBytes(statSync(path).size)}`);
    }
    expect(r.stdout).toContain(`parameters: ${PARAMS}`);
    reference = referenceMlp(out, X);
  });

  it('build writes exported/<graph file name> by default', async () => {
    writeFileSync(join(dir, 'default-out.ts'), GRAPH);
    const r = await twnn(['build', 'default-out.ts', '--dtype', 'float64'], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('built tiny-mlp (float64, opset 17, seed 0)');
    expect(existsSync(join(dir, 'exported/default-out/model.onnx'))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'exported/default-out/manifest.json'), 'utf8')).dtype).toBe('float64');
  });

  it('inspect summarises the model, as text and as JSON', async () => {
    const text = await twnn(['inspect', join(out, 'model.onnx')]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/inputs \(1\)\n\s+x\s+float32\s+\[B,3\]/);
    expect(text.stdout).toMatch(/outputs \(4\)\n\s+y\s+float32\s+\[B,2\]\n\s+iterations\s+int64\s+\[B\]\n\s+residual\s+float32\s+\[B\]\n\s+unsettled\s+int64\s+\[B\]/);
    expect(text.stdout).toMatch(/Gemm\s+2/);
    expect(text.stdout).toMatch(new RegExp(`parameters\\s+${PARAMS} in 4 initializers`));
    const json = await twnn(['inspect', join(out, 'model.onnx'), '--json']);
    expect(json.status, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.inputs).toEqual([{ name: 'x', dtype: 'float32', shape: ['B', 3] }]);
    expect(report.parameters).toBe(PARAMS);
  });

  it('run on a JSON nested array prints y, matching numpy', async () => {
    writeFileSync(join(dir, 'x.json'), JSON.stringify(X));
    const r = await twnn(['run', join(out, 'model.onnx'), '--input', join(dir, 'x.json')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^y: float32 \[2,2\]\n/);
    // Printed with 6 significant digits; |y| < 10 here.
    expectClose(printedValues(r.stdout, 'y'), reference, 5e-5);
  });

  it('run --json prints full-precision outputs; {name: array} input works too', async () => {
    writeFileSync(join(dir, 'x-named.json'), JSON.stringify({ x: X }));
    const r = await twnn(['run', join(out, 'model.onnx'), '--input', join(dir, 'x-named.json'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const outputs = JSON.parse(r.stdout);
    expect(Object.keys(outputs)).toEqual(['y', 'iterations', 'residual', 'unsettled']);
    expect(outputs.y.dtype).toBe('float32');
    expect(outputs.y.shape).toEqual([2, 2]);
    expectClose(outputs.y.data, reference);
  });

  it('run on a numpy-written .npy (float64, converted) with --output writes y as .npy', async () => {
    const xFile = join(dir, 'x.npy');
    const yFile = join(dir, 'y.npy');
    python(`import numpy as np, json, sys\nnp.save(sys.argv[1], np.array(json.loads(sys.argv[2])))`, [xFile, JSON.stringify(X)]);
    const r = await twnn(['run', join(out, 'model.onnx'), '--input', xFile, '--output', yFile]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`wrote ${yFile} (y: float32 [2,2])`);
    const y = readNpy(readFileSync(yFile), yFile);
    expect(y.dtype).toBe('float32');
    expect(y.shape).toEqual([2, 2]);
    expectClose([y.toNumbers().slice(0, 2), y.toNumbers().slice(2)], reference);
    // numpy reads the file we wrote.
    const fromNumpy = JSON.parse(python(`import numpy as np, json, sys\nprint(json.dumps(np.load(sys.argv[1]).astype(float).tolist()))`, [yFile]));
    expectClose(fromNumpy, reference);
  });

  it('run rejects a ragged array, a wrong shape and an unknown input name', async () => {
    const model = join(out, 'model.onnx');
    writeFileSync(join(dir, 'ragged.json'), JSON.stringify([[1, 2, 3], [4, 5]]));
    expectUserError(await twnn(['run', model, '--input', join(dir, 'ragged.json')]), /ragged.json: x\[1\]: has 2 elements where x\[0\] has 3 \(the array is not rectangular\)/);
    writeFileSync(join(dir, 'wide.json'), JSON.stringify([[1, 2, 3, 4]]));
    expectUserError(await twnn(['run', model, '--input', join(dir, 'wide.json')]), "input 'x' expects shape [B,3], got [1,4]");
    writeFileSync(join(dir, 'named.json'), JSON.stringify({ input: X }));
    expectUserError(await twnn(['run', model, '--input', join(dir, 'named.json')]), "'input' is not an input of the model; its inputs are x: float32[B,3]");
    writeFileSync(join(dir, 'strings.json'), JSON.stringify([['1', 2, 3]]));
    expectUserError(await twnn(['run', model, '--input', join(dir, 'strings.json')]), 'x[0][0]: expected a number, got the string "1"');
    writeFileSync(join(dir, 'x.txt'), '1 2 3');
    expectUserError(await twnn(['run', model, '--input', join(dir, 'x.txt')]), 'expected a .json or .npy file');
  });
});

describe('run on a multi-input model known in closed form', () => {
  const W = [1, -2, 0.5, 3, -1, 4]; // [3,2]
  const model = join(dir, 'closed.onnx');

  beforeAll(() => {
    // y = (x·W)·scale, iterations = count: a float and an int64 output.
    const g = new Graph('closed');
    const x = g.input('x', 'float32', ['B', 3]);
    const scale = g.input('scale', 'float32', []);
    const count = g.input('count', 'int64', ['B']);
    g.output('y', mul(g, matmul(g, x, g.initializer('W', Tensor.fromNumbers('float32', [3, 2], W))), scale));
    g.output('iterations', count);
    writeFileSync(model, serializeModel(g));
  });

  it('feeds each input by name and prints every int64 value', async () => {
    const count = Array.from({ length: 40 }, (_, i) => i * 7);
    const x = Array.from({ length: 40 }, (_, i) => [i, 1, -i / 2]);
    writeFileSync(join(dir, 'feeds.json'), JSON.stringify({ x, scale: 2, count }));
    const r = await twnn(['run', model, '--input', join(dir, 'feeds.json')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`iterations: int64 [40]\n  [${count.join(', ')}]`);
    // y has 80 elements: printed truncated, so check through --json.
    expect(r.stdout).toMatch(/y: float32 \[40,2\] \(80 elements, showing 3 at each end/);
    const json = JSON.parse((await twnn(['run', model, '--input', join(dir, 'feeds.json'), '--json'])).stdout);
    const expected = x.map((row) => [0, 1].map((j) => 2 * row.reduce((s, v, k) => s + v * W[k * 2 + j], 0)));
    expectClose(json.y.data, expected);
    expect(json.iterations).toEqual({ dtype: 'int64', shape: [40], data: count });
  });

  it('a bare array for a multi-input model says how to name the inputs', async () => {
    writeFileSync(join(dir, 'bare.json'), JSON.stringify([[1, 2, 3]]));
    expectUserError(await twnn(['run', model, '--input', join(dir, 'bare.json')]), /has 3 \(x, scale, count\); use a JSON object/);
  });

  it('an int64 input must hold integers; missing inputs are named', async () => {
    writeFileSync(join(dir, 'frac.json'), JSON.stringify({ x: [[1, 2, 3]], scale: 1, count: [1.5] }));
    expectUserError(await twnn(['run', model, '--input', join(dir, 'frac.json')]), 'count[0]: expected an integer for int64, got 1.5');
    writeFileSync(join(dir, 'partial.json'), JSON.stringify({ x: [[1, 2, 3]] }));
    expectUserError(await twnn(['run', model, '--input', join(dir, 'partial.json')]), 'missing inputs scale: float32[], count: int64[B]');
  });
});
