// Seeded random numbers for parameter initialisation.
//
// Each parameter draws from its own stream, seeded from (model seed, parameter
// name), so a parameter's initial value depends on neither build order nor on
// which other parameters exist: adding a layer does not reshuffle the rest.

/**
 * cyrb128: a fast string hash with 128 bits of output, enough to seed
 * xoshiro128** from a string without the four words being correlated.
 */
function cyrb128(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/**
 * A xoshiro128** generator: 128 bits of state, period 2^128 − 1, good
 * statistical quality, and exactly reproducible in any JS engine (32-bit
 * integer arithmetic only).
 *
 * @example
 * const rng = Rng.forParam(0, 'block1.conv1.weight');
 * const w = rng.uniform(-0.1, 0.1);
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** The second Box-Muller variate, kept for the next `normal()` call. */
  private spare: number | undefined;

  /** A generator seeded from any string (hashed to the 128-bit state). */
  constructor(seedText: string) {
    [this.s0, this.s1, this.s2, this.s3] = cyrb128(seedText);
    // An all-zero state would be a fixed point; cyrb128 makes it practically impossible, but never say never.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /**
   * The stream of one parameter: a function of the model seed and the
   * parameter's dot-scoped name only.
   *
   * @example Rng.forParam(42, '0.weight').uniform(0, 1) // same number on every build
   */
  static forParam(seed: number, paramName: string): Rng {
    return new Rng(`twnn:${seed}:${paramName}`);
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits (every float64 step in the range is reachable). */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [low, high). @example rng.uniform(-1, 1) */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Normal with the given mean and standard deviation (Box-Muller). @example rng.normal(0, 0.02) */
  normal(mean = 0, std = 1): number {
    if (this.spare !== undefined) {
      const z = this.spare;
      this.spare = undefined;
      return mean + std * z;
    }
    // 1 − next() lies in (0, 1], so the log is finite.
    const r = Math.sqrt(-2 * Math.log(1 - this.next()));
    const theta = 2 * Math.PI * this.next();
    this.spare = r * Math.sin(theta);
    return mean + std * r * Math.cos(theta);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
