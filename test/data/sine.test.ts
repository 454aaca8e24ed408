import { describe, expect, it } from 'vitest';
import { loadSine, sineSeries, sineSplitSizes } from '../../src/data/sine.js';
import { TwnnError } from '../../src/common/errors.js';

describe('sine data (paper Task B)', () => {
  it('the series is sin(2πt/50)', () => {
    const s = sineSeries(101);
    expect(s).toHaveLength(101);
    for (const t of [0, 1, 12, 25, 50, 100]) expect(s[t]).toBeCloseTo(Math.sin((2 * Math.PI * t) / 50), 14);
    // 50 samples per period: the wave repeats every 50 samples.
    for (let t = 0; t < 50; t++) expect(s[t + 50]).toBeCloseTo(s[t], 12);
  });

  it('splits 10000 samples into the first 80% of the windows for training and the rest for test', () => {
    expect(sineSplitSizes(10000, 16)).toEqual({ train: 7987, test: 1997 });
    const train = loadSine({ window: 16 }, 'train');
    const test = loadSine({ window: 16 }, 'test');
    expect(train.x.shape).toEqual([7987, 16]);
    expect(train.target.shape).toEqual([7987, 1]);
    expect(test.x.shape).toEqual([1997, 16]);
    expect(train.x.dtype).toBe('float32');
  });

  it('window k holds samples k..k+w-1 and its target sample k+w', () => {
    const window = 5;
    const length = 40;
    const f = (t: number) => Math.sin((2 * Math.PI * t) / 50);
    const train = loadSine({ window, length, dtype: 'float64' }, 'train');
    const test = loadSine({ window, length, dtype: 'float64' }, 'test');
    const { train: nTrain, test: nTest } = sineSplitSizes(length, window);
    expect(nTrain + nTest).toBe(length - window);
    expect(nTrain).toBe(28);
    for (const [d, first, n] of [
      [train, 0, nTrain],
      [test, nTrain, nTest],
    ] as const) {
      for (let i = 0; i < n; i++) {
        const k = first + i;
        for (let j = 0; j < window; j++) expect(d.x.get(i * window + j)).toBeCloseTo(f(k + j), 14);
        expect(d.target.get(i)).toBeCloseTo(f(k + window), 14);
      }
    }
    // The test split starts where the training split ends: no window is in both.
    expect(test.x.get(0)).toBeCloseTo(f(nTrain), 14);
    expect(test.target.get(nTest - 1)).toBeCloseTo(f(length - 1), 14);
  });

  it('rejects windows that leave no data', () => {
    expect(() => loadSine({ window: 0 }, 'train')).toThrow(TwnnError);
    expect(() => loadSine({ window: 16, length: 17 }, 'train')).toThrow(/length must be an integer of at least window \+ 2 = 18/);
  });
});
