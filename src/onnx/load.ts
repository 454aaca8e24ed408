// Reading .onnx files: decode, reject anything that is not a usable ONNX model, read weights.
import type { Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { FormatError, type Tensor } from '../ir/index.js';
import { onnx, toNumber, type OnnxTypes } from './proto.js';
import { tensorFromProto } from './tensor-proto.js';

/**
 * Decode `.onnx` bytes into a ModelProto. Every way the bytes can fail to be
 * an ONNX model — empty, truncated, corrupt, or some other file that happens
 * to decode as protobuf — is a FormatError whose message names `where`.
 *
 * @example
 * const model = parseModel(await readFile('model.onnx'), 'model.onnx');
 * model.graph.node.length // 12
 */
export function parseModel(bytes: Uint8Array, where: string): OnnxTypes.IModelProto {
  if (bytes.length === 0) throw new FormatError(`${where}: empty file, not an ONNX model`);
  let model: OnnxTypes.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    // protobufjs says "index out of range: 9 + 42 > 50" or "invalid wire type 7 at offset 3".
    throw new FormatError(`${where}: corrupt or truncated ONNX file (protobuf: ${(err as Error).message})`);
  }
  checkLooksLikeOnnx(model, where);
  return model;
}

/**
 * Read and parse an `.onnx` file; a missing or unreadable file is a FormatError naming the path.
 *
 * @example const model = await readModelFile('exported/sine/model.onnx');
 */
export async function readModelFile(path: string): Promise<OnnxTypes.IModelProto> {
  return parseModel(await readModelBytes(path), path);
}

/**
 * The bytes of an `.onnx` file. A missing or unreadable path, or one that is
 * not a regular file (a FIFO would block every command reading it, a device
 * never ends), is a FormatError naming it.
 *
 * @example const bytes = await readModelBytes('exported/sine-mlp/model.onnx');
 */
export async function readModelBytes(path: string): Promise<Uint8Array> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new FormatError(`${path}: cannot read ONNX file (${info.isDirectory() ? 'is a directory' : `not a regular file: ${specialKind(info)}`})`);
    return new Uint8Array(await readFile(path));
  } catch (err) {
    if (err instanceof FormatError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message.split('\n')[0];
    throw new FormatError(`${path}: cannot read ONNX file (${why})`);
  }
}

function specialKind(info: Stats): string {
  if (info.isFIFO()) return 'a FIFO';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  return 'not a file';
}

/**
 * The main graph's initializers as Tensors, by name (raw_data or the typed
 * repeated fields alike) — how trained weights are read back.
 *
 * @example
 * const weights = readInitializers(await readModelFile('exported/sine/model.onnx'));
 * weights.get('block1/W')!.shape // [16, 16]
 */
export function readInitializers(model: OnnxTypes.IModelProto, where = 'model'): Map<string, Tensor> {
  const result = new Map<string, Tensor>();
  for (const t of model.graph?.initializer ?? []) {
    const name = t.name ?? '';
    if (result.has(name)) throw new FormatError(`${where}: initializer '${name}' is defined twice`);
    result.set(name, tensorFromProto(t, where));
  }
  return result;
}

/*
 * Protobuf has no magic number, and a decoder skips unknown fields, so JSON,
 * PNG or random bytes sometimes decode "successfully" into a near-empty
 * message. A real model has an IR version, an opset, a graph with outputs, and
 * nodes that each name an operator.
 */
function checkLooksLikeOnnx(model: OnnxTypes.IModelProto, where: string): void {
  const notOnnx = (why: string) => new FormatError(`${where}: not an ONNX model (${why})`);
  const ir = toNumber(model.irVersion);
  if (ir < 1) throw notOnnx('no ir_version');
  if (ir > 100) throw notOnnx(`implausible ir_version ${ir}`);
  const opsets = model.opsetImport ?? [];
  if (opsets.length === 0) throw notOnnx('no opset_import');
  for (const o of opsets) {
    const v = toNumber(o.version);
    if (v < 1 || v > 1000) throw notOnnx(`opset_import '${o.domain ?? ''}' has implausible version ${v}`);
  }
  if (!model.graph) throw notOnnx('no graph');
  if ((model.graph.output ?? []).length === 0) throw notOnnx(`graph '${model.graph.name ?? ''}' has no outputs`);
  const checkNodes = (g: OnnxTypes.IGraphProto) => {
    (g.node ?? []).forEach((n, i) => {
      if (!n.opType) throw notOnnx(`node ${i} of graph '${g.name ?? ''}' has no op_type`);
      for (const a of n.attribute ?? []) {
        if (a.g) checkNodes(a.g);
        (a.graphs ?? []).forEach(checkNodes);
      }
    });
  };
  checkNodes(model.graph);
}
