// Every model in graphs/ exports and runs in onnxruntime with outputs of the declared shape.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { exportModel, isModelSpec, Tensor, type ModelSpec } from '../../src/index.js';
import { randomTensor, runModel } from '../twnn/support.js';

const graphsDir = resolve(fileURLToPath(import.meta.url), '../../../graphs');
const files = readdirSync(graphsDir).filter((f) => f.endsWith('.ts')).sort();
const root = mkdtempSync(join(tmpdir(), 'twnn-graphs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('finds the example graphs', () => {
  expect(files).toEqual(expect.arrayContaining(['mnist-mlp-plain.ts', 'mnist-resnet-plain.ts', 'sine-mlp.ts']));
});

describe.each(files)('graphs/%s', (file) => {
  it('default-exports a model spec named after the file', async () => {
    const mod = (await import(join(graphsDir, file))) as { default: unknown };
    expect(isModelSpec(mod.default)).toBe(true);
    expect((mod.default as ModelSpec).name).toBe(file.replace(/\.ts$/, ''));
  });

  it('exports a model.onnx that runs with outputs of the declared shape', async () => {
    const spec = ((await import(join(graphsDir, file))) as { default: ModelSpec }).default;
    const dir = join(root, spec.name);
    const { manifest } = await exportModel(spec, dir, { seed: 1 });
    for (const batch of [1, 5]) {
      const shape = spec.input.shape.map((d) => (d === 'B' ? batch : (d as number)));
      // A raw onnxruntime session feeds the budget inputs itself: the defaults the manifest records.
      const budget = Object.entries(manifest.budget ?? {}).map(([name, v]) => [name, Tensor.scalar(v, name.startsWith('tol.') ? 'float32' : 'int64')]);
      expect(manifest.inputs.map((i) => i.name)).toEqual(['x', ...budget.map(([name]) => name)]);
      const out = await runModel(join(dir, 'model.onnx'), { x: randomTensor('float32', shape, batch), ...Object.fromEntries(budget) });
      const y = manifest.outputs.find((o) => o.name === 'y')!;
      expect(out.y.shape).toEqual(y.shape.map((d) => (d === 'B' ? batch : d)));
      expect(out.y.toNumbers().every(Number.isFinite)).toBe(true);
    }
  });
});
