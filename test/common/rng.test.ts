import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/common/rng.js';

const draw = (rng: Rng, n: number) => Array.from({ length: n }, () => rng.next());

describe('Rng', () => {
  it('gives the same stream for the same seed and parameter name', () => {
    expect(draw(Rng.forParam(5, 'block1.conv1.weight'), 50)).toEqual(draw(Rng.forParam(5, 'block1.conv1.weight'), 50));
  });

  it('gives different streams for different names and for different seeds', () => {
    const base = draw(Rng.forParam(5, '0.weight'), 8);
    expect(draw(Rng.forParam(5, '0.bias'), 8)).not.toEqual(base);
    expect(draw(Rng.forParam(6, '0.weight'), 8)).not.toEqual(base);
  });

  it('draws uniforms in [low, high) with mean and variance of U(low, high)', () => {
    const rng = Rng.forParam(0, 'u');
    const xs = Array.from({ length: 20000 }, () => rng.uniform(-3, 1));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(-3);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
    // 20000 draws: the mean's standard error is 0.008, so 0.05 is over 6 sigma.
    expect(Math.abs(mean - -1)).toBeLessThan(0.05);
    expect(Math.abs(variance - 16 / 12)).toBeLessThan(0.05);
  });

  it('draws normals with the requested mean and standard deviation', () => {
    const rng = Rng.forParam(1, 'n');
    const xs = Array.from({ length: 20000 }, () => rng.normal(2, 0.5));
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    expect(Math.abs(mean - 2)).toBeLessThan(0.02);
    expect(Math.abs(std - 0.5)).toBeLessThan(0.02);
    // About 4.6% of a normal lies beyond 2 sigma.
    const tails = xs.filter((v) => Math.abs(v - 2) > 1).length / xs.length;
    expect(tails).toBeGreaterThan(0.035);
    expect(tails).toBeLessThan(0.057);
  });
});
