// A model with new values for its initializers: how a trainer turns the
// exported model.onnx into the current weights' model without building the
// graph again. Only the initializers' raw_data changes; everything else is
// the decoded message re-encoded, so the bytes equal those of exporting the
// same spec with these weights (test/onnx/reweight.test.ts).
import { dtypeFromOnnx, FormatError, type Tensor } from '../ir/index.js';
import { onnx, toNumber, type OnnxTypes } from './proto.js';
import { tensorToProto } from './tensor-proto.js';

/**
 * `.onnx` bytes of `model` with each initializer named in `weights` holding
 * that tensor instead. A weight that names no initializer, or whose dtype or
 * shape differs from the one it replaces, is a FormatError naming `where`.
 *
 * @example
 * const model = await readModelFile('exported/sine/model.onnx');
 * const bytes = withInitializers(model, new Map([['head.weight', trained]]), 'exported/sine/model.onnx');
 */
export function withInitializers(model: OnnxTypes.IModelProto, weights: ReadonlyMap<string, Tensor>, where: string): Uint8Array {
  const graph = model.graph;
  if (!graph) throw new FormatError(`${where}: no graph`);
  const replaced = new Set<string>();
  const initializer = (graph.initializer ?? []).map((old) => {
    const name = old.name ?? '';
    const value = weights.get(name);
    if (!value) return old;
    const shape = (old.dims ?? []).map(toNumber);
    if (dtypeFromOnnx(old.dataType ?? 0) !== value.dtype || shape.join(',') !== value.shape.join(',')) {
      throw new FormatError(`${where}: initializer '${name}' is ${dtypeFromOnnx(old.dataType ?? 0)} [${shape.join(',')}], the new value ${value.dtype} [${value.shape.join(',')}]`);
    }
    replaced.add(name);
    return onnx.TensorProto.fromObject(tensorToProto(value, name));
  });
  const unknown = [...weights.keys()].filter((name) => !replaced.has(name));
  if (unknown.length > 0) throw new FormatError(`${where}: no initializer named ${unknown.map((n) => `'${n}'`).join(', ')}`);
  // A shallow copy: the caller's decoded model keeps its own initializers.
  const copy = onnx.ModelProto.create({ ...model, graph: onnx.GraphProto.create({ ...graph, initializer }) });
  return onnx.ModelProto.encode(copy).finish();
}
