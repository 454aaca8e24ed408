// Generated wrappers, end to end: generated for a twnn export and for foreign
// models, type-checked under the project's strict settings, imported and run,
// and compared with a direct onnxruntime-node run of the same model.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Project, type ClassDeclaration } from 'ts-morph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mnistMlp from '../../graphs/mnist-mlp.js';
import { generateWrapper, writeWrapper } from '../../src/codegen/generate.js';
import { exportModel } from '../../src/index.js';
import { FormatError, TwnnError } from '../../src/common/errors.js';
import { randn, seededRandom } from '../helpers/rng.js';
import { createWorkspace, float16Model, importModule, mixedTypesModel, REPO, runWithTsx, typeCheck, type Workspace } from './support.js';

interface Typed<T> {
  readonly data: T;
  readonly dims: readonly number[];
}
type Budget = { 'tol.region1'?: number; 'max_iter.region1'?: number };
interface MnistMlpWrapper {
  run(inputs: { x: Typed<Float32Array> }, budget?: Budget): Promise<{ y: Typed<Float32Array>; iterations: Typed<BigInt64Array>; residual: Typed<Float32Array>; unsettled: Typed<BigInt64Array> }>;
  predict(x: Float32Array | Typed<Float32Array>, budget?: Budget): Promise<{ y: Typed<Float32Array>; iterations: number[] }>;
  close(): Promise<void>;
}
interface WrapperClass<W> {
  load(path?: string, options?: { device?: 'cpu' | 'cuda'; verify?: boolean }): Promise<W>;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly budget?: Readonly<Record<string, number>>;
}

let ws: Workspace;
beforeAll(() => {
  ws = createWorkspace();
});
afterAll(() => ws.remove());

const floats = (seed: number, n: number) => Float32Array.from(randn(seededRandom(seed), n));

/** A user's script: it type-checks only if the wrapper's types are right, and prints what it computed. */
const CONSUMER = [
  "import { MnistMlp, type MnistMlpOutputs } from './mnist-mlp/mnist-mlp.js';",
  'const model = await MnistMlp.load();',
  'const x = new Float32Array(2 * 784).map((_, i) => Math.sin(i));',
  'const out: MnistMlpOutputs = await model.run({ x: { data: x, dims: [2, 784] } });',
  'const iterations: BigInt64Array = out.iterations.data;',
  'const predicted = await model.predict(x);',
  'const sweeps: number[] = predicted.iterations;',
  "const cheap = await model.predict(x, { 'max_iter.region1': 5, 'tol.region1': 1e-2 });",
  'void cheap;',
  'await model.close();',
  'console.log(JSON.stringify({ y: Array.from(out.y.data), dims: out.y.dims, iterations: Array.from(iterations, Number), sweeps }));',
  'export function typeErrors(m: MnistMlp, o: MnistMlpOutputs): void {',
  '  // @ts-expect-error: x is float32',
  '  void m.run({ x: { data: new Float64Array(784), dims: [1, 784] } });',
  '  // @ts-expect-error: iterations are int64',
  '  const wrong: Float32Array = o.iterations.data;',
  "  // @ts-expect-error: the budget is numbers by input name",
  "  void m.predict(new Float32Array(784), { 'max_iter.region1': '5' });",
  '  // @ts-expect-error: the model has no output z',
  '  void o.z;',
  "  // @ts-expect-error: only 'cpu' and 'cuda'",
  "  void MnistMlp.load(undefined, { device: 'gpu' });",
  '  void wrong;',
  '}',
].join('\n');

/** mnist-mlp's budget inputs as a direct run feeds them (the built ones by default). */
const budgetFeeds = (tol = 1e-3, maxIter = 300) => ({
  'tol.region1': new ort.Tensor('float32', Float32Array.from([tol]), []),
  'max_iter.region1': new ort.Tensor('int64', BigInt64Array.from([BigInt(maxIter)]), []),
});

/** Run a model file directly through onnxruntime-node, as the reference. */
async function direct(modelPath: string, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.ReturnType> {
  const session = await ort.InferenceSession.create(modelPath);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

/** The generated class, read back with ts-morph. */
function parseClass(text: string, name: string): ClassDeclaration {
  const file = new Project({ useInMemoryFileSystem: true }).createSourceFile('/wrapper.ts', text);
  return file.getClassOrThrow(name);
}

describe('a twnn export (graphs/mnist-mlp.ts)', () => {
  let modelPath: string;
  let wrapperPath: string;
  beforeAll(async () => {
    await exportModel(mnistMlp, ws.path('mnist-mlp'));
    modelPath = ws.path('mnist-mlp', 'model.onnx');
    wrapperPath = (await writeWrapper(modelPath)).path;
    ws.write('use-mnist.ts', CONSUMER);
  });

  it('writes mnist-mlp.ts beside model.onnx: typed interfaces with shapes, and a MnistMlp class', () => {
    expect(wrapperPath).toBe(ws.path('mnist-mlp', 'mnist-mlp.ts'));
    const text = readFileSync(wrapperPath, 'utf8');
    const file = new Project({ useInMemoryFileSystem: true }).createSourceFile('/w.ts', text);
    const inputs = file.getInterfaceOrThrow('MnistMlpInputs');
    expect(inputs.getProperties().map((p) => [p.getName(), p.getTypeNode()?.getText()])).toEqual([['x', 'TypedTensor<Float32Array>']]);
    expect(inputs.getPropertyOrThrow('x').getJsDocs()[0]!.getDescription()).toContain('float32, shape `[B, 784]`');
    const outputs = file.getInterfaceOrThrow('MnistMlpOutputs');
    expect(outputs.getProperties().map((p) => [p.getName(), p.getTypeNode()?.getText()])).toEqual([
      ['y', 'TypedTensor<Float32Array>'],
      ['iterations', 'TypedTensor<BigInt64Array>'],
      ['residual', 'TypedTensor<Float32Array>'],
      ['unsettled', 'TypedTensor<BigInt64Array>'],
    ]);
    expect(outputs.getPropertyOrThrow('y').getJsDocs()[0]!.getDescription()).toContain('`[B, 10]`');
    const cls = file.getClassOrThrow('MnistMlp');
    expect(cls.isExported()).toBe(true);
    expect(cls.getMethods().map((m) => m.getName())).toEqual(['load', 'run', 'predict', 'close']);
    expect(cls.getMethodOrThrow('load').isStatic()).toBe(true);
    expect(cls.getJsDocs()[0]!.getDescription()).toContain('region1: tol 0.001, maxIter 300, norm max, wormholes 3->1 (gate bias -4), backward implicit');
    // Only onnxruntime-node and Node's own modules: never twnn.
    expect(file.getImportDeclarations().map((d) => d.getModuleSpecifierValue())).toEqual(['node:crypto', 'node:fs/promises', 'node:path', 'node:url', 'onnxruntime-node']);
  });

  it('type-checks with zero diagnostics under the strict tsconfig, and its types reject wrong inputs', () => {
    const consumer = ws.path('use-mnist.ts');
    expect(typeCheck([wrapperPath, consumer])).toEqual([]);
  });

  it('run and predict give what onnxruntime-node gives for the same model', async () => {
    const { MnistMlp } = await importModule<{ MnistMlp: WrapperClass<MnistMlpWrapper> }>(wrapperPath);
    expect(MnistMlp.inputNames).toEqual(['x']);
    expect(MnistMlp.outputNames).toEqual(['y', 'iterations', 'residual', 'unsettled']);
    const x = floats(7, 5 * 784);
    const ref = await direct(modelPath, { x: new ort.Tensor('float32', x, [5, 784]), ...budgetFeeds() });
    const model = await MnistMlp.load();
    try {
      const out = await model.run({ x: { data: x, dims: [5, 784] } });
      expect(out.y.dims).toEqual([5, 10]);
      expect(out.y.data).toBeInstanceOf(Float32Array);
      expect(Array.from(out.y.data)).toEqual(Array.from(ref.y!.data as Float32Array));
      expect(out.iterations.data).toBeInstanceOf(BigInt64Array);
      expect(Array.from(out.iterations.data)).toEqual(Array.from(ref.iterations!.data as BigInt64Array));
      expect(Array.from(out.residual.data)).toEqual(Array.from(ref.residual!.data as Float32Array));

      const flat = await model.predict(x);
      expect(flat.y.dims).toEqual([5, 10]);
      expect(Array.from(flat.y.data)).toEqual(Array.from(ref.y!.data as Float32Array));
      expect(flat.iterations).toEqual(Array.from(ref.iterations!.data as BigInt64Array, Number));
      expect(flat.iterations.every((n) => n >= 2)).toBe(true);
      const tensor = await model.predict({ data: x.subarray(0, 784), dims: [1, 784] });
      expect(Array.from(tensor.y.data)).toEqual(Array.from((ref.y!.data as Float32Array).subarray(0, 10)));
    } finally {
      await model.close();
    }
  });

  it('run and predict take a budget, the built one by default, checked naming the region', async () => {
    const { MnistMlp } = await importModule<{ MnistMlp: WrapperClass<MnistMlpWrapper> }>(wrapperPath);
    expect(MnistMlp.budget).toEqual({ 'tol.region1': 1e-3, 'max_iter.region1': 300 });
    const x = floats(8, 6 * 784);
    const model = await MnistMlp.load(modelPath);
    try {
      for (const [tol, maxIter] of [[1e-3, 2], [0.05, 300], [1e-6, 3]]) {
        const ref = await direct(modelPath, { x: new ort.Tensor('float32', x, [6, 784]), ...budgetFeeds(tol, maxIter) });
        const out = await model.run({ x: { data: x, dims: [6, 784] } }, { 'tol.region1': tol, 'max_iter.region1': maxIter });
        expect(Array.from(out.y.data)).toEqual(Array.from(ref.y!.data as Float32Array));
        expect(Array.from(out.iterations.data)).toEqual(Array.from(ref.iterations!.data as BigInt64Array));
        expect(Array.from(out.iterations.data, Number).every((n) => n <= maxIter)).toBe(true);
        const predicted = await model.predict(x, { 'max_iter.region1': maxIter, 'tol.region1': tol });
        expect(predicted.iterations).toEqual(Array.from(ref.iterations!.data as BigInt64Array, Number));
      }
      await expect(model.predict(x, { 'max_iter.region1': 1 })).rejects.toThrow(
        "MnistMlp.run: maxIter of region 'region1' must be an integer from 2 (the plain sweep and one check) to 2147483647, got 1",
      );
      await expect(model.run({ x: { data: x, dims: [6, 784] } }, { 'tol.region1': -0.1 })).rejects.toThrow("MnistMlp.run: tol of region 'region1' must be a finite number >= 0, got -0.1");
    } finally {
      await model.close();
    }
  });

  it('checks shapes and lengths before running, naming the input', async () => {
    const { MnistMlp } = await importModule<{ MnistMlp: WrapperClass<MnistMlpWrapper> }>(wrapperPath);
    const model = await MnistMlp.load(modelPath);
    try {
      await expect(model.run({ x: { data: new Float32Array(2 * 783), dims: [2, 783] } })).rejects.toThrow(
        "MnistMlp.run: input 'x' has dims [2, 783], expected [B, 784]",
      );
      await expect(model.run({ x: { data: new Float32Array(784), dims: [784] } })).rejects.toThrow("input 'x' has dims [784], expected [B, 784]");
      await expect(model.run({ x: { data: new Float32Array(784), dims: [2, 784] } })).rejects.toThrow(
        "input 'x' has 784 values, but dims [2, 784] hold 1568",
      );
      await expect(model.run({ x: { data: new Float32Array(784), dims: [0.5, 784] } })).rejects.toThrow('expected non-negative integers');
      await expect(model.run({} as never)).rejects.toThrow("MnistMlp.run: missing input 'x'");
      await expect(model.predict(new Float32Array(1000))).rejects.toThrow('MnistMlp.predict: x has 1000 values, not a whole number of samples of shape [784]');
    } finally {
      await model.close();
    }
    await expect(MnistMlp.load(ws.path('nowhere.onnx'))).rejects.toThrow(/^MnistMlp\.load: cannot read .*nowhere\.onnx: ENOENT/);
    await expect(MnistMlp.load(modelPath, { device: 'tpu' as never })).rejects.toThrow("MnistMlp.load: unknown device 'tpu'");
  });

  it('refuses a model that no longer matches the manifest beside it, unless verify: false; codegen refuses it too (issue 13)', async () => {
    const { MnistMlp } = await importModule<{ MnistMlp: WrapperClass<MnistMlpWrapper> }>(wrapperPath);
    const bytes = new Uint8Array(readFileSync(modelPath));
    bytes[bytes.length - 64] ^= 0x10; // a bit flip in the last initializer: still a valid model
    const corrupt = ws.write('corrupt/model.onnx', bytes);
    ws.write('corrupt/manifest.json', readFileSync(ws.path('mnist-mlp', 'manifest.json')));
    await expect(MnistMlp.load(corrupt)).rejects.toThrow(/^MnistMlp\.load: .*corrupt\/model\.onnx does not match the sha256 that .*corrupt\/manifest\.json records/);
    const loaded = await MnistMlp.load(corrupt, { verify: false });
    await loaded.close();
    await expect(generateWrapper(corrupt)).rejects.toThrow(/corrupt\/model\.onnx: does not match .*manifest\.json .*--no-verify/);
    expect((await generateWrapper(corrupt, { verify: false })).model.className).toBe('MnistMlp');
  });

  it('is deterministic: the same text on every run and for another export of the same spec', async () => {
    const written = readFileSync(wrapperPath, 'utf8');
    expect((await generateWrapper(modelPath)).text).toBe(written);
    await exportModel(mnistMlp, ws.path('again', 'mnist-mlp'));
    expect((await generateWrapper(ws.path('again', 'mnist-mlp', 'model.onnx'))).text).toBe(written);
    expect(written).not.toContain(ws.root);
  });

  it('finds the model relative to itself when written elsewhere (--out)', async () => {
    const out = ws.path('app', 'src', 'models', 'digits.ts');
    const { text } = await writeWrapper(modelPath, { out, name: 'digits' });
    expect(text).toContain("new URL('../../../mnist-mlp/model.onnx', import.meta.url)");
    const { Digits } = await importModule<{ Digits: WrapperClass<MnistMlpWrapper> }>(out);
    const model = await Digits.load();
    try {
      const x = floats(3, 784);
      const ref = await direct(modelPath, { x: new ort.Tensor('float32', x, [1, 784]), ...budgetFeeds() });
      expect(Array.from((await model.predict(x)).y.data)).toEqual(Array.from(ref.y!.data as Float32Array));
    } finally {
      await model.close();
    }
  });

  it('runs under plain Node with tsx, outside vitest', async () => {
    const printed = JSON.parse(runWithTsx(ws, ws.path('use-mnist.ts'))) as { y: number[]; dims: number[]; iterations: number[]; sweeps: number[] };
    const x = new Float32Array(2 * 784).map((_, i) => Math.sin(i));
    const ref = await direct(modelPath, { x: new ort.Tensor('float32', x, [2, 784]), ...budgetFeeds() });
    expect(printed.dims).toEqual([2, 10]);
    // JSON holds float32 values exactly (they are doubles).
    expect(printed.y).toEqual(Array.from(ref.y!.data as Float32Array));
    expect(printed.iterations).toEqual(Array.from(ref.iterations!.data as BigInt64Array, Number));
    expect(printed.sweeps).toEqual(printed.iterations);
  });

  it('wraps the training graph too, with quoted parameter names and no predict', async () => {
    const { path, text, model } = await generateWrapper(ws.path('mnist-mlp', 'train.onnx'));
    expect(path).toBe(ws.path('mnist-mlp', 'mnist-mlp-train.ts'));
    expect(model.className).toBe('MnistMlpTrain');
    const cls = parseClass(text, 'MnistMlpTrain');
    expect(cls.getMethods().map((m) => m.getName())).toEqual(['load', 'run', 'close']);
    expect(text).toContain("readonly 'stem.0.weight': TypedTensor<Float32Array>;");
    expect(text).toContain("readonly target: TypedTensor<BigInt64Array>;");
    writeFileSync(path, text);
    expect(typeCheck([path])).toEqual([]);
  });
});

describe('foreign and hand-built models', () => {
  it('wraps test/fixtures/conv-net.onnx (PyTorch): run only, its symbolic batch dim kept', async () => {
    const modelPath = ws.write('foreign/conv-net.onnx', readFileSync(join(REPO, 'test/fixtures/conv-net.onnx')));
    const { path, text } = await writeWrapper(modelPath);
    expect(path).toBe(ws.path('foreign', 'conv-net.ts'));
    expect(text).toContain('float32, shape `[batch, 1, 8, 8]`');
    expect(parseClass(text, 'ConvNet').getMethods().map((m) => m.getName())).toEqual(['load', 'run', 'close']);
    expect(typeCheck([path])).toEqual([]);

    type ConvNet = { run(i: { x: Typed<Float32Array> }): Promise<{ y: Typed<Float32Array> }>; close(): Promise<void> };
    const { ConvNet } = await importModule<{ ConvNet: WrapperClass<ConvNet> }>(path);
    const x = floats(11, 3 * 64);
    const ref = await direct(modelPath, { x: new ort.Tensor('float32', x, [3, 1, 8, 8]) });
    const model = await ConvNet.load();
    try {
      const out = await model.run({ x: { data: x, dims: [3, 1, 8, 8] } });
      expect(out.y.dims).toEqual([3, 3]);
      expect(Array.from(out.y.data)).toEqual(Array.from(ref.y!.data as Float32Array));
      await expect(model.run({ x: { data: x, dims: [3, 1, 8, 8, 1] } })).rejects.toThrow("ConvNet.run: input 'x' has dims [3, 1, 8, 8, 1], expected [batch, 1, 8, 8]");
    } finally {
      await model.close();
    }
  });

  it('carries float64, bool and int64 as Float64Array, Uint8Array and BigInt64Array, and binds B across inputs', async () => {
    const modelPath = ws.write('mixed/mixed.onnx', mixedTypesModel());
    const { path, text, model: info } = await writeWrapper(modelPath);
    expect(info.className).toBe('MixedTypes');
    expect(text).toContain('readonly a: TypedTensor<Float64Array>;');
    expect(text).toContain('readonly mask: TypedTensor<Uint8Array>;');
    expect(text).toContain('readonly count: TypedTensor<BigInt64Array>;');
    expect(typeCheck([path])).toEqual([]);

    type Mixed = {
      run(i: { a: Typed<Float64Array>; mask: Typed<Uint8Array> }): Promise<{ y: Typed<Float64Array>; count: Typed<BigInt64Array> }>;
      close(): Promise<void>;
    };
    const { MixedTypes } = await importModule<{ MixedTypes: WrapperClass<Mixed> }>(path);
    const model = await MixedTypes.load();
    try {
      const a = Float64Array.from([0.1, -2, 3.5, 4, 5.25, -6]);
      const mask = Uint8Array.from([1, 0, 1, 0, 0, 1]);
      const out = await model.run({ a: { data: a, dims: [2, 3] }, mask: { data: mask, dims: [2, 3] } });
      expect(Array.from(out.y.data)).toEqual([0.1, 2, 3.5, -4, -5.25, -6]);
      expect(Array.from(out.count.data)).toEqual([1n, 0n, 1n, 0n, 0n, 1n]);
      await expect(model.run({ a: { data: a, dims: [2, 3] }, mask: { data: mask.subarray(0, 3), dims: [1, 3] } })).rejects.toThrow(
        "MixedTypes.run: input 'mask' has B = 1 (dims [1, 3]), but an earlier input has B = 2",
      );
    } finally {
      await model.close();
    }
  });

  it('refuses a float16 input with one line naming it', async () => {
    const modelPath = ws.write('half/half.onnx', float16Model());
    const err = await generateWrapper(modelPath).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TwnnError);
    expect((err as Error).message).toBe(
      `${modelPath}: input 'h' has element type float16, which no JS typed array holds; codegen wraps tensors of float32, float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64, bool`,
    );
  });

  it('rejects a corrupt file and a manifest that does not describe the model', async () => {
    const corrupt = ws.write('corrupt/model.onnx', 'definitely not protobuf');
    await expect(generateWrapper(corrupt)).rejects.toThrow(FormatError);

    // A PyTorch model where a twnn export was: the manifest beside it is stale.
    const stale = ws.write('stale/model.onnx', readFileSync(join(REPO, 'test/fixtures/conv-net.onnx')));
    ws.write('stale/manifest.json', readFileSync(ws.path('mnist-mlp', 'manifest.json'), 'utf8'));
    const err = await generateWrapper(stale).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toContain('the manifest.json beside it does not describe this file (inputs: x float32[B,784], tol.region1 float32[], max_iter.region1 int64[] in the manifest, x float32[batch,1,8,8] in the file)');
    const ignored = await generateWrapper(stale, { manifest: false });
    expect(ignored.model.className).toBe('Model');

    ws.write('stale/manifest.json', '{ not json');
    await expect(generateWrapper(stale)).rejects.toThrow(/manifest\.json: not valid JSON .*pass --no-manifest/);
  });
});
