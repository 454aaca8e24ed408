// Convolutions with input weights on onnxruntime's NCHWc kernels
// (src/onnx/blocked-conv.ts): each rewritten graph computes what the original
// does, what is not certain to be accepted is left alone, and a TWNN conv
// region's gradient graph (forward Loop, adjoint Loop, weights captured from
// the outer scope) gives the same gradients and sweep counts either way.
import { describe, expect, it } from 'vitest';
import { Graph, Tensor, type Value } from '../../src/ir/index.js';
import { conv2d as convOp, convTranspose2d, identity } from '../../src/ops/public.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { parseModel } from '../../src/onnx/load.js';
import { NCHWC_DOMAIN, withBlockedConvolutions } from '../../src/onnx/blocked-conv.js';
import { nchwcBlockSize } from '../../src/runtime/blocked-conv-probe.js';
import { openSession } from '../../src/runtime/session.js';
import { conv2d, defineModel, dense, flatten, sequential, tanh } from '../../src/twnn/index.js';
import { buildInferenceGraph } from '../../src/lower/inference.js';
import { region } from '../../src/twnn/region.js';
import { gradientGraph, paramFeeds, randomTensor, relativeError } from '../lower/region-helpers.js';

interface ConvCase {
  name: string;
  cin: number;
  cout: number;
  k: number;
  /** Builds the node from x, W (a graph input) and the bias. */
  op: (g: Graph, x: Value, w: Value, b: Value | undefined) => Value;
  transposed?: boolean;
  bias?: boolean;
  /** Channel groups of W's second dim (a grouped conv's W is [cout, cin/group, k, k]). */
  group?: number;
}

function caseModel(c: ConvCase, block: number, batch = 3, size = 6): { bytes: Uint8Array; feeds: Record<string, Tensor> } {
  const g = new Graph(c.name);
  const [cin, cout] = [c.cin * block, c.cout * block];
  const wShape = c.transposed ? [cin, cout, c.k, c.k] : [cout, cin / (c.group ?? 1), c.k, c.k];
  const x = g.input('x', 'float32', [batch, cin, size, size]);
  const w = g.input('w', 'float32', wShape);
  const b = c.bias ? g.input('b', 'float32', [cout]) : undefined;
  g.output('y', c.op(g, x, w, b));
  const feeds: Record<string, Tensor> = { x: randomTensor([batch, cin, size, size], 1, 1, 'float32'), w: randomTensor(wShape, 2, 0.2, 'float32') };
  if (b) feeds.b = randomTensor([cout], 3, 1, 'float32');
  return { bytes: serializeModel(g), feeds };
}

async function runBoth(bytes: Uint8Array, feeds: Record<string, Tensor>): Promise<{ plain: Record<string, Tensor>; blocked: Record<string, Tensor> }> {
  const plain = await openSession(bytes, { blockedConvolutions: false });
  const blocked = await openSession(bytes, { blockedConvolutions: true });
  try {
    return { plain: await plain.run(feeds), blocked: await blocked.run(feeds) };
  } finally {
    await plain.close();
    await blocked.close();
  }
}

const maxDiff = (a: Tensor, b: Tensor) => a.toNumbers().reduce((m, v, i) => Math.max(m, Math.abs(v - b.toNumbers()[i]!)), 0);

describe('blocked convolutions', () => {
  const rewritten: ConvCase[] = [
    { name: '3x3 pad 1', cin: 1, cout: 2, k: 3, op: (g, x, w) => convOp(g, x, w, undefined, { pads: [1, 1, 1, 1] }) },
    { name: '3x3 stride 2 with bias', cin: 2, cout: 1, k: 3, bias: true, op: (g, x, w, b) => convOp(g, x, w, b, { pads: [1, 1, 1, 1], strides: [2, 2] }) },
    { name: '1x1 stride 2', cin: 1, cout: 1, k: 1, op: (g, x, w) => convOp(g, x, w, undefined, { strides: [2, 2] }) },
    { name: '3x3 dilation 2, uneven pads', cin: 1, cout: 1, k: 3, op: (g, x, w) => convOp(g, x, w, undefined, { pads: [2, 1, 0, 2], dilations: [2, 2] }) },
    { name: 'ConvTranspose 3x3 pad 1', cin: 2, cout: 1, k: 3, transposed: true, op: (g, x, w) => convTranspose2d(g, x, w, undefined, { pads: [1, 1, 1, 1] }) },
    { name: 'ConvTranspose 3x3 no pad, bias', cin: 1, cout: 1, k: 3, transposed: true, bias: true, op: (g, x, w, b) => convTranspose2d(g, x, w, b) },
  ];

  it.each(rewritten)('$name: rewritten, and the same output as onnxruntime\'s own kernel', async (c) => {
    const block = await nchwcBlockSize();
    expect([4, 8, 16]).toContain(block);
    const { bytes, feeds } = caseModel(c, block);
    const rewrite = withBlockedConvolutions(parseModel(bytes, c.name), block);
    expect(c.transposed ? rewrite.transposed : rewrite.convs).toBe(1);
    const ops = (rewrite.model.graph!.node ?? []).map((n) => `${n.domain === NCHWC_DOMAIN ? 'nchwc.' : ''}${n.opType}`);
    expect(ops).toContain('nchwc.Conv');
    expect(ops).not.toContain(c.transposed ? 'ConvTranspose' : 'Conv');
    const { plain, blocked } = await runBoth(bytes, feeds);
    expect(blocked.y.shape).toEqual(plain.y.shape);
    expect(maxDiff(blocked.y, plain.y)).toBeLessThan(1e-4);
  });

  const leftAlone: ConvCase[] = [
    { name: 'grouped', cin: 2, cout: 2, k: 3, group: 2, op: (g, x, w) => convOp(g, x, w, undefined, { pads: [1, 1, 1, 1], group: 2 }) },
    { name: 'ConvTranspose stride 2', cin: 1, cout: 1, k: 2, transposed: true, op: (g, x, w) => convTranspose2d(g, x, w, undefined, { strides: [2, 2] }) },
    { name: 'weights computed in the graph', cin: 1, cout: 1, k: 3, op: (g, x, w) => convOp(g, x, identity(g, w), undefined, { pads: [1, 1, 1, 1] }) },
  ];

  it.each(leftAlone)('$name: left as it is', async (c) => {
    const block = await nchwcBlockSize();
    const { bytes } = caseModel(c, block);
    const rewrite = withBlockedConvolutions(parseModel(bytes, c.name), block);
    expect(rewrite.convs + rewrite.transposed).toBe(0);
    expect(rewrite.model.graph!.node!.map((n) => n.opType)).toEqual(parseModel(bytes, c.name).graph!.node!.map((n) => n.opType));
  });

  it('convolutions reading the same tensor share one ReorderInput', async () => {
    const block = await nchwcBlockSize();
    const g = new Graph('shared');
    const x = g.input('x', 'float32', [2, block, 5, 5]);
    const [w1, w2] = ['w1', 'w2'].map((n) => g.input(n, 'float32', [block, block, 3, 3]));
    g.output('y1', convOp(g, x, w1!, undefined, { pads: [1, 1, 1, 1] }));
    g.output('y2', convOp(g, x, w2!, undefined, { pads: [1, 1, 1, 1] }));
    const bytes = serializeModel(g);
    const rewrite = withBlockedConvolutions(parseModel(bytes, 'shared'), block);
    expect(rewrite.convs).toBe(2);
    expect(rewrite.model.graph!.node!.filter((n) => n.opType === 'ReorderInput')).toHaveLength(1);
    const feeds = { x: randomTensor([2, block, 5, 5], 5, 1, 'float32'), w1: randomTensor([block, block, 3, 3], 6, 0.2, 'float32'), w2: randomTensor([block, block, 3, 3], 7, 0.2, 'float32') };
    const { plain, blocked } = await runBoth(bytes, feeds);
    expect(maxDiff(blocked.y1, plain.y1)).toBeLessThan(1e-4);
    expect(maxDiff(blocked.y2, plain.y2)).toBeLessThan(1e-4);
  });

  it('leaves channels that are not whole blocks, and weights that are initializers, to onnxruntime', async () => {
    const block = await nchwcBlockSize();
    const g = new Graph('partial');
    const x = g.input('x', 'float32', [2, block + 4, 5, 5]);
    const odd = g.input('odd', 'float32', [block, block + 4, 3, 3]);
    const y = convOp(g, x, odd, undefined, { pads: [1, 1, 1, 1] });
    g.output('y', convOp(g, y, g.initializer('fixed', randomTensor([block, block, 1, 1], 4, 1, 'float32')), undefined, {}));
    expect(withBlockedConvolutions(parseModel(serializeModel(g), 'partial'), block).convs).toBe(0);
  });

  /** [B,1,8,8] -> stem -> a region of C-channel convs (8x8, strided to 4x4, 4x4) with two wormholes -> head. */
  const convNet = (C: number) =>
    sequential({
      stem: conv2d(1, C, 3, { padding: 1 }),
      region1: region({
        blocks: [sequential(conv2d(C, C, 3, { padding: 1 }), tanh()), sequential(conv2d(C, C, 3, { stride: 2, padding: 1 }), tanh()), sequential(conv2d(C, C, 3, { padding: 1 }), tanh())],
        wormholes: [{ from: 3, to: 1, gateBias: 0 }, { from: 3, to: 3, gateBias: 0 }],
        iterate: { tol: 1e-5, maxIter: 60 },
        backwardTol: 1e-5,
      }),
      flatten: flatten(),
      head: dense(C * 16, 3),
    });
  const x = randomTensor([4, 1, 8, 8], 51, 1, 'float32');

  it('model.onnx: a Loop body\'s convolutions with initializer weights (onnxruntime blocks only the main graph\'s), with the same outputs and sweeps', async () => {
    const block = await nchwcBlockSize();
    const built = buildInferenceGraph(defineModel({ name: 'blocked', input: { shape: ['B', 1, 8, 8] }, net: convNet(block) }), { seed: 3 });
    const bytes = serializeModel(built.graph);
    const rewrite = withBlockedConvolutions(parseModel(bytes, 'model.onnx'), block);
    // The region's three 3x3 convs, the 3 -> 3 wormhole's 1x1 projection and both wormholes' 1x1 gates; the 3 -> 1
    // projection is a stride-2 ConvTranspose, and the stem's conv (1 input channel, main graph) is onnxruntime's.
    expect(rewrite.convs).toBe(6);
    expect(rewrite.transposed).toBe(0);
    const { plain, blocked } = await runBoth(bytes, { x });
    expect(blocked.iterations.toNumbers()).toEqual(plain.iterations.toNumbers());
    expect(maxDiff(blocked.y, plain.y)).toBeLessThan(1e-4);
  });

  it('a conv TWNN region\'s gradient graph: Loop bodies read the blocked weights from the outer scope, with the same gradients and sweeps', async () => {
    const block = await nchwcBlockSize();
    const built = gradientGraph({ net: convNet(block), input: ['B', 1, 8, 8], dtype: 'float32', seed: 3 });
    const bytes = serializeModel(built.graph);
    const rewrite = withBlockedConvolutions(parseModel(bytes, 'region'), block);
    // The region's three 3x3 convs and its 1x1 projection run in the forward Loop; the adjoint's stride-1 input gradients are ConvTransposes.
    expect(rewrite.convs).toBeGreaterThanOrEqual(4);
    expect(rewrite.transposed).toBeGreaterThanOrEqual(3);
    const feeds = { x, u: randomTensor([4, 3], 52, 1, 'float32'), ...paramFeeds(built.params) };
    const { plain, blocked } = await runBoth(bytes, feeds);
    expect(blocked['iterations.region1'].toNumbers()).toEqual(plain['iterations.region1'].toNumbers());
    expect(blocked['iterations_backward.region1'].toNumbers()).toEqual(plain['iterations_backward.region1'].toNumbers());
    for (const name of [...built.params.map((p) => `grad.${p.name}`), 'grad.x', 'loss']) {
      expect(relativeError(blocked[name].toNumbers(), plain[name].toNumbers()), name).toBeLessThan(1e-4);
    }
  });
});
