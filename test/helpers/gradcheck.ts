// Random-direction gradient checks (JAX's check_vjp): for random u (output
// cotangent) and v (input direction), compare ⟨Jᵀu, v⟩ from the emitted VJP nodes
// with the central difference (⟨u, f(x+εv)⟩ − ⟨u, f(x−εv)⟩) / 2ε, in float64.
import { expect } from 'vitest';
import { backward } from '../../src/autodiff/transform.js';
import { Graph, Tensor, type DType, type Shape, type Value } from '../../src/ir/index.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { add, mul, reduceSum } from '../../src/ops/index.js';
import { bindShape } from './assert.js';
import { compileGraph, runGraph } from './ort.js';
import { randn, seededRandom } from './rng.js';

/**
 * How to draw one input: normal by default; `positive` for logs/roots; a fixed tensor for
 * non-differentiable inputs. `dims` declares the graph input with symbolic dims (e.g.
 * `['B', 3]` for shape `[2, 3]`) so the rules' run-time-shape paths are exercised; a fixed
 * tensor with `feed` becomes a graph input too (contents unknown at build time), not a Constant.
 */
export type InputDraw =
  | { shape: readonly number[]; dims?: Shape; positive?: boolean; scale?: number }
  | { fixed: Tensor; feed?: boolean; dims?: Shape };

export interface GradCase {
  /** The op (registry type) this case covers. */
  op: string;
  label?: string;
  inputs: InputDraw[];
  /** Apply the op; `xs[i]` are graph inputs in `dtype`. Returns the outputs to differentiate. */
  build(g: Graph, xs: Value[]): Value | Value[];
  dtype?: DType;
  /** Relative tolerance on the directional derivative (default 1e-6 in float64). */
  rtol?: number;
  /** Finite-difference step (default 1e-5 in float64). */
  eps?: number;
  opset?: number;
}

/**
 * Run one gradient check; throws (via expect) when the VJP disagrees with finite
 * differences. Returns both directional derivatives, the op types the forward graph
 * emitted (so a table of cases can check that each case exercises the op it names), and
 * the checked model's bytes (for onnx's checker).
 *
 * @example await gradCheck({ op: 'Tanh', inputs: [{ shape: [3, 4] }], build: (g, [x]) => tanh(g, x) });
 */
export async function gradCheck(c: GradCase, seed = 7): Promise<{ analytic: number; numeric: number; forwardOps: Set<string>; model: Uint8Array }> {
  const dtype = c.dtype ?? 'float64';
  const random = seededRandom(seed);
  const values: Tensor[] = c.inputs.map((draw) => {
    if ('fixed' in draw) return draw.fixed;
    const n = draw.shape.reduce((a, b) => a * b, 1);
    return Tensor.fromNumbers(dtype, draw.shape, randn(random, n).map((z) => (draw.positive ? 0.5 + Math.abs(z) : z) * (draw.scale ?? 1)));
  });
  const diff = c.inputs.flatMap((draw, i) => ('fixed' in draw ? [] : [i]));
  const baseFeeds: Record<string, Tensor> = {};
  const dims: Record<string, number> = {};
  c.inputs.forEach((draw, i) => {
    if (!('fixed' in draw) || draw.feed) baseFeeds[`x${i}`] = values[i];
    (draw.dims ?? []).forEach((d, k) => {
      if (typeof d === 'string') dims[d] = values[i].shape[k];
    });
  });
  /** A graph with the case's inputs and forward computation. */
  const forward = (name: string) => {
    const g = new Graph(name, undefined, c.opset ?? 17);
    const xs = c.inputs.map((draw, i) => {
      const declared = draw.dims ?? values[i].shape;
      return 'fixed' in draw && !draw.feed ? g.constant(draw.fixed) : g.input(`x${i}`, values[i].dtype, declared);
    });
    return { g, xs, outs: [c.build(g, xs)].flat() };
  };

  const { g, xs, outs } = forward(`gradcheck_${c.op}`);
  const forwardOps = opTypesIn(g);
  // loss = Σ_k ⟨u_k, out_k⟩ with fixed random u_k fed as inputs
  const us = outs.map((o, k) => g.input(`u${k}`, o.dtype, o.shape));
  const terms = outs.map((o, k) => reduceSum(g, mul(g, o, us[k]), [], false));
  const loss = terms.reduce((a, b) => add(g, a, b));
  g.output('loss', loss);
  const grads = backward(g, loss, diff.map((i) => xs[i]));
  grads.forEach((gr, j) => g.output(`grad${j}`, gr));

  const outShapes = outs.every((o) => o.shape.every((d) => typeof d === 'number' || d in dims))
    ? outs.map((o) => bindShape(o.shape, dims))
    : await runtimeShapes(forward(`gradcheck_${c.op}_shapes`), baseFeeds, c.opset ?? 17);
  const uFeeds: Record<string, Tensor> = {};
  outs.forEach((o, k) => {
    const shape = outShapes[k];
    uFeeds[`u${k}`] = Tensor.fromNumbers(o.dtype, shape, randn(random, shape.reduce((a, b) => a * b, 1)));
  });
  const directions = diff.map((i) => randn(random, values[i].size));
  const eps = c.eps ?? (dtype === 'float64' ? 1e-5 : 1e-2);
  const shifted = (sign: number) => {
    const feeds: Record<string, Tensor> = { ...baseFeeds, ...uFeeds };
    diff.forEach((i, j) => {
      const base = values[i].toNumbers();
      feeds[`x${i}`] = Tensor.fromNumbers(dtype, values[i].shape, base.map((b, e) => b + sign * eps * directions[j][e]));
    });
    return feeds;
  };

  const bytes = serializeModel(g, { opset: c.opset ?? 17 });
  const model = await compileGraph(g, { opset: c.opset ?? 17 });
  try {
    const at = await model.run(shifted(0));
    const analytic = diff.reduce((acc, _i, j) => acc + dot(at[`grad${j}`].toNumbers(), directions[j]), 0);
    const plus = (await model.run(shifted(1))).loss.get(0);
    const minus = (await model.run(shifted(-1))).loss.get(0);
    const numeric = (plus - minus) / (2 * eps);
    const rtol = c.rtol ?? (dtype === 'float64' ? 1e-6 : 1e-2);
    const scale = Math.max(1, Math.abs(numeric), Math.abs(analytic));
    expect(Math.abs(analytic - numeric) / scale, `${c.op}${c.label ? ` (${c.label})` : ''}: analytic ${analytic} vs numeric ${numeric}`).toBeLessThan(rtol);
    return { analytic, numeric, forwardOps, model: bytes };
  } finally {
    await model.release();
  }
}

/** Outputs whose sizes only the run knows (fresh `?N` dims): run the forward graph alone to learn them. */
async function runtimeShapes(probe: { g: Graph; outs: Value[] }, feeds: Record<string, Tensor>, opset: number): Promise<number[][]> {
  probe.outs.forEach((o, k) => probe.g.output(`y${k}`, o));
  const out = await runGraph(probe.g, feeds, { opset });
  return probe.outs.map((_, k) => [...out[`y${k}`].shape]);
}

/** Op types of every node in `g` and its subgraphs. */
function opTypesIn(g: Graph, into = new Set<string>()): Set<string> {
  for (const n of g.nodes) {
    into.add(n.opType);
    n.subgraphs().forEach((sub) => opTypesIn(sub, into));
  }
  return into;
}

function dot(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
