// Assertions shared by op tests: closeness by dtype, and IR-inferred vs runtime shapes.
import { expect } from 'vitest';
import type { DType, Graph, Shape, Tensor } from '../../src/ir/index.js';
import type { ModelOptions } from '../../src/onnx/serialize.js';
import { runGraph } from './ort.js';

/** Tolerances for comparing a runtime result of `dtype` with a float64 JS reference. */
export function tolerance(dtype: DType): { rtol: number; atol: number } {
  return dtype === 'float32' ? { rtol: 1e-5, atol: 1e-6 } : dtype === 'float64' ? { rtol: 1e-12, atol: 1e-14 } : { rtol: 0, atol: 0 };
}

/**
 * Elementwise `|actual - expected| <= atol + rtol * |expected|`, with tolerances
 * chosen by the dtype of `actual`; integer and bool results must match exactly.
 *
 * @example expectClose(out.y, [0.5, 1.5]);
 */
export function expectClose(actual: Tensor, expected: readonly number[]): void {
  const got = actual.toNumbers();
  expect(got.length, 'element count').toBe(expected.length);
  const { rtol, atol } = tolerance(actual.dtype);
  const bad = got.findIndex((v, i) => !(Math.abs(v - expected[i]) <= atol + rtol * Math.abs(expected[i])));
  if (bad >= 0) expect.fail(`element ${bad}: got ${got[bad]}, expected ${expected[bad]} (${actual.dtype}, rtol ${rtol}, atol ${atol})`);
}

/**
 * The concrete shape `shape` takes once its symbols are bound.
 *
 * @example bindShape(['B', 3], { B: 2 }) // [2, 3]
 */
export function bindShape(shape: Shape, dims: Readonly<Record<string, number>>): number[] {
  return shape.map((d) => {
    if (typeof d === 'number') return d;
    const bound = dims[d];
    if (bound === undefined) throw new Error(`symbolic dimension '${d}' is not bound by any input`);
    return bound;
  });
}

/**
 * Run `graph` through onnxruntime (runGraph) and assert that every output has
 * the dtype and shape the IR inferred, with symbols bound from the feeds' shapes.
 *
 * @example const out = await runAndCheckShapes(g, { x }, { opset: 18 });
 */
export async function runAndCheckShapes(
  graph: Graph,
  feeds: Record<string, Tensor>,
  options: ModelOptions = {},
): Promise<Record<string, Tensor>> {
  const dims: Record<string, number> = {};
  for (const input of graph.inputs) {
    const feed = feeds[input.name];
    if (!feed) throw new Error(`no feed for graph input '${input.name}'`);
    expect(feed.shape.length, `rank of feed '${input.name}'`).toBe(input.rank);
    input.shape.forEach((d, i) => {
      if (typeof d !== 'string') return;
      if (dims[d] !== undefined && dims[d] !== feed.shape[i]) throw new Error(`feeds bind '${d}' to ${dims[d]} and ${feed.shape[i]}`);
      dims[d] = feed.shape[i];
    });
  }
  const out = await runGraph(graph, feeds, options);
  for (const v of graph.outputs) {
    expect(out[v.name].dtype, `dtype of output '${v.name}'`).toBe(v.dtype);
    expect(out[v.name].shape, `runtime vs inferred shape of output '${v.name}'`).toEqual(bindShape(v.shape, dims));
  }
  return out;
}
