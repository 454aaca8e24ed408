// The channel block size of onnxruntime's NCHWc CPU kernels on this machine
// (MlasNchwcGetBlockSize: 16 with AVX-512, 8 with AVX2), which the blocked
// weights of src/onnx/blocked-conv.ts must be laid out in. onnxruntime does not
// report it, so it is read off one ReorderInput: for X [1, C, 1, 2] holding
// 0, 1, 2, ... in NCHW order, the NCHWc layout [C/B, H, W, B] puts X[0, 0, 0, 1]
// (the value 1) at offset B.
import * as ort from 'onnxruntime-node';
import { onnx } from '../onnx/proto.js';
import { NCHWC_DOMAIN } from '../onnx/blocked-conv.js';

/** A multiple of every block size MLAS uses, so ReorderInput accepts it anywhere. */
const PROBE_CHANNELS = 64;

let probed: Promise<number> | undefined;

/**
 * The NCHWc block size of this machine's onnxruntime CPU provider, or 0 when
 * it has no NCHWc kernels (then nothing is rewritten). Measured once per process.
 *
 * @example const block = await nchwcBlockSize(); // 16 on an AVX-512 CPU
 */
export function nchwcBlockSize(): Promise<number> {
  probed ??= probe().catch(() => 0);
  return probed;
}

async function probe(): Promise<number> {
  const shape = [1, PROBE_CHANNELS, 1, 2];
  const value = (name: string) => ({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: shape.map((d) => ({ dimValue: d })) } } } });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }, { domain: NCHWC_DOMAIN, version: 1 }],
    graph: { name: 'nchwc_probe', node: [{ opType: 'ReorderInput', domain: NCHWC_DOMAIN, input: ['x'], output: ['y'] }], input: [value('x')], output: [value('y')] },
  });
  const session = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish(), { logSeverityLevel: 4 });
  try {
    const x = new ort.Tensor('float32', Float32Array.from({ length: PROBE_CHANNELS * 2 }, (_, i) => i), shape);
    const y = (await session.run({ x })).y!.data as Float32Array;
    const block = y.indexOf(1);
    return block > 0 && PROBE_CHANNELS % block === 0 ? block : 0;
  } finally {
    await session.release();
  }
}
