// Random-direction gradient checks (JAX's check_vjp): for random u (output
// cotangent) and v (input direction), compare ⟨Jᵀu, v⟩ from the emitted VJP nodes
// with the central difference (⟨u, f(x+εv)⟩ − ⟨u, f(x−εv)⟩) / 2ε, in float64.
import { expect } from 'vitest';
import { backward } from '../../src/autodiff/transform.js';
import { Graph, Tensor, type DType, type Value } from '../../src/ir/index.js';
import { add, mul, reduceSum } from '../../src/ops/index.js';
import { compileGraph } from './ort.js';
import { randn, seededRandom } from './rng.js';

/** How to draw one input: normal by default; `positive` for logs/roots; a fixed tensor for non-differentiable inputs. */
export type InputDraw = { shape: number[]; positive?: boolean; scale?: number } | { fixed: Tensor };

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
 * differences. Returns both directional derivatives for reporting.
 *
 * @example await gradCheck({ op: 'Tanh', inputs: [{ shape: [3, 4] }], build: (g, [x]) => tanh(g, x) });
 */
export async function gradCheck(c: GradCase, seed = 7): Promise<{ analytic: number; numeric: number }> {
  const dtype = c.dtype ?? 'float64';
  const random = seededRandom(seed);
  const g = new Graph(`gradcheck_${c.op}`, undefined, c.opset ?? 17);
  const xs: Value[] = [];
  const values: Tensor[] = [];
  const diff: number[] = [];
  c.inputs.forEach((draw, i) => {
    if ('fixed' in draw) {
      xs.push(g.constant(draw.fixed));
      values.push(draw.fixed);
      return;
    }
    const n = draw.shape.reduce((a, b) => a * b, 1);
    const data = randn(random, n).map((z) => (draw.positive ? 0.5 + Math.abs(z) : z) * (draw.scale ?? 1));
    values.push(Tensor.fromNumbers(dtype, draw.shape, data));
    xs.push(g.input(`x${i}`, dtype, draw.shape));
    diff.push(i);
  });
  const outs = [c.build(g, xs)].flat();
  // loss = Σ_k ⟨u_k, out_k⟩ with fixed random u_k fed as inputs
  const us = outs.map((o, k) => g.input(`u${k}`, o.dtype, o.shape));
  const terms = outs.map((o, k) => reduceSum(g, mul(g, o, us[k]), [], false));
  const loss = terms.reduce((a, b) => add(g, a, b));
  g.output('loss', loss);
  const grads = backward(g, loss, diff.map((i) => xs[i]));
  grads.forEach((gr, j) => g.output(`grad${j}`, gr));

  const uFeeds: Record<string, Tensor> = {};
  outs.forEach((o, k) => {
    const shape = o.shape.map(Number);
    uFeeds[`u${k}`] = Tensor.fromNumbers(o.dtype, shape, randn(random, shape.reduce((a, b) => a * b, 1)));
  });
  const directions = diff.map((i) => randn(random, values[i].size));
  const eps = c.eps ?? (dtype === 'float64' ? 1e-5 : 1e-2);
  const shifted = (sign: number) => {
    const feeds: Record<string, Tensor> = { ...uFeeds };
    diff.forEach((i, j) => {
      const base = values[i].toNumbers();
      feeds[`x${i}`] = Tensor.fromNumbers(dtype, values[i].shape, base.map((b, e) => b + sign * eps * directions[j][e]));
    });
    return feeds;
  };

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
    return { analytic, numeric };
  } finally {
    await model.release();
  }
}

function dot(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
