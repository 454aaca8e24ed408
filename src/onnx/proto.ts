// onnx-proto is CommonJS; this file is the one place that imports it.
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
// Re-exported as a namespace type so other files can name onnx.IModelProto etc.
export type { onnx as OnnxTypes } from 'onnx-proto';

/** protobufjs gives int64 fields as Long objects (or numbers); twnn wants numbers. */
export function toNumber(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}
