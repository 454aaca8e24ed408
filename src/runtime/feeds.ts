import { TwnnError } from '../common/errors.js';
import { formatShape, type Dim } from '../ir/shape.js';
import type { Tensor } from '../ir/tensor.js';

/** A model input or output as the runtime sees it. */
export interface IoInfo {
  name: string;
  /** onnxruntime's type name (`float32`, `int64`, ... possibly one twnn has no dtype for, like `float16`). */
  type: string;
  /**
   * Declared shape: numbers are fixed sizes, strings symbolic (`''` for an
   * unnamed dimension); undefined when the model declares no shape at all.
   */
  shape?: readonly Dim[];
}

/**
 * Check `feeds` against a model's inputs before they reach onnxruntime, which
 * silently ignores feeds whose name is not an input (docs/DESIGN.md §3): every feed
 * name must be an input, every input fed, with its dtype, rank, fixed sizes,
 * and one size per named symbolic dimension across all inputs.
 *
 * @example
 * validateFeeds([{ name: 'x', type: 'float32', shape: ['B', 2] }], { x }, 'model.onnx');
 */
export function validateFeeds(inputs: readonly IoInfo[], feeds: Readonly<Record<string, Tensor>>, where: string): void {
  const byName = new Map(inputs.map((i) => [i.name, i]));
  const list = () => inputs.map(describeIo).join(', ') || 'none';
  for (const name of Object.keys(feeds)) {
    if (!byName.has(name)) throw new TwnnError(`${where}: '${name}' is not an input of the model; its inputs are ${list()}`);
  }
  const missing = inputs.filter((i) => !(i.name in feeds));
  if (missing.length > 0) {
    throw new TwnnError(`${where}: missing input${missing.length > 1 ? 's' : ''} ${missing.map(describeIo).join(', ')}`);
  }
  const symbols = new Map<string, { size: number; input: string }>();
  for (const info of inputs) {
    const t = feeds[info.name];
    const what = `${where}: input '${info.name}'`;
    if (t.dtype !== info.type) throw new TwnnError(`${what} expects ${info.type}, got ${t.dtype}`);
    if (!info.shape) continue;
    const expected = formatShape(info.shape.map((d) => (d === '' ? '?' : d)));
    if (t.shape.length !== info.shape.length) {
      throw new TwnnError(`${what} expects shape ${expected} (rank ${info.shape.length}), got ${formatShape(t.shape)} (rank ${t.shape.length})`);
    }
    info.shape.forEach((d, axis) => {
      const size = t.shape[axis];
      if (typeof d === 'number') {
        if (size !== d) throw new TwnnError(`${what} expects shape ${expected}, got ${formatShape(t.shape)} (dimension ${axis} must be ${d})`);
        return;
      }
      if (d === '') return;
      const seen = symbols.get(d);
      if (!seen) symbols.set(d, { size, input: info.name });
      else if (seen.size !== size) {
        throw new TwnnError(
          `${what} expects shape ${expected}, got ${formatShape(t.shape)}: dimension ${d} is ${size} here but ${seen.size} in input '${seen.input}'`,
        );
      }
    });
  }
}

/** `x: float32[B,16]` for messages. @example describeIo({ name: 'x', type: 'float32', shape: ['B', 16] }) // "x: float32[B,16]" */
export function describeIo(info: IoInfo): string {
  return `${info.name}: ${info.type}${info.shape ? formatShape(info.shape.map((d) => (d === '' ? '?' : d))) : ' of any shape'}`;
}
