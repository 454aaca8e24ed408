// Small dense JS references (row-major, float64) that op tests compare onnxruntime against.

/** A JS array with its shape. */
export interface Dense {
  data: number[];
  shape: number[];
}

/**
 * `n` deterministic values in [-2, 2], multiples of 1/8 so float32 holds them exactly.
 *
 * @example sample(3) // [-0.375, 0.5, 1.375]
 */
export function sample(n: number, seed = 1): number[] {
  return Array.from({ length: n }, (_, i) => (((i + seed) * 7919) % 33) / 8 - 2);
}

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function coords(flat: number, shape: readonly number[]): number[] {
  return strides(shape).map((s, i) => Math.floor(flat / s) % shape[i]);
}

/**
 * Numpy broadcasting of `fn` over several arrays.
 *
 * @example broadcastRef([{ data: [1, 2], shape: [2] }, { data: [10], shape: [] }], (a, b) => a + b).data // [11, 12]
 */
export function broadcastRef(inputs: readonly Dense[], fn: (...xs: number[]) => number): Dense {
  const rank = Math.max(...inputs.map((t) => t.shape.length));
  const shape = Array.from({ length: rank }, (_, i) =>
    Math.max(...inputs.map((t) => t.shape[t.shape.length - rank + i] ?? 1)),
  );
  const data = Array.from({ length: size(shape) }, (_, flat) => {
    const c = coords(flat, shape);
    return fn(
      ...inputs.map((t) => {
        const st = strides(t.shape);
        return t.data[t.shape.reduce((o, d, i) => o + (d === 1 ? 0 : c[rank - t.shape.length + i]) * st[i], 0)];
      }),
    );
  });
  return { data, shape };
}

/**
 * Reduce `x` over `axes` (non-negative; empty: all) with `fn`; the result is in
 * row-major order of the kept dimensions, so `keepdims` does not change it.
 *
 * @example reduceRef({ data: [1, 2, 3, 4], shape: [2, 2] }, [1], (xs) => xs[0] + xs[1]) // [3, 7]
 */
export function reduceRef(x: Dense, axes: readonly number[], fn: (xs: number[]) => number): number[] {
  const reduced = (i: number) => axes.length === 0 || axes.includes(i);
  const groups = new Map<string, number[]>();
  x.data.forEach((v, flat) => {
    const key = coords(flat, x.shape).filter((_, i) => !reduced(i)).join(',');
    groups.set(key, [...(groups.get(key) ?? []), v]);
  });
  // Map iteration follows first insertion: row-major order of the kept coordinates.
  return [...groups.values()].map(fn);
}

/**
 * Apply `fn` to every 1-D lane of `x` along `axis` (non-negative), writing the results in place of the lane.
 *
 * @example lanesRef({ data: [1, 2, 3, 4], shape: [2, 2] }, 0, (l) => l.map((v) => v / l[0])) // [1, 1, 3, 2]
 */
export function lanesRef(x: Dense, axis: number, fn: (lane: number[]) => number[]): number[] {
  const out = new Array<number>(x.data.length);
  const step = strides(x.shape)[axis];
  x.data.forEach((_, flat) => {
    if (coords(flat, x.shape)[axis] !== 0) return;
    const idx = Array.from({ length: x.shape[axis] }, (_, k) => flat + k * step);
    fn(idx.map((i) => x.data[i])).forEach((v, k) => (out[idx[k]] = v));
  });
  return out;
}

/**
 * numpy.matmul: 1-D operands act as a row (a) or column (b) that is dropped again; batch dims broadcast.
 *
 * @example matmulRef({ data: [1, 2], shape: [2] }, { data: [3, 4], shape: [2] }) // { data: [11], shape: [] }
 */
export function matmulRef(a: Dense, b: Dense): Dense {
  const as = a.shape.length === 1 ? [1, a.shape[0]] : a.shape;
  const bs = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
  const [m, k] = as.slice(-2);
  const n = bs[bs.length - 1];
  // One element per matrix, holding its offset, so broadcastRef pairs the matrices up.
  const batchOf = (shape: number[], per: number): Dense => {
    const batchShape = shape.slice(0, -2);
    return { data: Array.from({ length: size(batchShape) }, (_, i) => i * per), shape: batchShape };
  };
  const pairs: [number, number][] = [];
  const batch = broadcastRef([batchOf(as, m * k), batchOf(bs, k * n)], (oa, ob) => {
    pairs.push([oa, ob]);
    return 0;
  });
  const data: number[] = [];
  for (const [oa, ob] of pairs)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a.data[oa + i * k + p] * b.data[ob + p * n + j];
        data.push(s);
      }
  const shape = [...batch.shape, ...(a.shape.length === 1 ? [] : [m]), ...(b.shape.length === 1 ? [] : [n])];
  return { data, shape };
}
