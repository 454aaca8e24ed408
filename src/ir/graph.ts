import type { Attr, PlainAttrs } from './attrs.js';
import { ConstantOp, IdentityOp } from './builtin.js';
import { FLOAT_DTYPES, type DType } from './dtype.js';
import { ShapeError, SpecError } from '../common/errors.js';
import { Node } from './node.js';
import type { InferContext, OpDef, ValueInfo } from './opdef.js';
import { formatShape, type Shape } from './shape.js';
import type { Tensor } from './tensor.js';
import { Value } from './value.js';

/** Options for emitting one node. */
export interface NodeOptions {
  /** Shown in Netron as the node's documentation. */
  doc?: string;
  /** A fixed node name instead of the scoped counter name (for graphs rebuilt from a file). */
  name?: string;
  /**
   * How many outputs the node has, for ops with optional trailing outputs
   * (`OpDef.optionalOutputs`, e.g. MaxPool's Indices). Default: the required ones only.
   */
  outputs?: number;
}

/** State shared by a model's main graph and all its subgraphs. */
class ModelScope {
  constructor(readonly opset: number) {}
  nodeCounter = 0;
  dimCounter = 0;
  scopes: string[] = [];
  /** Every fixed value name in the model: ONNX names are global across subgraphs (no shadowing). */
  names = new Map<string, Value>();
}

/** The ONNX default-domain opset twnn targets unless asked otherwise: the one place it is written. */
export const DEFAULT_OPSET = 17;

/**
 * A graph under construction: the builder and the IR in one. Shapes and dtypes
 * are inferred as each node is added, so a mismatch fails here, naming the op,
 * its scoped name and the shapes involved.
 *
 * @example
 * const g = new Graph('affine');
 * const x = g.input('x', 'float32', ['B', 3]);
 * const w = g.initializer('w', Tensor.fromNumbers('float32', [3, 2], [1, 0, 0, 1, 1, 1]));
 * g.output('y', ops.matmul(g, x, w));
 */
export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly initializers: Value[] = [];
  /** Per-graph memo for emitters (cached constants). Keys must be deterministic. */
  readonly memo = new Map<string, Value>();
  docString?: string;
  private readonly model: ModelScope;

  /**
   * @param name graph name (shown by Netron)
   * @param parent enclosing graph, for Loop bodies and If branches (use `subgraph`)
   * @param opset default-domain opset the graph targets; emitters consult it where
   *   an op's signature changed (Reduce* axes became an input in opset 18)
   */
  constructor(
    public name: string,
    readonly parent?: Graph,
    opset = DEFAULT_OPSET,
  ) {
    this.model = parent ? parent.model : new ModelScope(opset);
  }

  /** The default-domain opset this model targets. */
  get opset(): number {
    return this.model.opset;
  }

  /** The outermost graph of the model. */
  get root(): Graph {
    return this.parent ? this.parent.root : this;
  }

  /** Add a graph input. Its name is fixed and must be unique in the model. */
  input(name: string, dtype: DType, shape: Shape): Value {
    const v = new Value(this, dtype, shape, { kind: 'input' }, name);
    this.claim(name, v);
    this.inputs.push(v);
    return v;
  }

  /** Add an initializer (a parameter whose value ships in the file). */
  initializer(name: string, tensor: Tensor): Value {
    const v = new Value(this, tensor.dtype, tensor.shape, { kind: 'initializer', tensor }, name);
    this.claim(name, v);
    this.initializers.push(v);
    return v;
  }

  /**
   * Mark `value` as graph output `name`. A value this graph computes is renamed;
   * an input, initializer, outer-scope value or existing output goes through an
   * Identity, as ONNX requires a distinct value per output.
   */
  output(name: string, value: Value): Value {
    let v = value;
    const isFreshLocal = v.source.kind === 'node' && v.graph === this && !this.model.names.has(v.name);
    if (!isFreshLocal) v = this.node(IdentityOp, [value])[0];
    this.claim(name, v);
    v.name = name;
    this.outputs.push(v);
    return v;
  }

  /** A Constant node's value, cached per graph so equal literals are emitted once. */
  constant(tensor: Tensor, key?: string): Value {
    const k = key ?? `const:${tensor.dtype}:${tensor.shape.join('x')}:${tensor.toNumbers().join(',')}`;
    const hit = this.memo.get(k);
    if (hit) return hit;
    const v = this.node(ConstantOp, [], { value: tensor })[0];
    v.constant = tensor;
    this.memo.set(k, v);
    return v;
  }

  /** Run `build` with `name` appended to the node-name scope (`region1/block2/...`). */
  scope<T>(name: string, build: () => T): T {
    this.model.scopes.push(name);
    try {
      return build();
    } finally {
      this.model.scopes.pop();
    }
  }

  /**
   * Run `build` with the node-name scope replaced by `path` (`region1/adjoint`):
   * a construct named after what it is, wherever the builder happens to be.
   */
  atScope<T>(path: string, build: () => T): T {
    const saved = this.model.scopes.splice(0, this.model.scopes.length, ...(path ? path.split('/') : []));
    try {
      return build();
    } finally {
      this.model.scopes.splice(0, this.model.scopes.length, ...saved);
    }
  }

  /** The current scope prefix, e.g. `region1/block2`. */
  get scopePath(): string {
    return this.model.scopes.join('/');
  }

  /** A new child graph (Loop body, If branch) that may read this graph's values. */
  subgraph(name: string): Graph {
    return new Graph(name, this);
  }

  /** Whether `v` can be used by a node of this graph (its own, or an enclosing graph's). */
  sees(v: Value): boolean {
    for (let g: Graph | undefined = this; g; g = g.parent) if (g === v.graph) return true;
    return false;
  }

  /** A fresh symbolic dimension (`?N`), for sizes known only at run time. */
  freshDim(hint = ''): string {
    return `?${hint}${this.model.dimCounter++}`;
  }

  /**
   * Emit one node: validate inputs and attributes against `op`, infer output
   * types and shapes, and return the outputs.
   */
  node(op: OpDef, inputs: readonly (Value | undefined)[], attrs: PlainAttrs = {}, options: NodeOptions = {}): Value[] {
    const scope = this.scopePath;
    const counted = `${scope ? `${scope}/` : ''}${op.opType}_${this.model.nodeCounter++}`;
    const nodeName = options.name ?? counted;
    const where = `${op.opType} '${nodeName}'`;
    const typed = typeAttrs(op, attrs, where);
    this.checkInputs(op, inputs, where);

    const ctx: InferContext = {
      opType: op.opType,
      nodeName,
      inputs,
      attr: <T>(name: string) => (typed[name]?.value ?? op.attrs?.[name]?.default) as T,
      hasAttr: (name) => name in typed,
      fail: (message) => {
        const shapes = inputs.map((v) => (v ? `${v.dtype}${formatShape(v.shape)}` : '-')).join(', ');
        throw new ShapeError(`${where}: ${message} (inputs: ${shapes || 'none'})`);
      },
      freshDim: (hint) => this.freshDim(hint),
    };
    const first = inputs[0];
    const allowed = op.dtypes ?? FLOAT_DTYPES;
    if (first && !allowed.includes(first.dtype)) ctx.fail(`input 0 has dtype ${first.dtype}; ${op.opType} takes ${allowed.join('|')}`);
    const infos: ValueInfo[] = outputsAsked(op, op.infer(ctx), options.outputs, where);

    const node = new Node(this, op, inputs, typed, nodeName);
    if (options.doc) node.docString = options.doc;
    node.outputs = infos.map(
      (info, index) => new Value(this, info.dtype, info.shape, { kind: 'node', node, index }, `${nodeName}_output_${index}`),
    );
    this.nodes.push(node);
    return node.outputs;
  }

  private checkInputs(op: OpDef, inputs: readonly (Value | undefined)[], where: string): void {
    const variadic = op.inputs.length > 0 && op.inputs[op.inputs.length - 1].variadic;
    const fixed = variadic ? op.inputs.length - 1 : op.inputs.length;
    if (!variadic && inputs.length > op.inputs.length) {
      throw new SpecError(`${where}: takes at most ${op.inputs.length} inputs, got ${inputs.length}`);
    }
    for (let i = 0; i < fixed; i++) {
      if (!inputs[i] && !op.inputs[i].optional) throw new SpecError(`${where}: missing input '${op.inputs[i].name}'`);
    }
    inputs.forEach((v, i) => {
      if (v && !this.sees(v)) {
        throw new SpecError(`${where}: input ${i} '${v.name}' belongs to graph '${v.graph.name}', which does not enclose graph '${this.name}'`);
      }
    });
  }

  private claim(name: string, v: Value): void {
    if (!name) throw new SpecError(`graph '${this.name}': empty value name`);
    const owner = this.model.names.get(name);
    if (owner && owner !== v) throw new SpecError(`graph '${this.name}': the name '${name}' is already used in this model`);
    this.model.names.set(name, v);
  }
}

/** The shape rule describes every output, optional ones included; keep those the node asks for. */
function outputsAsked(op: OpDef, infos: ValueInfo[], asked: number | undefined, where: string): ValueInfo[] {
  const required = infos.length - (op.optionalOutputs ?? 0);
  if (asked === undefined) return infos.slice(0, required);
  if (!Number.isInteger(asked) || asked < required || asked > infos.length) {
    const range = required === infos.length ? `${required}` : `${required} to ${infos.length}`;
    throw new SpecError(`${where}: asks for ${asked} outputs; it has ${range}`);
  }
  return infos.slice(0, asked);
}

function typeAttrs(op: OpDef, attrs: PlainAttrs, where: string): Record<string, Attr> {
  const typed: Record<string, Attr> = {};
  for (const key of Object.keys(attrs).sort()) {
    const value = attrs[key];
    if (value === undefined) continue;
    const spec = op.attrs?.[key];
    if (!spec) throw new SpecError(`${where}: unknown attribute '${key}'`);
    typed[key] = { type: spec.type, value } as Attr;
  }
  for (const [key, spec] of Object.entries(op.attrs ?? {})) {
    if (spec.required && !(key in typed)) throw new SpecError(`${where}: missing attribute '${key}'`);
  }
  return typed;
}
