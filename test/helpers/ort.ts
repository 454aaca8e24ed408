import * as ort from 'onnxruntime-node';
import { Graph, Tensor, type DType } from '../../src/ir/index.js';
import { serializeModel, type ModelOptions } from '../../src/onnx/serialize.js';

const ORT_TYPE: Record<DType, ort.Tensor.Type> = {
  float32: 'float32', float64: 'float64', int64: 'int64', int32: 'int32', uint8: 'uint8', bool: 'bool',
};

/** Serialize `graph` and run it on onnxruntime-node's CPU EP; returns outputs by name as Tensors. */
export async function runGraph(
  graph: Graph,
  feeds: Record<string, Tensor>,
  options: ModelOptions = {},
): Promise<Record<string, Tensor>> {
  const bytes = serializeModel(graph, options);
  const session = await ort.InferenceSession.create(bytes);
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) {
    const data = t.dtype === 'bool' ? Uint8Array.from(t.data as Uint8Array) : t.data;
    ortFeeds[name] = new ort.Tensor(ORT_TYPE[t.dtype], data as never, [...t.shape]);
  }
  const out = await session.run(ortFeeds);
  const result: Record<string, Tensor> = {};
  for (const [name, v] of Object.entries(out)) {
    const dtype = v.type as DType;
    const data = dtype === 'bool' ? Uint8Array.from(v.data as unknown as ArrayLike<number>) : v.data;
    result[name] = new Tensor(dtype, v.dims.map(Number), data as never);
  }
  await session.release();
  return result;
}

/**
 * Serialize `graph` once and return a reusable runner (for finite differences,
 * which run the same model many times).
 */
export async function compileGraph(
  graph: Graph,
  options: ModelOptions = {},
): Promise<{ run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>; release(): Promise<void> }> {
  const session = await ort.InferenceSession.create(serializeModel(graph, options));
  return {
    async run(feeds) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(ORT_TYPE[t.dtype], t.data as never, [...t.shape]);
      const out = await session.run(ortFeeds);
      const result: Record<string, Tensor> = {};
      for (const [name, v] of Object.entries(out)) {
        const dtype = v.type as DType;
        const data = dtype === 'bool' ? Uint8Array.from(v.data as unknown as ArrayLike<number>) : v.data;
        result[name] = new Tensor(dtype, v.dims.map(Number), data as never);
      }
      return result;
    },
    release: () => session.release(),
  };
}
