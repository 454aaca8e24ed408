// Rebuilding a twnn IR Graph from a fully typed ModelProto (twnn's own files, or foreign ones with
// value_info): a test helper (test/onnx/load.test.ts round-trips models through it); twnn itself never
// reads a graph back into its IR.
import {
  ALL_DTYPES,
  dtypeFromOnnx,
  FormatError,
  Graph,
  onnxDTypeName,
  ShapeError,
  SpecError,
  type AttrType,
  type Dim,
  type OpDef,
  type PlainAttrs,
  type Tensor,
  type Value,
  type ValueInfo,
} from '../../src/ir/index.js';
import { onnx, toNumber, type OnnxTypes } from '../../src/onnx/proto.js';
import { DEFAULT_OPSET, type ModelOptions } from '../../src/onnx/serialize.js';
import { tensorFromProto } from '../../src/onnx/tensor-proto.js';

/** A graph rebuilt from a file, with the model-level fields `serializeModel` needs to write it back. */
export interface RebuiltModel {
  graph: Graph;
  options: ModelOptions;
}

const OPAQUE = new WeakSet<OpDef>();

/**
 * Whether `op` is a stand-in made by `graphFromProto` (it has no VJP rule and
 * no shape rule of its own: it replays the types recorded in the file).
 *
 * @example isOpaqueOp(graphFromProto(model).graph.nodes[0].op) // true
 */
export function isOpaqueOp(op: OpDef): boolean {
  return OPAQUE.has(op);
}

/**
 * Rebuild a twnn IR Graph from a ModelProto whose every value carries its type
 * (twnn writes value_info for all of them). Each node gets an opaque OpDef for
 * its (domain, op type) that returns the recorded output types; node names,
 * doc strings, subgraphs (resolving outer-scope names), opset, IR version and
 * metadata are kept, so for a twnn-built model
 * `serializeModel(graph, options)` reproduces the original bytes.
 * Opset imports of other domains are not carried over (twnn writes only the default one).
 *
 * @example
 * const { graph, options } = graphFromProto(parseModel(bytes, 'model.onnx'), 'model.onnx');
 * serializeModel(graph, options) // the same bytes, for a file twnn wrote
 */
export function graphFromProto(model: OnnxTypes.IModelProto, where = 'model'): RebuiltModel {
  const main = model.graph;
  if (!main) throw new FormatError(`${where}: model has no graph`);
  const defaultOpset = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  const opset = defaultOpset ? toNumber(defaultOpset.version) : undefined;

  const options: ModelOptions = { irVersion: toNumber(model.irVersion) };
  if (opset !== undefined) options.opset = opset;
  if (model.docString) options.docString = model.docString;
  if (model.metadataProps?.length) {
    options.metadata = Object.fromEntries(model.metadataProps.map((p) => [p.key ?? '', p.value ?? '']));
  }

  const graph = new Graph(main.name ?? '', undefined, opset ?? DEFAULT_OPSET);
  try {
    new Rebuilder(main, where).fill(main, graph, undefined);
  } catch (err) {
    // The builder's own checks (duplicate names, graphs that do not enclose) mean a malformed file here.
    if (err instanceof SpecError || err instanceof ShapeError) throw new FormatError(`${where}: ${err.message}`);
    throw err;
  }
  return { graph, options };
}

/** Names visible in one graph: its own values, then those of the enclosing graphs. */
class Scope {
  readonly values = new Map<string, Value>();
  readonly types = new Map<string, OnnxTypes.ITypeProto>();
  constructor(readonly parent?: Scope) {}

  value(name: string): Value | undefined {
    return this.values.get(name) ?? this.parent?.value(name);
  }

  type(name: string): OnnxTypes.ITypeProto | undefined {
    return this.types.get(name) ?? this.parent?.type(name);
  }
}

const ATTR = onnx.AttributeProto.AttributeType;
const ATTR_TYPE: Partial<Record<number, AttrType>> = {
  [ATTR.INT]: 'int', [ATTR.FLOAT]: 'float', [ATTR.STRING]: 'string', [ATTR.INTS]: 'ints',
  [ATTR.FLOATS]: 'floats', [ATTR.STRINGS]: 'strings', [ATTR.TENSOR]: 'tensor', [ATTR.GRAPH]: 'graph',
};

class Rebuilder {
  private readonly ops = new Map<string, OpDef>();
  private readonly attrSchemas = new Map<string, Record<string, { type: AttrType }>>();
  /*
   * Output types of the node being emitted. Graph.node() asks the op's infer()
   * for them, and infer() sees neither output names nor the proto, so the
   * rebuilder hands them over here just before each call.
   */
  private expected: ValueInfo[] = [];
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(main: OnnxTypes.IGraphProto, private readonly where: string) {
    this.collectAttrSchemas(main);
  }

  /** Rebuild proto graph `gp` into `graph`, whose enclosing graphs' names are in `outer`. */
  fill(gp: OnnxTypes.IGraphProto, graph: Graph, outer: Scope | undefined): void {
    const scope = new Scope(outer);
    for (const vi of [...(gp.input ?? []), ...(gp.valueInfo ?? []), ...(gp.output ?? [])]) {
      if (vi.name && vi.type) scope.types.set(vi.name, vi.type);
    }
    if (gp.docString) graph.docString = gp.docString;
    const initializerNames = new Set((gp.initializer ?? []).map((t) => t.name ?? ''));
    for (const input of gp.input ?? []) {
      const name = input.name ?? '';
      // Before IR 4 every initializer was also listed as an input; twnn treats it as the initializer it is.
      if (initializerNames.has(name)) continue;
      const info = this.valueInfo(name, graph, scope, `input of graph '${graph.name}'`);
      scope.values.set(name, graph.input(name, info.dtype, info.shape));
    }
    for (const t of gp.initializer ?? []) {
      scope.values.set(t.name ?? '', graph.initializer(t.name ?? '', tensorFromProto(t, this.where)));
    }
    for (const np of gp.node ?? []) this.node(np, graph, scope);
    for (const output of gp.output ?? []) {
      const name = output.name ?? '';
      const v = scope.value(name);
      if (!v) throw new FormatError(`${this.where}: output '${name}' of graph '${graph.name}' is never computed`);
      graph.output(name, v);
    }
  }

  private node(np: OnnxTypes.INodeProto, graph: Graph, scope: Scope): void {
    const what = `node '${np.name ?? ''}' (${np.opType})`;
    const inputs = (np.input ?? []).map((name) => {
      if (name === '') return undefined;
      const v = scope.value(name);
      if (!v) throw new FormatError(`${this.where}: ${what} in graph '${graph.name}' reads '${name}', which no earlier node, input or initializer defines`);
      return v;
    });
    const attrs: PlainAttrs = {};
    for (const a of np.attribute ?? []) attrs[a.name ?? ''] = this.attrValue(a, graph, scope, what);
    const outputNames = np.output ?? [];
    this.expected = outputNames.map((name) => {
      if (name === '') throw new FormatError(`${this.where}: ${what} omits an optional output, which twnn does not represent`);
      return this.valueInfo(name, graph, scope, `output of ${what}`);
    });
    const outputs = graph.node(this.opFor(np), inputs, attrs, { name: np.name ?? '', doc: np.docString || undefined });
    outputs.forEach((v, i) => {
      v.name = outputNames[i];
      scope.values.set(v.name, v);
    });
    if (np.opType === 'Constant' && !np.domain && attrs.value !== undefined) outputs[0].constant = attrs.value as Tensor;
  }

  private attrValue(a: OnnxTypes.IAttributeProto, graph: Graph, scope: Scope, what: string): PlainAttrs[string] {
    const name = a.name ?? '';
    switch (a.type) {
      case ATTR.INT: return toNumber(a.i);
      case ATTR.FLOAT: return a.f ?? 0;
      case ATTR.STRING: return this.text(a.s, `${what} attribute '${name}'`);
      case ATTR.INTS: return (a.ints ?? []).map(toNumber);
      case ATTR.FLOATS: return [...(a.floats ?? [])];
      case ATTR.STRINGS: return (a.strings ?? []).map((s) => this.text(s, `${what} attribute '${name}'`));
      case ATTR.TENSOR: return tensorFromProto(a.t ?? {}, `${this.where}: ${what} attribute '${name}'`);
      case ATTR.GRAPH: {
        const gp = a.g ?? {};
        const sub = graph.subgraph(gp.name ?? '');
        this.fill(gp, sub, scope);
        return sub;
      }
      default:
        throw new FormatError(`${this.where}: ${what} attribute '${name}' has type ${ATTR[a.type ?? 0] ?? a.type}, which twnn does not read`);
    }
  }

  private text(bytes: Uint8Array | null | undefined, what: string): string {
    try {
      return this.decoder.decode(bytes ?? new Uint8Array());
    } catch {
      throw new FormatError(`${this.where}: ${what} is not valid UTF-8`);
    }
  }

  /** The recorded dtype and shape of value `name`; unknown dims become fresh `?N` symbols. */
  private valueInfo(name: string, graph: Graph, scope: Scope, what: string): ValueInfo {
    const type = scope.type(name);
    const lacks = (detail: string) =>
      new FormatError(`${this.where}: the model lacks type information for value '${name}' (${what}): ${detail}`);
    if (!type) throw lacks('no value_info, input or output entry');
    const tt = type.tensorType;
    if (!tt) throw lacks('not a tensor type');
    const code = tt.elemType ?? 0;
    const dtype = dtypeFromOnnx(code);
    if (!dtype) throw new FormatError(`${this.where}: value '${name}' (${what}) has dtype ${onnxDTypeName(code)}, which twnn does not support`);
    if (!tt.shape) throw lacks('no shape');
    const shape: Dim[] = (tt.shape.dim ?? []).map((d) => {
      // Own properties only: a decoded message inherits dimValue 0 and dimParam '' as defaults.
      if (Object.hasOwn(d, 'dimValue') && d.dimValue != null) return toNumber(d.dimValue);
      if (Object.hasOwn(d, 'dimParam') && d.dimParam != null) return d.dimParam;
      return graph.freshDim();
    });
    return { dtype, shape };
  }

  /** One opaque OpDef per (domain, op type), sharing the attribute schema gathered from every node of that type. */
  private opFor(np: OnnxTypes.INodeProto): OpDef {
    const key = opKey(np);
    const known = this.ops.get(key);
    if (known) return known;
    const op: OpDef = {
      opType: np.opType ?? '',
      inputs: [{ name: 'inputs', variadic: true, optional: true }],
      // Per node, not per op type (Loop's output count varies); node.outputs is authoritative.
      outputs: () => this.expected.length,
      attrs: this.attrSchemas.get(key) ?? {},
      dtypes: ALL_DTYPES,
      infer: () => this.expected,
    };
    if (np.domain) op.domain = np.domain;
    OPAQUE.add(op);
    this.ops.set(key, op);
    return op;
  }

  private collectAttrSchemas(gp: OnnxTypes.IGraphProto): void {
    for (const np of gp.node ?? []) {
      const key = opKey(np);
      const schema = this.attrSchemas.get(key) ?? {};
      this.attrSchemas.set(key, schema);
      for (const a of np.attribute ?? []) {
        const name = a.name ?? '';
        const type = ATTR_TYPE[a.type ?? 0];
        if (!type) continue; // reported with the node's name when the node is rebuilt
        const prior = schema[name];
        if (prior && prior.type !== type) {
          throw new FormatError(`${this.where}: attribute '${name}' of ${key} is a ${prior.type} on one node and a ${type} on node '${np.name ?? ''}'`);
        }
        schema[name] = { type };
        if (a.g) this.collectAttrSchemas(a.g);
      }
    }
  }
}

function opKey(np: OnnxTypes.INodeProto): string {
  return np.domain ? `${np.domain}::${np.opType}` : np.opType ?? '';
}
