import type { DType } from './dtype.js';
import type { Graph } from './graph.js';
import type { Node } from './node.js';
import { formatShape, type Shape } from './shape.js';
import type { Tensor } from './tensor.js';

/** Where a value comes from. */
export type ValueSource =
  | { kind: 'input' }
  | { kind: 'initializer'; tensor: Tensor }
  | { kind: 'node'; node: Node; index: number };

/**
 * An SSA value in a graph. Values are identified by object, not by name: the
 * name is fixed for graph inputs, initializers and outputs, and derived from
 * the producing node's scoped name otherwise.
 *
 * @example
 * const x: Value = graph.input('x', 'float32', ['B', 4]);
 * x.shape // ['B', 4]
 */
export class Value {
  /** Known contents: set for Constant outputs and initializers, used by shape rules (Reshape's shape). */
  constant?: Tensor;

  constructor(
    readonly graph: Graph,
    readonly dtype: DType,
    readonly shape: Shape,
    readonly source: ValueSource,
    public name: string,
  ) {
    if (source.kind === 'initializer') this.constant = source.tensor;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** `name: float32[B,3]`, for messages. */
  describe(): string {
    return `${this.name}: ${this.dtype}${formatShape(this.shape)}`;
  }
}
