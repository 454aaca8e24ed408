import { ShapeError } from '../common/errors.js';

/** A dimension: a known size, or a symbol (`'B'`) shared by every value with that dimension. */
export type Dim = number | string;
export type Shape = readonly Dim[];

/**
 * `[B,784]`-style text for messages.
 *
 * @example formatShape(['B', 3]) // '[B,3]'
 */
export function formatShape(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

/** Number of elements, or undefined when a dimension is symbolic. */
export function numel(shape: Shape): number | undefined {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') return undefined;
    n *= d;
  }
  return n;
}

export function isStatic(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === 'number');
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Numpy-style multidirectional broadcast (ONNX Add/Mul/Where...). Symbolic dims
 * broadcast with 1 and with themselves; anything else is a ShapeError naming `where`.
 *
 * @example broadcastShapes([['B', 3], [3]], 'Add') // ['B', 3]
 */
export function broadcastShapes(shapes: readonly Shape[], where: string): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let dim: Dim = 1;
    for (const s of shapes) {
      const d = s[s.length - rank + i] ?? 1;
      if (d === 1) continue;
      if (dim === 1 || dim === d) dim = d;
      else
        throw new ShapeError(
          `${where}: cannot broadcast ${shapes.map(formatShape).join(' with ')} (dimension ${i}: ${dim} vs ${d})`,
        );
    }
    out.push(dim);
  }
  return out;
}

/** Resolve a possibly negative axis against a rank, failing with a message naming `where`. */
export function normalizeAxis(axis: number, rank: number, where: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new ShapeError(`${where}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}
