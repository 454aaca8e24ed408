import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError, Tensor } from '../../src/ir/index.js';
import { relu } from '../../src/ops/index.js';
import { parseModel, readInitializers, readModelFile } from '../../src/onnx/load.js';
import { graphFromProto, isOpaqueOp } from '../helpers/rebuild.js';
import { inspectModel } from '../../src/contract/inspect.js';
import { onnx } from '../../src/onnx/proto.js';
import { serializeModel, type ModelOptions } from '../../src/onnx/serialize.js';
import { pythonJson } from '../helpers/onnx-checker.js';
import { runGraph } from '../helpers/ort.js';
import { buildLoopModel, buildMlp, lcg, nodeName } from './models.js';

const FIXTURES = resolve(fileURLToPath(import.meta.url), '../../fixtures');
const fixture = (name: string) => join(FIXTURES, name);

function roundTrip(bytes: Uint8Array): Uint8Array {
  const { graph, options } = graphFromProto(parseModel(bytes, 'in-memory'), 'in-memory');
  return serializeModel(graph, options);
}

describe('graphFromProto: round trip of twnn-built models', () => {
  it('reproduces an MLP byte for byte, with model options carried over', () => {
    const g = buildMlp();
    const options: ModelOptions = { opset: 17, irVersion: 8, docString: 'mlp for tests', metadata: { task: 'unit', seed: '7' } };
    const bytes = serializeModel(g, options);
    expect(Buffer.from(roundTrip(bytes)).equals(Buffer.from(bytes))).toBe(true);
  });

  it('reproduces a Loop with an If, outer-scope reads and scan outputs byte for byte (opset 18, IR 9)', () => {
    const g = buildLoopModel();
    const loopName = nodeName(g, 'Loop');
    const options: ModelOptions = {
      opset: 18,
      irVersion: 9,
      metadata: { [`twnn.loop:${loopName}`]: JSON.stringify({ tol: 1e-3, maxIter: 300 }), backward: 'implicit' },
    };
    const bytes = serializeModel(g, options);
    expect(Buffer.from(roundTrip(bytes)).equals(Buffer.from(bytes))).toBe(true);
  });

  it('keeps node names, doc strings, opaque ops, and resolves outer-scope names to the outer values', () => {
    const original = buildLoopModel();
    const { graph, options } = graphFromProto(parseModel(serializeModel(original), 'loop.onnx'), 'loop.onnx');
    expect(options).toEqual({ irVersion: 8, opset: 17 });
    expect(graph.nodes.map((n) => n.name)).toEqual(original.nodes.map((n) => n.name));
    expect(graph.nodes.every((n) => isOpaqueOp(n.op))).toBe(true);
    const loopNode = graph.nodes.find((n) => n.opType === 'Loop')!;
    expect(loopNode.docString).toBe('fixed-point iterator of region1');
    const body = loopNode.subgraphs()[0];
    expect(body.parent).toBe(graph);
    // The body's MatMul reads the main graph's Transpose output: the very same Value object.
    const bodyMatMul = body.nodes.find((n) => n.opType === 'MatMul')!;
    const transposeOut = graph.nodes.find((n) => n.opType === 'Transpose')!.outputs[0];
    expect(bodyMatMul.inputs[1]).toBe(transposeOut);
    // Two levels down, the else branch reads the main graph input x.
    const ifNode = body.nodes.find((n) => n.opType === 'If')!;
    const elseBranch = ifNode.attr<import('../../src/ir/index.js').Graph>('else_branch');
    const elseAdd = elseBranch.nodes.find((n) => n.opType === 'Add')!;
    expect(elseAdd.inputs[1]).toBe(graph.inputs[0]);
    expect(graph.outputs.map((v) => v.describe())).toEqual(['y: float32[B,3]', expect.stringMatching(/^trace: float32\[\?\d+,B,3\]$/)]);
  });

  it('gives a graph the builder can extend, and the result runs like the original', async () => {
    const original = buildMlp();
    const { graph } = graphFromProto(parseModel(serializeModel(original), 'mlp.onnx'), 'mlp.onnx');
    graph.output('y_relu', relu(graph, graph.outputs[0]));
    const x = Tensor.fromNumbers('float32', [3, 4], lcg(9, 12));
    const before = await runGraph(original, { x });
    const after = await runGraph(graph, { x });
    expect(after.y.toNumbers()).toEqual(before.y.toNumbers());
    expect(after.y_relu.toNumbers()).toEqual(before.y.toNumbers().map((v) => Math.max(v, 0)));
  });

  it('rebuilds a foreign model with value_info (onnx.helper Loop containing an If) that runs correctly', async () => {
    const path = fixture('loop-if.onnx');
    const { graph, options } = graphFromProto(await readModelFile(path), path);
    expect(options.opset).toBe(13);
    const ref = pythonJson<{ w: number[]; trip: number }>(
      `import json, sys, onnx
from onnx import numpy_helper
inits = {t.name: numpy_helper.to_array(t) for t in onnx.load(sys.argv[1]).graph.initializer}
print(json.dumps({'w': inits['w'].tolist(), 'trip': int(inits['M'])}))`,
      [path],
    );
    const xs = [0.25, -3, 1.5];
    const out = await runGraph(graph, { x: Tensor.fromNumbers('float32', [3], xs) }, options);
    // The fixture's semantics: acc += w on even iterations, acc -= w on odd ones; y = relu(acc).
    let acc = xs.map(Math.fround);
    const trace: number[] = [];
    for (let i = 0; i < ref.trip; i++) {
      acc = acc.map((a, k) => Math.fround(i % 2 === 0 ? a + ref.w[k] : a - ref.w[k]));
      trace.push(...acc);
    }
    expect(out.y.toNumbers()).toEqual(acc.map((a) => Math.max(a, 0)));
    expect(out.ys.shape).toEqual([ref.trip, 3]);
    expect(out.ys.toNumbers()).toEqual(trace);
  });

  it('names the value that lacks type information in a model without value_info', async () => {
    const path = fixture('no-value-info.onnx');
    const model = await readModelFile(path);
    expect(() => graphFromProto(model, path)).toThrow(FormatError);
    expect(() => graphFromProto(model, path)).toThrow(`${path}: the model lacks type information for value 'hidden'`);
    const conv = fixture('conv-net.onnx');
    expect(() => graphFromProto(parseModelFile(conv), conv)).toThrow(/lacks type information for value '\/conv\/Conv_output_0'/);
  });

  it('treats an initializer that is also listed as a graph input (pre-IR-4 style) as an initializer', () => {
    const model = onnx.ModelProto.decode(serializeModel(buildMlp()));
    model.graph!.input!.push({ name: 'layer1/W', type: model.graph!.input![0].type });
    const { graph } = graphFromProto(model, 'old-style.onnx');
    expect(graph.inputs.map((v) => v.name)).toEqual(['x']);
    expect(graph.initializers.map((v) => v.name)).toEqual(['layer1/W', 'layer1/b', 'layer2/W', 'layer2/b']);
    expect(inspectModel(model).inputs.map((v) => v.name)).toEqual(['x']);
  });

  it('rejects attribute types twnn does not represent, naming the node', () => {
    const bytes = serializeModel(buildMlp());
    const model = onnx.ModelProto.decode(bytes);
    const node = model.graph!.node![0];
    node.attribute!.push({ name: 'bodies', type: onnx.AttributeProto.AttributeType.GRAPHS, graphs: [{ name: 'x' }] });
    expect(() => graphFromProto(model, 'patched.onnx')).toThrow(
      `patched.onnx: node '${node.name}' (MatMul) attribute 'bodies' has type GRAPHS, which twnn does not read`,
    );
  });
});

function parseModelFile(path: string) {
  return parseModel(readFileSync(path), path);
}

interface PyTensor {
  name: string;
  dims: number[];
  dtype: string;
  storage: 'raw_data' | 'float_data' | 'int64_data' | 'int32_data' | 'double_data';
  values: number[];
}

/** Every initializer as python onnx's numpy_helper reads it, and which field holds its data. */
function pythonInitializers(path: string): PyTensor[] {
  return pythonJson<PyTensor[]>(
    `import json, sys, onnx
from onnx import numpy_helper
out = []
for t in onnx.load(sys.argv[1]).graph.initializer:
    storage = next(f for f in ['raw_data', 'float_data', 'int64_data', 'int32_data', 'double_data'] if len(getattr(t, f)) > 0)
    a = numpy_helper.to_array(t)
    out.append({'name': t.name, 'dims': list(t.dims), 'dtype': a.dtype.name, 'storage': storage, 'values': a.flatten().tolist()})
print(json.dumps(out))`,
    [path],
  );
}

describe('readInitializers', () => {
  it.each([
    ['conv-net.onnx', ['raw_data']],
    ['loop-if.onnx', ['float_data', 'int64_data']],
  ])('reads %s (%s) as python onnx does', (name, storages) => {
    const path = fixture(name);
    const expected = pythonInitializers(path);
    // The fixture exercises the storage it is meant to, so both decoding paths are covered.
    expect([...new Set(expected.map((t) => t.storage))].sort()).toEqual([...storages].sort());
    const weights = readInitializers(parseModelFile(path), path);
    expect([...weights.keys()]).toEqual(expected.map((t) => t.name));
    for (const t of expected) {
      const got = weights.get(t.name)!;
      expect(got.dtype).toBe(t.dtype);
      expect(got.shape).toEqual(t.dims);
      expect(got.toNumbers()).toEqual(t.values);
    }
  });

  it('reads back the tensors a twnn model was built with', () => {
    const g = buildMlp();
    const weights = readInitializers(parseModel(serializeModel(g), 'mlp.onnx'));
    expect([...weights.keys()]).toEqual(g.initializers.map((v) => v.name));
    for (const v of g.initializers) expect(weights.get(v.name)!.toNumbers()).toEqual(v.constant!.toNumbers());
  });
});

describe('corrupt and foreign files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'twnn-load-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, data: Uint8Array | string) => {
    const p = join(dir, name);
    writeFileSync(p, data);
    return p;
  };
  const conv = readFileSync(fixture('conv-net.onnx'));

  async function expectFormatError(path: string, pattern: RegExp) {
    const err = await readModelFile(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FormatError);
    const message = (err as Error).message;
    expect(message.startsWith(`${path}: `)).toBe(true);
    expect(message).not.toContain('\n');
    expect(message).toMatch(pattern);
  }

  it('an empty file', async () => {
    await expectFormatError(write('empty.onnx', new Uint8Array()), /empty file/);
  });

  it.each([1, 7, 40, 300, Math.floor(conv.length / 2), conv.length - 1])('a file truncated to %i bytes', async (n) => {
    await expectFormatError(write(`truncated-${n}.onnx`, conv.subarray(0, n)), /corrupt or truncated|not an ONNX model/);
  });

  it('a truncation inside a tensor is reported as a protobuf error', async () => {
    await expectFormatError(write('cut.onnx', conv.subarray(0, conv.length - 1)), /corrupt or truncated ONNX file \(protobuf: index out of range/);
  });

  it.each(Array.from({ length: 24 }, (_, i) => i))('random bytes #%i', async (i) => {
    const bytes = Uint8Array.from(lcg(100 + i, 16 + i * 37), (v) => Math.floor((v + 1) * 128) & 255);
    await expectFormatError(write(`random-${i}.onnx`, bytes), /corrupt or truncated|not an ONNX model/);
  });

  it('a JSON file', async () => {
    await expectFormatError(write('model.json', JSON.stringify({ irVersion: 8, graph: { node: [{ opType: 'Relu' }] } })), /corrupt or truncated|not an ONNX model/);
  });

  it('a PNG file', async () => {
    const png = Uint8Array.from([
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89,
    ]);
    await expectFormatError(write('image.png', png), /corrupt or truncated|not an ONNX model/);
  });

  it('zero bytes that decode as an empty message', async () => {
    await expectFormatError(write('zeros.onnx', new Uint8Array(32)), /not an ONNX model \(no ir_version\)/);
  });

  it('a missing file and a directory', async () => {
    await expectFormatError(join(dir, 'does-not-exist.onnx'), /no such file/);
    await expectFormatError(dir, /is a directory/);
  });

  const encode = (m: object) => onnx.ModelProto.encode(onnx.ModelProto.fromObject(m)).finish();
  const graph = { name: 'g', node: [{ opType: 'Relu', input: ['x'], output: ['y'] }], output: [{ name: 'y' }] };

  it.each([
    ['no graph', { irVersion: 8, opsetImport: [{ domain: '', version: 17 }] }, /not an ONNX model \(no graph\)/],
    ['no opset_import', { irVersion: 8, graph }, /not an ONNX model \(no opset_import\)/],
    ['no ir_version', { opsetImport: [{ version: 17 }], graph }, /not an ONNX model \(no ir_version\)/],
    ['a graph without outputs', { irVersion: 8, opsetImport: [{ version: 17 }], graph: { ...graph, output: [] } }, /graph 'g' has no outputs/],
    [
      'a node without op_type',
      { irVersion: 8, opsetImport: [{ version: 17 }], graph: { ...graph, node: [{ input: ['x'], output: ['y'] }] } },
      /node 0 of graph 'g' has no op_type/,
    ],
  ])('a protobuf that decodes but has %s', async (what, m, pattern) => {
    await expectFormatError(write(`${what.replace(/\W+/g, '-')}.onnx`, encode(m)), pattern);
  });

  it('parseModel names `where` in the message too', () => {
    expect(() => parseModel(new Uint8Array([0x0a, 0xff]), 'upload #3')).toThrow(/^upload #3: corrupt or truncated/);
  });
});
