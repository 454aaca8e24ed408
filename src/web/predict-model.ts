// The page draws the wave the model generates as it trains, so it needs the
// inference graph with the weights it is training, not those baked into
// model.onnx: the same graph with its parameters turned into graph inputs.
import { readModelFile } from '../onnx/load.js';
import { onnx } from '../onnx/proto.js';

/**
 * `modelPath`'s graph with the initializers named in `params` turned into
 * graph inputs of the same type and shape (the rest stay initializers).
 *
 * @example const bytes = await withParamsAsInputs('exported/sine/model.onnx', ['head.weight', 'head.bias']);
 */
export async function withParamsAsInputs(modelPath: string, params: readonly string[]): Promise<Uint8Array> {
  const model = await readModelFile(modelPath);
  const graph = model.graph!;
  const wanted = new Set(params);
  const moved = (graph.initializer ?? []).filter((t) => wanted.has(t.name ?? ''));
  graph.initializer = (graph.initializer ?? []).filter((t) => !wanted.has(t.name ?? ''));
  graph.input = [
    ...(graph.input ?? []),
    ...moved.map((t) => ({
      name: t.name,
      type: { tensorType: { elemType: t.dataType, shape: { dim: (t.dims ?? []).map((d) => ({ dimValue: d })) } } },
    })),
  ];
  return onnx.ModelProto.encode(onnx.ModelProto.fromObject(model as Record<string, unknown>)).finish();
}
