import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { onnx, type OnnxTypes } from '../../src/onnx/proto.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { checkOnnx, expectOnnxValid } from '../helpers/onnx-checker.js';
import { buildLoopModel, buildMlp } from './models.js';

const FIXTURES = resolve(fileURLToPath(import.meta.url), '../../fixtures');

/** Serialize the MLP, then let `patch` edit its decoded ModelProto. */
function patchedMlp(patch: (m: OnnxTypes.ModelProto) => void): Uint8Array {
  const m = onnx.ModelProto.decode(serializeModel(buildMlp()));
  patch(m);
  return onnx.ModelProto.encode(m).finish();
}

describe('onnx checker harness (python onnx 1.12, full_check + strict shape inference)', () => {
  it('passes twnn-built models: an MLP (MatMul/Add/Relu/Gemm) and a Loop with an If', () => {
    const results = checkOnnx([serializeModel(buildMlp()), serializeModel(buildLoopModel(), { opset: 17 })]);
    expect(results.map((r) => r.ok)).toEqual([true, true]);
    expect(results.map((r) => r.error)).toEqual([null, null]);
  });

  it('passes the foreign fixtures, given as paths', () => {
    const paths = readdirSync(FIXTURES).filter((f) => f.endsWith('.onnx')).sort().map((f) => join(FIXTURES, f));
    expect(paths.length).toBeGreaterThanOrEqual(3);
    const results = checkOnnx(paths);
    expect(results.map((r) => r.file)).toEqual(paths);
    expect(results.filter((r) => !r.ok)).toEqual([]);
  });

  it('fails a model whose value_info shape contradicts what the op produces', () => {
    const bytes = patchedMlp((m) => {
      // layer1's Relu gives [B,8]; claim [B,5].
      const relu = m.graph!.node!.find((n) => n.opType === 'Relu')!;
      const info = m.graph!.valueInfo!.find((v) => v.name === relu.output![0])!;
      info.type!.tensorType!.shape!.dim![1] = { dimValue: 5 };
    });
    const [r] = checkOnnx(bytes);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/Relu.*Inferred shape and existing shape differ in dimension 1: \(8\) vs \(5\)/);
    expect(() => expectOnnxValid(bytes)).toThrow(/onnx checker rejected 1 model/);
  });

  it('fails a model whose value_info dtype contradicts the op', () => {
    const bytes = patchedMlp((m) => {
      const add = m.graph!.node!.find((n) => n.opType === 'Add')!;
      m.graph!.valueInfo!.find((v) => v.name === add.output![0])!.type!.tensorType!.elemType = onnx.TensorProto.DataType.DOUBLE;
    });
    const [r] = checkOnnx(bytes);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/Add.*Inferred elem type differs from existing elem type: \(FLOAT\) vs \(DOUBLE\)/);
  });

  it('fails a node reading a value nothing defines, and a corrupt file, one result per model in order', () => {
    const dangling = patchedMlp((m) => {
      m.graph!.node![0].input![0] = 'nowhere';
    });
    const good = serializeModel(buildMlp());
    const results = checkOnnx([good, dangling, new Uint8Array([1, 2, 3])]);
    expect(results.map((r) => r.ok)).toEqual([true, false, false]);
    expect(results[1].error).toMatch(/nowhere/);
  });
});
