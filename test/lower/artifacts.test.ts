// exportModel: model.onnx + manifest.json, byte-identical for the same spec and
// seed, atomic (no temp files left), checked by onnx's own checker.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import resnetSpec from '../../graphs/mnist-resnet-plain.js';
import sineSpec from '../../graphs/sine-mlp.js';
import { exportModel, type Manifest } from '../../src/index.js';
import { onnx } from '../../src/onnx/proto.js';
import { expectOnnxValid } from '../helpers/onnx-checker.js';
import { randomTensor, runModel } from '../twnn/support.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-export-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshDir = () => join(root, `out${counter++}`);

const readManifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;

describe('exportModel', () => {
  it('writes model.onnx, the training graphs and manifest.json, and nothing else', async () => {
    const dir = freshDir();
    const { files } = await exportModel(sineSpec, dir);
    expect(files).toEqual(['model.onnx', 'grad.onnx', 'train.onnx', 'train_steps.onnx', 'manifest.json'].map((f) => join(dir, f)));
    expect(readdirSync(dir).sort()).toEqual(['grad.onnx', 'manifest.json', 'model.onnx', 'train.onnx', 'train_steps.onnx']);
  });

  it('is byte-identical for the same spec and seed, and different for another seed', async () => {
    const [a, b, c] = [freshDir(), freshDir(), freshDir()];
    await exportModel(resnetSpec, a, { seed: 4 });
    await exportModel(resnetSpec, b, { seed: 4 });
    await exportModel(resnetSpec, c, { seed: 5 });
    for (const file of ['model.onnx', 'manifest.json']) {
      expect(readFileSync(join(b, file)).equals(readFileSync(join(a, file))), file).toBe(true);
    }
    expect(readFileSync(join(c, 'model.onnx')).equals(readFileSync(join(a, 'model.onnx')))).toBe(false);
    expect(readManifest(c).seed).toBe(5);
  });

  it('writes no timestamps or paths: the output folder appears in no file', async () => {
    const dir = freshDir();
    await exportModel(sineSpec, dir);
    for (const file of ['model.onnx', 'manifest.json']) {
      const text = readFileSync(join(dir, file)).toString('latin1');
      expect(text.includes(root), file).toBe(false);
      expect(text.includes(tmpdir()), file).toBe(false);
    }
  });

  it('describes the model in the manifest, with each file size and sha256', async () => {
    const dir = freshDir();
    const { manifest } = await exportModel(resnetSpec, dir, { seed: 1 });
    expect(readManifest(dir)).toEqual(manifest);
    expect(manifest).toMatchObject({
      format: 'twnn.manifest',
      version: 1,
      name: 'mnist-resnet-plain',
      description: resnetSpec.description,
      dtype: 'float32',
      opset: 17,
      irVersion: 8,
      seed: 1,
      inputs: [{ name: 'x', dtype: 'float32', shape: ['B', 1, 28, 28] }],
      outputs: [
        { name: 'y', dtype: 'float32', shape: ['B', 10] },
        { name: 'iterations', dtype: 'int64', shape: ['B'] },
        { name: 'residual', dtype: 'float32', shape: ['B'] },
        { name: 'unsettled', dtype: 'int64', shape: ['B'] },
      ],
      iterators: [],
      backward: null,
    });
    expect(manifest.params[0]).toEqual({ name: 'stem.conv.weight', shape: [16, 1, 3, 3], dtype: 'float32', trainable: true, numel: 144 });
    expect(manifest.params.find((p) => p.name === 'B4.downsample.1.running_var')).toMatchObject({ trainable: false, numel: 64 });
    const sum = (ps: Manifest['params']) => ps.reduce((s, p) => s + p.numel, 0);
    expect(manifest.parameterCount).toBe(sum(manifest.params));
    expect(manifest.trainableParameterCount).toBe(sum(manifest.params.filter((p) => p.trainable)));
    expect(manifest.trainableParameterCount).toBeLessThan(manifest.parameterCount);
    const bytes = readFileSync(join(dir, 'model.onnx'));
    expect(manifest.files['model.onnx']).toEqual({ bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
  });

  it('puts the description and twnn metadata into model.onnx', async () => {
    const dir = freshDir();
    const { manifest } = await exportModel(sineSpec, dir, { seed: 3, opset: 18 });
    const model = onnx.ModelProto.decode(readFileSync(join(dir, 'model.onnx')));
    expect(model.docString).toBe(sineSpec.description);
    expect(model.graph?.name).toBe('sine-mlp');
    expect(Number(model.irVersion)).toBe(manifest.irVersion);
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 18]]);
    expect(Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]))).toEqual({
      'twnn.model': 'sine-mlp',
      'twnn.dtype': 'float32',
      'twnn.seed': '3',
      'twnn.params': '6',
      'twnn.parameterCount': String(manifest.parameterCount),
    });
    expect((model.graph?.initializer ?? []).map((t) => t.name)).toEqual(manifest.params.map((p) => p.name));
  });

  it('replaces an earlier export in place', async () => {
    const dir = freshDir();
    await exportModel(sineSpec, dir, { seed: 1 });
    writeFileSync(join(dir, 'model.onnx'), 'stale');
    await exportModel(sineSpec, dir, { seed: 2 });
    expect(readdirSync(dir).sort()).toEqual(['grad.onnx', 'manifest.json', 'model.onnx', 'train.onnx', 'train_steps.onnx']);
    const out = await runModel(join(dir, 'model.onnx'), { x: randomTensor('float32', [1, 16], 3) });
    expect(out.y.shape).toEqual([1, 1]);
    expect(readManifest(dir).seed).toBe(2);
  });

  it('passes onnx.checker (full check) and strict shape inference, in float32 and float64', async () => {
    const [a, b] = [freshDir(), freshDir()];
    await exportModel(sineSpec, a, { dtype: 'float64' });
    await exportModel(resnetSpec, b);
    expect(() => expectOnnxValid([join(a, 'model.onnx'), join(b, 'model.onnx')])).not.toThrow();
  });

  it('a failed build writes nothing', async () => {
    const dir = freshDir();
    await expect(exportModel(resnetSpec, dir, { dtype: 'float64' })).rejects.toThrow(/conv networks must be built in float32/);
    expect(() => readdirSync(dir)).toThrow(/ENOENT/);
  });
});
