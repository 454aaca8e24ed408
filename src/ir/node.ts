import type { Attr } from './attrs.js';
import type { Graph } from './graph.js';
import type { OpDef } from './opdef.js';
import type { Value } from './value.js';

/** One operator application. `inputs[i]` is undefined for an omitted optional input. */
export class Node {
  docString?: string;
  outputs: Value[] = [];

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
