// Losses: values against hand-computed numbers, gradients against finite
// differences and against their closed forms, and clear errors on bad shapes.
import { describe, expect, it } from 'vitest';
import { mseLoss, softmaxCrossEntropy } from '../../src/autodiff/losses.js';
import { backward } from '../../src/autodiff/transform.js';
import { Graph, ShapeError, Tensor, type DType } from '../../src/ir/index.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { runGraph } from '../helpers/ort.js';

const LOGITS = [1, 2, 3, 0.5, 0.5, 0.5, -1, 4, 0];
const LABELS = [2, 0, 1];

/** −log softmax(row)[label], by hand. */
function crossEntropyRef(logits: number[], labels: number[], classes: number): number {
  const terms = labels.map((label, b) => {
    const row = logits.slice(b * classes, (b + 1) * classes);
    const logSum = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
    return logSum - row[label];
  });
  return terms.reduce((a, b) => a + b) / labels.length;
}

describe('mseLoss', () => {
  it.each(['float32', 'float64'] as DType[])('is the mean of squared differences over all elements, as a scalar (%s)', async (dtype) => {
    const g = new Graph('mse');
    const y = g.input('y', dtype, ['B', 2]);
    const t = g.input('t', dtype, ['B', 2]);
    g.output('loss', mseLoss(g, y, t));
    const out = await runGraph(g, { y: Tensor.fromNumbers(dtype, [2, 2], [1, 2, 3, 4]), t: Tensor.fromNumbers(dtype, [2, 2], [0, 2, 1, 1.5]) });
    // (1² + 0² + 2² + 2.5²) / 4 = 11.25 / 4
    expect(out.loss.shape).toEqual([]);
    expect(out.loss.dtype).toBe(dtype);
    expect(out.loss.get(0)).toBe(2.8125);
  });

  it('has gradient 2(y − t)/n for y and its negative for t', async () => {
    const g = new Graph('mse_grad');
    const y = g.input('y', 'float64', [3]);
    const t = g.input('t', 'float64', [3]);
    const [gy, gt] = backward(g, mseLoss(g, y, t), [y, t]);
    g.output('gy', gy);
    g.output('gt', gt);
    const out = await runGraph(g, { y: Tensor.fromNumbers('float64', [3], [1, -2, 0.5]), t: Tensor.fromNumbers('float64', [3], [0, 1, 0.5]) });
    // `+ 0` turns a −0 into 0: the sign of a zero gradient is no part of the contract.
    expect(out.gy.toNumbers().map((v) => v + 0)).toEqual([2 / 3, -2, 0]);
    expect(out.gt.toNumbers().map((v) => v + 0)).toEqual([-2 / 3, 2, 0]);
  });

  it('passes a random-direction gradient check', async () => {
    await gradCheck({ op: 'mseLoss', inputs: [{ shape: [4, 3] }, { shape: [4, 3] }], build: (g, [y, t]) => mseLoss(g, y, t) });
  });

  it('rejects a target of another shape or dtype, naming both', () => {
    const g = new Graph('bad');
    const y = g.input('y', 'float32', ['B', 2]);
    expect(() => mseLoss(g, y, g.input('t1', 'float32', ['B', 3]))).toThrow(ShapeError);
    expect(() => mseLoss(g, y, g.input('t2', 'float32', ['B', 3]))).toThrow(/mseLoss: target shape \[B,3\] must equal the prediction's \[B,2\] \('t2' vs 'y'\)/);
    expect(() => mseLoss(g, y, g.input('t3', 'float64', ['B', 2]))).toThrow(/must share one float dtype/);
  });
});

describe('softmaxCrossEntropy', () => {
  it.each(['float32', 'float64'] as DType[])('is the mean of −logsoftmax at the label (%s)', async (dtype) => {
    const g = new Graph('ce');
    const logits = g.input('logits', dtype, ['B', 3]);
    const labels = g.input('labels', 'int64', ['B']);
    g.output('loss', softmaxCrossEntropy(g, logits, labels));
    const out = await runGraph(g, { logits: Tensor.fromNumbers(dtype, [3, 3], LOGITS), labels: Tensor.fromNumbers('int64', [3], LABELS) });
    expect(out.loss.shape).toEqual([]);
    const expected = crossEntropyRef(LOGITS, LABELS, 3);
    expect(Math.abs(out.loss.get(0) - expected)).toBeLessThan(dtype === 'float64' ? 1e-15 : 1e-6);
  });

  it('has gradient (softmax − onehot)/B for the logits', async () => {
    const g = new Graph('ce_grad');
    const logits = g.input('logits', 'float64', [3, 3]);
    const labels = g.input('labels', 'int64', [3]);
    g.output('g', backward(g, softmaxCrossEntropy(g, logits, labels), [logits])[0]);
    const out = await runGraph(g, { logits: Tensor.fromNumbers('float64', [3, 3], LOGITS), labels: Tensor.fromNumbers('int64', [3], LABELS) });
    const expected = LABELS.flatMap((label, b) => {
      const row = LOGITS.slice(b * 3, b * 3 + 3);
      const sum = row.reduce((s, v) => s + Math.exp(v), 0);
      return row.map((v, c) => (Math.exp(v) / sum - (c === label ? 1 : 0)) / 3);
    });
    out.g.toNumbers().forEach((v, i) => expect(Math.abs(v - expected[i]), `element ${i}`).toBeLessThan(1e-15));
  });

  it('passes a random-direction gradient check', async () => {
    const labels = Tensor.fromNumbers('int64', [4], [3, 0, 4, 1]);
    await gradCheck({ op: 'softmaxCrossEntropy', inputs: [{ shape: [4, 5], scale: 2 }, { fixed: labels }], build: (g, [z, l]) => softmaxCrossEntropy(g, z, l) });
  });

  it('rejects logits that are not [B, C] and labels that are not int64 [B]', () => {
    const g = new Graph('bad');
    const labels = g.input('labels', 'int64', ['B']);
    expect(() => softmaxCrossEntropy(g, g.input('z1', 'float32', ['B', 2, 3]), labels)).toThrow(ShapeError);
    expect(() => softmaxCrossEntropy(g, g.input('z2', 'float32', ['B', 'C']), labels)).toThrow(/logits must be float \[B, C\] with a known C, got 'z2: float32\[B,C\]'/);
    const z = g.input('z3', 'float32', ['B', 4]);
    expect(() => softmaxCrossEntropy(g, z, g.input('l1', 'float32', ['B']))).toThrow(/labels must be int64 \[B\] class indices, got 'l1: float32\[B\]'/);
    expect(() => softmaxCrossEntropy(g, g.input('z4', 'float32', [2, 4]), g.input('l2', 'int64', [3]))).toThrow(/3 labels for a batch of 2 logits/);
  });
});
