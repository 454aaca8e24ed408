import { describe, expect, it } from 'vitest';
import { batchCount, batchRows, gatherRows, makeDataset, sequentialBatches, shuffledOrder, takeBatch } from '../../src/data/batches.js';
import { Tensor } from '../../src/ir/tensor.js';

describe('seeded shuffling', () => {
  it('is a permutation, the same for the same seed and epoch', () => {
    const a = shuffledOrder(1000, 7, 3);
    expect(Array.from(a).sort((p, q) => p - q)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(Array.from(shuffledOrder(1000, 7, 3))).toEqual(Array.from(a));
  });

  it('differs between epochs and between seeds, and actually moves elements', () => {
    const base = Array.from(shuffledOrder(1000, 7, 3));
    expect(Array.from(shuffledOrder(1000, 7, 4))).not.toEqual(base);
    expect(Array.from(shuffledOrder(1000, 8, 3))).not.toEqual(base);
    const fixed = base.filter((v, i) => v === i).length;
    // A uniform permutation has one fixed point on average.
    expect(fixed).toBeLessThan(10);
  });

  it('puts every element in every position about equally often', () => {
    const n = 4;
    const counts = Array.from({ length: n }, () => new Array(n).fill(0));
    const epochs = 4000;
    for (let e = 0; e < epochs; e++) shuffledOrder(n, 1, e).forEach((v, pos) => (counts[v][pos] += 1));
    // Expected 1000 each; 5 standard deviations is about ±140.
    for (const row of counts) for (const c of row) expect(Math.abs(c - epochs / n)).toBeLessThan(140);
  });
});

describe('batching', () => {
  const x = Tensor.fromNumbers('float32', [5, 2], [0, 1, 10, 11, 20, 21, 30, 31, 40, 41]);
  const target = Tensor.fromNumbers('int64', [5], [0, 1, 2, 3, 4]);
  const data = makeDataset('toy', x, target);

  it('keeps the last partial batch', () => {
    expect(batchCount(5, 2)).toBe(3);
    const order = Uint32Array.of(4, 2, 0, 1, 3);
    expect(Array.from(batchRows(order, 0, 2))).toEqual([4, 2]);
    expect(Array.from(batchRows(order, 2, 2))).toEqual([3]);
    expect(() => batchCount(5, 0)).toThrow(/positive integer/);
  });

  it('stacks the chosen rows of x and target', () => {
    const { x: bx, target: bt } = takeBatch(data, [3, 0]);
    expect(bx.shape).toEqual([2, 2]);
    expect(bx.toNumbers()).toEqual([30, 31, 0, 1]);
    expect(bt.dtype).toBe('int64');
    expect(bt.toNumbers()).toEqual([3, 0]);
    expect(gatherRows(Tensor.fromNumbers('float64', [3, 1, 2], [1, 2, 3, 4, 5, 6]), [2]).shape).toEqual([1, 1, 2]);
  });

  it('walks a dataset in order for evaluation', () => {
    const seen = [...sequentialBatches(data, 2)];
    expect(seen.map((b) => b.rows)).toEqual([2, 2, 1]);
    expect(seen.flatMap((b) => b.target.toNumbers())).toEqual([0, 1, 2, 3, 4]);
  });

  it('rejects x and target of different lengths', () => {
    expect(() => makeDataset('bad', x, Tensor.fromNumbers('int64', [4], [0, 1, 2, 3]))).toThrow('bad: x has 5 examples but target has 4');
  });
});
