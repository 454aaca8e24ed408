// Copying one graph's nodes into another graph, possibly of another model: how
// train_steps.onnx puts a whole train.onnx step inside its Loop body, so both
// files run the very same ops in the same order.
import { ConstantOp, SpecError, type Dim, type Graph, type PlainAttrs, type Shape, type Value } from '../ir/index.js';

/**
 * Emit `source`'s nodes into `target`, with each source input read from
 * `bindings` (values `target` sees), and return the values `source`'s outputs
 * take there, in output order. Node names become `<prefix>/<source name>`;
 * subgraphs (Loop bodies, If branches) are copied too, their inputs and
 * outputs renamed `<prefix>/<name>` since ONNX names are model-global.
 * Shapes are inferred afresh, so `target` checks every node again.
 *
 * @example
 * const [loss, wNew] = inlineGraph(body, stepGraph, new Map([[stepX, xSlice], [stepW, wCarried]]), 'steps');
 */
export function inlineGraph(target: Graph, source: Graph, bindings: ReadonlyMap<Value, Value>, prefix: string): Value[] {
  const copy = new Copier(prefix, bindings);
  for (const v of source.inputs) {
    if (!bindings.has(v)) throw new SpecError(`inlineGraph: input '${v.name}' of graph '${source.name}' has no binding in graph '${target.name}'`);
  }
  for (const v of source.initializers) copy.values.set(v, target.constant(v.constant!));
  copy.nodes(target, source);
  return source.outputs.map((v) => copy.lookup(v));
}

class Copier {
  readonly values: Map<Value, Value>;
  /** Source run-time dims (`?3`) get fresh target dims: the two models count them independently. */
  private readonly dims = new Map<string, string>();

  constructor(
    private readonly prefix: string,
    bindings: ReadonlyMap<Value, Value>,
  ) {
    this.values = new Map(bindings);
  }

  lookup(v: Value): Value {
    const mapped = this.values.get(v);
    if (!mapped) throw new SpecError(`inlineGraph: value '${v.name}' is read before it is defined`);
    return mapped;
  }

  nodes(target: Graph, source: Graph): void {
    for (const n of source.nodes) {
      if (n.op === ConstantOp) {
        // Through `constant`, so the copy keeps its known contents (shape rules read them).
        this.values.set(n.outputs[0], target.constant(n.attr('value')));
        continue;
      }
      const inputs = n.inputs.map((v) => v && this.lookup(v));
      const attrs: PlainAttrs = {};
      for (const [key, a] of Object.entries(n.attrs)) attrs[key] = a.type === 'graph' ? this.subgraph(target, a.value) : a.value;
      const outs = target.node(n.op, inputs, attrs, { name: `${this.prefix}/${n.name}`, doc: n.docString, outputs: n.outputs.length });
      if (n.loopConfig && outs[0]?.source.kind === 'node') outs[0].source.node.loopConfig = n.loopConfig;
      n.outputs.forEach((o, i) => {
        this.values.set(o, outs[i]);
        this.learnDims(o.shape, outs[i].shape);
      });
    }
  }

  private subgraph(parent: Graph, sub: Graph): Graph {
    const b = parent.subgraph(`${this.prefix}/${sub.name}`);
    if (sub.docString) b.docString = sub.docString;
    for (const v of sub.inputs) this.values.set(v, b.input(`${this.prefix}/${v.name}`, v.dtype, this.shape(parent, v.shape)));
    this.nodes(b, sub);
    for (const v of sub.outputs) b.output(`${this.prefix}/${v.name}`, this.lookup(v));
    return b;
  }

  /**
   * A run-time dim of the source that the copy inferred as one of its own
   * (a NonZero's count) stands for it from then on: a subgraph input declared
   * with that dim (a Loop over gathered rows) must agree with the values it
   * meets there.
   */
  private learnDims(source: Shape, copy: Shape): void {
    source.forEach((d, i) => {
      const c = copy[i];
      if (typeof d === 'string' && d.startsWith('?') && typeof c === 'string' && !this.dims.has(d)) this.dims.set(d, c);
    });
  }

  private shape(g: Graph, shape: Shape): Dim[] {
    return shape.map((d) => {
      if (typeof d === 'number' || !d.startsWith('?')) return d;
      let fresh = this.dims.get(d);
      if (!fresh) this.dims.set(d, (fresh = g.freshDim()));
      return fresh;
    });
  }
}
