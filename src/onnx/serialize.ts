import { DEFAULT_OPSET, ONNX_DTYPE_CODE, SpecError, type Attr, type Graph, type Node, type Shape, type Value, type DType } from '../ir/index.js';
import { onnx, type OnnxTypes } from './proto.js';
import { tensorToProto } from './tensor-proto.js';

export { DEFAULT_OPSET } from '../ir/index.js';
export const DEFAULT_IR_VERSION = 8;
export const PRODUCER_NAME = 'twnn';
export const PRODUCER_VERSION = '0.1.0';

/** Model-level fields around the main graph. */
export interface ModelOptions {
  /** Default-domain opset (17 unless asked). */
  opset?: number;
  irVersion?: number;
  docString?: string;
  /** Shown by Netron under model properties; keys are written in the order given. */
  metadata?: Readonly<Record<string, string>>;
  /** Emit value_info for every intermediate value (default true: Netron shows shapes, and checkers compare them). */
  valueInfo?: boolean;
}

/**
 * The ModelProto for `graph`: the protobuf-level form of docs/DESIGN.md §3's
 * conventions (IR 8, opset 17, producer fields, typed and shaped I/O,
 * raw_data initializers, names unique across subgraphs).
 *
 * @example
 * const bytes = serializeModel(graph, { opset: 17, metadata: { task: 'sine' } });
 */
export function modelToProto(graph: Graph, options: ModelOptions = {}): OnnxTypes.IModelProto {
  checkUniqueNames(graph);
  const model: OnnxTypes.IModelProto = {
    irVersion: options.irVersion ?? DEFAULT_IR_VERSION,
    opsetImport: [{ domain: '', version: options.opset ?? DEFAULT_OPSET }],
    producerName: PRODUCER_NAME,
    producerVersion: PRODUCER_VERSION,
    graph: graphToProto(graph, options.valueInfo ?? true),
  };
  if (options.docString) model.docString = options.docString;
  if (options.metadata) {
    model.metadataProps = Object.entries(options.metadata).map(([key, value]) => ({ key, value }));
  }
  return model;
}

/** Encode `graph` as `.onnx` bytes. Byte-identical for the same graph and options. */
export function serializeModel(graph: Graph, options: ModelOptions = {}): Uint8Array {
  const proto = onnx.ModelProto.fromObject(modelToProto(graph, options));
  return onnx.ModelProto.encode(proto).finish();
}

function graphToProto(g: Graph, valueInfo: boolean): OnnxTypes.IGraphProto {
  const outputs = new Set(g.outputs);
  const proto: OnnxTypes.IGraphProto = {
    node: g.nodes.map((n) => nodeToProto(n, valueInfo)),
    name: g.name,
    initializer: g.initializers.map((v) => tensorToProto(v.constant!, v.name)),
    input: g.inputs.map(valueInfoProto),
    output: g.outputs.map(valueInfoProto),
  };
  if (g.docString) proto.docString = g.docString;
  if (valueInfo) {
    proto.valueInfo = g.nodes.flatMap((n) => n.outputs.filter((v) => !outputs.has(v)).map(valueInfoProto));
  }
  return proto;
}

function nodeToProto(n: Node, valueInfo: boolean): OnnxTypes.INodeProto {
  const proto: OnnxTypes.INodeProto = {
    input: trimOptional(n.inputs.map((v) => (v ? v.name : ''))),
    output: n.outputs.map((v) => v.name),
    name: n.name,
    opType: n.opType,
    attribute: Object.keys(n.attrs)
      .sort()
      .map((k) => attrToProto(k, n.attrs[k], valueInfo)),
  };
  if (n.op.domain) proto.domain = n.op.domain;
  const doc = n.docString ?? n.op.doc;
  if (doc) proto.docString = doc;
  return proto;
}

// ONNX lets trailing optional inputs be left out rather than named ''.
function trimOptional(names: string[]): string[] {
  let end = names.length;
  while (end > 0 && names[end - 1] === '') end--;
  return names.slice(0, end);
}

const ATTR = onnx.AttributeProto.AttributeType;

function attrToProto(name: string, a: Attr, valueInfo: boolean): OnnxTypes.IAttributeProto {
  switch (a.type) {
    case 'int': return { name, type: ATTR.INT, i: a.value };
    case 'float': return { name, type: ATTR.FLOAT, f: a.value };
    case 'string': return { name, type: ATTR.STRING, s: new TextEncoder().encode(a.value) };
    case 'ints': return { name, type: ATTR.INTS, ints: [...a.value] };
    case 'floats': return { name, type: ATTR.FLOATS, floats: [...a.value] };
    case 'strings': return { name, type: ATTR.STRINGS, strings: a.value.map((s) => new TextEncoder().encode(s)) };
    case 'tensor': return { name, type: ATTR.TENSOR, t: tensorToProto(a.value) };
    case 'graph': return { name, type: ATTR.GRAPH, g: graphToProto(a.value, valueInfo) };
  }
}

/** A ValueInfoProto with full tensor type; `?N` dims are left without value or param. */
export function valueInfoProto(v: Value): OnnxTypes.IValueInfoProto {
  return { name: v.name, type: tensorType(v.dtype, v.shape) };
}

export function tensorType(dtype: DType, shape: Shape): OnnxTypes.ITypeProto {
  return {
    tensorType: {
      elemType: ONNX_DTYPE_CODE[dtype],
      shape: {
        dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : d.startsWith('?') ? {} : { dimParam: d })),
      },
    },
  };
}

/** ONNX requires SSA across the whole model: no name defined twice, no subgraph shadowing an outer name. */
function checkUniqueNames(root: Graph): void {
  const seen = new Map<string, string>();
  const visit = (g: Graph) => {
    const define = (name: string, what: string) => {
      const prior = seen.get(name);
      if (prior) throw new SpecError(`graph '${g.name}': value name '${name}' (${what}) is already defined (${prior})`);
      seen.set(name, `${what} in graph '${g.name}'`);
    };
    g.inputs.forEach((v) => define(v.name, 'input'));
    g.initializers.forEach((v) => define(v.name, 'initializer'));
    for (const n of g.nodes) {
      n.subgraphs().forEach(visit);
      n.outputs.forEach((v) => define(v.name, `output of ${n.name}`));
    }
  };
  visit(root);
}
