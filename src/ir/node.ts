import type { Attr } from './attrs.js';
import type { Graph } from './graph.js';
import type { OpDef } from './opdef.js';
import type { Value } from './value.js';

/** One operator application. `inputs[i]` is undefined for an omitted optional input. */
export class Node {
  docString?: string;
  outputs: Value[] = [];
  /**
   * A VJP rule for this node only, overriding its op's: a fixed-point region's
   * Loop is differentiated by its adjoint fixed point, not as a generic Loop.
   */
  customVjp?: import('./opdef.js').VjpRule;
  /**
   * A twnn Loop's role and configuration (`{ role: 'iterate', region: 'region1', tol, ... }`),
   * on the node itself so that every copy keeps it; exports write it to
   * metadata_props as `twnn.loop:<node name>`.
   */
  loopConfig?: Readonly<Record<string, unknown>>;
  private capturedMemo?: Value[];

  constructor(
    readonly graph: Graph,
    readonly op: OpDef,
    readonly inputs: readonly (Value | undefined)[],
    readonly attrs: Readonly<Record<string, Attr>>,
    /** Scoped, model-unique name, e.g. `region1/block2/MatMul_3`. */
    readonly name: string,
  ) {}

  get opType(): string {
    return this.op.opType;
  }

  /** An attribute's value, or `fallback` when it is absent. */
  attr<T extends Attr['value']>(name: string, fallback?: T): T {
    const a = this.attrs[name];
    return (a ? a.value : fallback) as T;
  }

  /**
   * Values of enclosing graphs that this node's subgraphs read (outer-scope
   * references), in first-use order. For differentiation they are inputs too.
   */
  captures(): Value[] {
    if (this.capturedMemo) return this.capturedMemo;
    const inside = new Set<Graph>();
    const seen = new Set<Value>();
    const found: Value[] = [];
    const visit = (g: Graph) => {
      inside.add(g);
      for (const n of g.nodes) {
        for (const sub of n.subgraphs()) visit(sub);
        for (const v of n.inputs) {
          if (v && !inside.has(v.graph) && !seen.has(v)) {
            seen.add(v);
            found.push(v);
          }
        }
      }
      for (const v of g.outputs) if (!inside.has(v.graph) && !seen.has(v)) (seen.add(v), found.push(v));
    };
    this.subgraphs().forEach(visit);
    this.capturedMemo = found;
    return found;
  }

  /** Subgraphs held in graph attributes (Loop body, If branches), in attribute-name order. */
  subgraphs(): Graph[] {
    return Object.keys(this.attrs)
      .sort()
      .flatMap((k) => {
        const a = this.attrs[k];
        return a.type === 'graph' ? [a.value] : [];
      });
  }
}
