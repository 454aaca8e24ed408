// A small seeded PRNG for reproducible random test inputs.

/**
 * mulberry32: a fast 32-bit generator, uniform in [0, 1). Same seed, same sequence.
 *
 * @example const random = seededRandom(42); random(); // 0.6011...
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` standard normal samples drawn from `random` (Box-Muller).
 *
 * @example const xs = randn(seededRandom(1), 12);
 */
export function randn(random: () => number, count: number): number[] {
  const out: number[] = [];
  while (out.length < count) {
    // 1 - u keeps the logarithm's argument in (0, 1].
    const radius = Math.sqrt(-2 * Math.log(1 - random()));
    const angle = 2 * Math.PI * random();
    out.push(radius * Math.cos(angle), radius * Math.sin(angle));
  }
  return out.slice(0, count);
}
