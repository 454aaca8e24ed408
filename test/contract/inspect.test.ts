import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Graph, Tensor } from '../../src/ir/index.js';
import { add, loop, mul } from '../../src/ops/index.js';
import { formatInspect, inspectModel, type InspectReport } from '../../src/contract/inspect.js';
import { parseModel, readModelFile } from '../../src/onnx/load.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { pythonJson } from '../helpers/onnx-checker.js';
import { buildLoopModel, buildMlp, nodeName } from '../onnx/models.js';

const FIXTURES = resolve(fileURLToPath(import.meta.url), '../../fixtures');

/**
 * The same summary computed by python onnx 1.12 from the file: the reference
 * twnn's inspect is compared with (all graphs walked, initializers excluded from inputs).
 */
const PY_INSPECT = `import json, sys, collections, onnx
import numpy as np
from onnx import numpy_helper, mapping
m = onnx.load(sys.argv[1])
counts = collections.Counter()
loops, ifs, params, inits = [], 0, 0, 0
FLOATS = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16}
def walk(g, path, consts):
    global ifs, params, inits
    consts = dict(consts)
    for t in g.initializer:
        inits += 1
        if t.data_type in FLOATS:
            params += int(np.prod(t.dims))
        a = numpy_helper.to_array(t)
        if a.size == 1 and a.dtype.kind == 'i':
            consts[t.name] = int(a.reshape(()))
    for n in g.node:
        counts[(n.domain + '::' if n.domain else '') + n.op_type] += 1
        if n.op_type == 'Constant':
            for at in n.attribute:
                if at.name == 'value':
                    a = numpy_helper.to_array(at.t)
                    if a.size == 1 and a.dtype.kind == 'i':
                        consts[n.output[0]] = int(a.reshape(()))
        if n.op_type == 'If':
            ifs += 1
        if n.op_type == 'Loop':
            body = next(at.g for at in n.attribute if at.name == 'body')
            loops.append({'name': n.name, 'path': path, 'depth': len(path), 'bodyNodes': len(body.node),
                          'tripCount': consts.get(n.input[0]) if n.input and n.input[0] else None})
        for at in n.attribute:
            if at.type == onnx.AttributeProto.GRAPH:
                walk(at.g, path + [n.name], consts)
def value(v):
    tt = v.type.tensor_type
    dims = [d.dim_value if d.HasField('dim_value') else d.dim_param if d.HasField('dim_param') else '?' for d in tt.shape.dim]
    return {'name': v.name, 'dtype': np.dtype(mapping.TENSOR_TYPE_TO_NP_TYPE[tt.elem_type]).name, 'shape': dims}
walk(m.graph, [], {})
init_names = {t.name for t in m.graph.initializer}
print(json.dumps({
    'irVersion': m.ir_version,
    'opsets': [{'domain': o.domain or 'ai.onnx', 'version': o.version} for o in m.opset_import],
    'producer': {'name': m.producer_name, 'version': m.producer_version},
    'graphName': m.graph.name,
    'inputs': [value(v) for v in m.graph.input if v.name not in init_names],
    'outputs': [value(v) for v in m.graph.output],
    'ops': [{'op': k, 'count': c} for k, c in sorted(counts.items(), key=lambda kc: (-kc[1], kc[0]))],
    'nodeCount': sum(counts.values()),
    'loops': loops, 'ifCount': ifs, 'parameters': params, 'initializers': inits,
}))`;

type PyReport = Omit<InspectReport, 'docString' | 'graphDocString' | 'metadata' | 'loops'> & {
  loops: { name: string; path: string[]; depth: number; bodyNodes: number; tripCount: number | null }[];
};

function expectMatchesPython(report: InspectReport, path: string): PyReport {
  const ref = pythonJson<PyReport>(PY_INSPECT, [path]);
  const { loops, ...rest } = ref;
  expect(report).toMatchObject(rest);
  expect(report.loops.map(({ name, path: p, depth, bodyNodes, tripCount }) => ({ name, path: p, depth, bodyNodes, tripCount }))).toEqual(loops);
  return ref;
}

describe('inspect on foreign models', () => {
  it('a torch.onnx.export conv net: I/O with the dynamic batch axis, op histogram, parameter count', async () => {
    const path = join(FIXTURES, 'conv-net.onnx');
    const report = inspectModel(await readModelFile(path));
    expectMatchesPython(report, path);
    // The fixture script's architecture: Conv(1->4, 3x3) + BatchNorm(4) + Gemm(64->3).
    expect(report.ops.map((o) => o.op).sort()).toEqual(['BatchNormalization', 'Conv', 'Flatten', 'Gemm', 'MaxPool', 'Relu']);
    expect(report.parameters).toBe(4 * 1 * 3 * 3 + 4 + 4 * 4 + 3 * 64 + 3);
    expect(report.inputs).toEqual([{ name: 'x', dtype: 'float32', shape: ['batch', 1, 8, 8] }]);
    expect(report.outputs).toEqual([{ name: 'y', dtype: 'float32', shape: ['batch', 3] }]);
    expect(report.producer.name).toBe('pytorch');
    expect(report.loops).toEqual([]);
  });

  it('an onnx.helper Loop containing an If: histogram over subgraphs, trip count from an initializer', async () => {
    const path = join(FIXTURES, 'loop-if.onnx');
    const report = inspectModel(await readModelFile(path));
    const ref = expectMatchesPython(report, path);
    expect(ref.loops).toHaveLength(1);
    expect(report.ifCount).toBe(1);
    expect(report.loops[0]).toMatchObject({ name: 'outer_loop', depth: 0, carried: 1, bodyNodesTotal: ref.loops[0].bodyNodes + 2 });
    expect(report.graphDocString).toBe('a Loop containing an If, written with onnx.helper');
    expect(report.loops[0].config).toBeUndefined();
  });

  it('a model with an unknown dimension shows it as ?', () => {
    const g = new Graph('g');
    const x = g.input('x', 'float32', [g.freshDim(), 2]);
    g.output('y', add(g, x, x));
    const report = inspectModel(parseModel(serializeModel(g), 'g.onnx'));
    expect(report.inputs[0].shape).toEqual(['?', 2]);
  });
});

describe('inspect on twnn models', () => {
  /** Two nested Loops; the outer one carries a twnn iterator config in the metadata. */
  function nested(): { bytes: Uint8Array; outer: string; inner: string } {
    const g = new Graph('nested');
    const x = g.input('x', 'float32', ['B', 2]);
    const half = g.initializer('half', Tensor.fromNumbers('float32', [2], [0.5, 0.25]));
    const { carried } = g.scope('region1', () =>
      loop(g, {
        name: 'iterate',
        maxTrip: 300,
        carried: [x],
        body: (b, it) => {
          const inner = b.scope('block1', () =>
            loop(b, { name: 'inner', maxTrip: 3, carried: [it.carried[0]], body: (c, jt) => ({ carried: [mul(c, jt.carried[0], half)] }) }),
          );
          return { carried: [add(b, inner.carried[0], x)] };
        },
      }),
    );
    g.output('y', carried[0]);
    const outer = nodeName(g, 'Loop');
    const innerNode = g.nodes.find((n) => n.opType === 'Loop')!.subgraphs()[0].nodes.find((n) => n.opType === 'Loop')!;
    const config = { region: 'region1', tol: 1e-3, maxIter: 300, norm: 'max', wormholes: [{ from: 3, to: 1, gateBias: -4 }], backward: 'implicit' };
    const bytes = serializeModel(g, { metadata: { [`twnn.loop:${outer}`]: JSON.stringify(config), 'twnn.dtype': 'float32' } });
    return { bytes, outer, inner: innerNode.name };
  }

  it('reports Loop nesting, trip counts from Constants, and the twnn.loop config', () => {
    const { bytes, outer, inner } = nested();
    const report = inspectModel(parseModel(bytes, 'nested.onnx'));
    expect(report.loops).toHaveLength(2);
    const [o, i] = report.loops;
    expect(o).toMatchObject({ name: outer, path: [], depth: 0, tripCount: 300, carried: 1 });
    expect(o.config).toEqual({ region: 'region1', tol: 0.001, maxIter: 300, norm: 'max', wormholes: [{ from: 3, to: 1, gateBias: -4 }], backward: 'implicit' });
    expect(i).toMatchObject({ name: inner, path: [outer], depth: 1, tripCount: 3 });
    expect(i.config).toBeUndefined();
    expect(report.metadata.map((m) => m.key)).toEqual([`twnn.loop:${outer}`, 'twnn.dtype']);

    const text = formatInspect(report);
    const outerLine = text.split('\n').find((l) => l.includes(outer) && l.includes('depth 0'))!;
    expect(outerLine).toContain('trip count 300');
    expect(outerLine).toContain('tol 0.001');
    expect(outerLine).toContain('maxIter 300');
    expect(outerLine).toContain('norm max');
    expect(outerLine).toContain('wormholes 3→1 (gate bias -4)');
    expect(text).toContain(`${outer} > ${inner}`);
  });

  it('reports a twnn.loop entry that is not JSON instead of failing', () => {
    const g = buildLoopModel();
    const name = nodeName(g, 'Loop');
    const report = inspectModel(parseModel(serializeModel(g, { metadata: { [`twnn.loop:${name}`]: '{tol: 1e-3' } }), 'm.onnx'));
    expect(report.loops[0].config).toBeUndefined();
    expect(report.loops[0].configError).toMatch(new RegExp(`metadata 'twnn.loop:${name}' is not a JSON object`));
    expect(formatInspect(report)).toContain('config: metadata');
  });

  it('matches python onnx on a twnn MLP and a twnn Loop model', () => {
    const dir = mkdtempSync(join(tmpdir(), 'twnn-inspect-'));
    try {
      for (const [name, g] of [['mlp', buildMlp()], ['loop', buildLoopModel()]] as const) {
        const path = join(dir, `${name}.onnx`);
        const bytes = serializeModel(g);
        writeFileSync(path, bytes);
        expectMatchesPython(inspectModel(parseModel(bytes, path)), path);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('formats aligned columns and survives JSON', () => {
    const report = inspectModel(parseModel(serializeModel(buildLoopModel()), 'loop.onnx'));
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
    const lines = formatInspect(report).split('\n');
    const start = lines.findIndex((l) => l.startsWith('ops ('));
    const opRows = lines.slice(start + 1, start + 1 + report.ops.length);
    expect(opRows.map((l) => l.trim().split(/\s+/))).toEqual(report.ops.map((o) => [o.op, String(o.count)]));
    // Every count starts in the same column.
    const columns = new Set(opRows.map((l) => l.search(/\d+$/)));
    expect(columns.size).toBe(1);
    expect(lines).toContain(`  parameters  ${report.parameters} in ${report.initializers} initializers`);
  });
});
