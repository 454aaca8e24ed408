// Deferred gradients (src/autodiff/vjp-through.ts `deferGradients`): a reverse
// pass leaves some nodes' parameter cotangents to a later VJP seeded with
// everything that reached those nodes, and the result is the plain gradient.
// A tiny stand-in for a region: s = x·W (the taker, as a region's Loop reads
// its weights), then the "sweep at S*" u = s·W, y = tanh(u), which the loss
// reads twice (y and u).
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/autodiff/transform.js';
import { deferGradients, vjpThrough } from '../../src/autodiff/vjp-through.js';
import { Graph, Tensor, type Value, type VjpRule } from '../../src/ir/index.js';
import { add, filledLike, matmul, mul, reduceSum, tanh, transpose } from '../../src/ops/index.js';
import { runGraph } from '../helpers/ort.js';

const X = [0.3, -0.7, 1.1, 0.4, -0.2, 0.9];
const W = [0.5, -0.3, 0.8, 0.2, -0.6, 0.1, 0.7, -0.4, 0.3];

interface Built {
  g: Graph;
  w: Value;
  x: Value;
  loss: Value;
  /** How many times the taker's rule took seeds. */
  taken: { count: number };
}

/** The graph; `defer` registers the sweep's deferral, `takes` whether the taker's rule takes it. */
function build(defer: boolean, takes: boolean): Built {
  const g = new Graph('deferred');
  const x = g.input('x', 'float64', [2, 3]);
  const w = g.input('w', 'float64', [3, 3]);
  const s = matmul(g, x, w);
  const taker = g.nodes[g.nodes.length - 1];
  const start = g.nodes.length;
  const u = matmul(g, s, w);
  const y = tanh(g, u);
  const sweepNodes = g.nodes.slice(start);
  const loss = add(g, reduceSum(g, mul(g, y, y), [], false), reduceSum(g, u, [], false));
  const taken = { count: 0 };
  const deferral = { nodes: sweepNodes, operands: new Set([w]), taker };
  if (defer) deferGradients(deferral);
  // The taker's rule: MatMul's own VJP, plus W's cotangent through the sweep from a seed of its own on y
  // (as a region's Loop seeds its adjoint w); when it takes the deferral, the seeds that reached the sweep
  // join its own in that one VJP.
  const rule: VjpRule = (ctx) => {
    const into = ctx.graph;
    const gs = ctx.gradOutputs[0]!;
    const gx = matmul(into, gs, transpose(into, w, [1, 0]));
    const seeds = new Map([[y, filledLike(into, y, 0.5)]]);
    const outside = takes ? ctx.takeDeferred?.(deferral) : undefined;
    if (outside) taken.count++;
    for (const [v, c] of outside ?? []) seeds.set(v, seeds.has(v) ? add(into, seeds.get(v)!, c) : c);
    const [fromSweep] = vjpThrough({ nodes: sweepNodes, seeds, wrt: [w], into, resolving: deferral });
    return [gx, add(into, matmul(into, transpose(into, x, [1, 0]), gs), fromSweep!)];
  };
  taker.customVjp = rule;
  return { g, w, x, loss, taken };
}

async function gradients(b: Built): Promise<{ gx: number[]; gw: number[] }> {
  const [gx, gw] = backward(b.g, b.loss, [b.x, b.w]);
  b.g.output('gx', gx);
  b.g.output('gw', gw);
  const out = await runGraph(b.g, { x: Tensor.fromNumbers('float64', [2, 3], X), w: Tensor.fromNumbers('float64', [3, 3], W) });
  return { gx: out.gx.toNumbers(), gw: out.gw.toNumbers() };
}

describe('deferred gradients', () => {
  it('taken by the taker, or differentiated at the end of a pass that never gives it away: the same gradient', async () => {
    const plain = await gradients(build(false, false));
    // The plain gradient is the right one, at W[0,0] by hand: u = xW·W, dL/du = 2y(1 − y²) + 1, and the taker's
    // own seed 0.5 on y adds 0.5(1 − y²) to dL/du for W's second use only.
    const xw = [0, 1].map((n) => [0, 1, 2].map((j) => [0, 1, 2].reduce((a, k) => a + X[n * 3 + k] * W[k * 3 + j], 0)));
    const u = xw.map((row) => [0, 1, 2].map((j) => [0, 1, 2].reduce((a, k) => a + row[k] * W[k * 3 + j], 0)));
    const du = u.map((row) => row.map((v) => 2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2) + 1));
    const extra = u.map((row) => row.map((v) => 0.5 * (1 - Math.tanh(v) ** 2)));
    const gs = du.map((row) => [0, 1, 2].map((k) => [0, 1, 2].reduce((a, j) => a + row[j] * W[k * 3 + j], 0)));
    const gw00 = xw[0][0] * (du[0][0] + extra[0][0]) + xw[1][0] * (du[1][0] + extra[1][0]) + X[0] * gs[0][0] + X[3] * gs[1][0];
    expect(plain.gw[0]).toBeCloseTo(gw00, 12);
    for (const takes of [true, false]) {
      const b = build(true, takes);
      const deferred = await gradients(b);
      expect(b.taken.count, `takes ${takes}`).toBe(takes ? 1 : 0);
      deferred.gw.forEach((v, i) => expect(v, `gw[${i}], takes ${takes}`).toBeCloseTo(plain.gw[i], 12));
      deferred.gx.forEach((v, i) => expect(v, `gx[${i}], takes ${takes}`).toBeCloseTo(plain.gx[i], 12));
    }
  });

  it("W's cotangent through the sweep is one MatMul when the taker takes the deferral, not one per pass", () => {
    const matMuls = (defer: boolean) => {
      const b = build(defer, true);
      const before = b.g.nodes.length;
      backward(b.g, b.loss, [b.x, b.w]);
      return b.g.nodes.slice(before).filter((n) => n.opType === 'MatMul').length;
    };
    // Plain: the pass's ds and dW at u = s·W, the taker's gx and x-side gW, and its own sweep dW: 5.
    expect(matMuls(false)).toBe(5);
    expect(matMuls(true)).toBe(4);
  });
});
