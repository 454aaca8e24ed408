import type { Graph } from './graph.js';
import type { Tensor } from './tensor.js';

/** An ONNX attribute with its type made explicit (an int `3` and a float `3` serialise differently). */
export type Attr =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'string'; value: string }
  | { type: 'ints'; value: readonly number[] }
  | { type: 'floats'; value: readonly number[] }
  | { type: 'strings'; value: readonly string[] }
  | { type: 'tensor'; value: Tensor }
  | { type: 'graph'; value: Graph };

export type AttrType = Attr['type'];

/** What an op declares about one attribute: its type, and a default when optional. */
export interface AttrSpec {
  type: AttrType;
  default?: Attr['value'];
  required?: boolean;
}

/** Plain attribute values as emitters pass them; the op's AttrSpec gives them a type. */
export type PlainAttrs = Record<string, Attr['value'] | undefined>;
