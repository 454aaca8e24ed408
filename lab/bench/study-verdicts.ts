// The paper's claims (Table III and §IV: a ResNet-TWNN beats deeper plain
// ResNets, trains no slower, needs less memory; it skipped block B4) judged by
// the study's numbers. Accuracy claims compare seed means with Welch's t:
// |t| >= 2 counts as a difference, anything less as none that 3 seeds can show.

/** Mean, sample standard deviation and count of a set of runs' values. */
export interface Spread {
  mean: number;
  std: number;
  n: number;
}

/**
 * The spread of `values` (std with n − 1; 0 for a single value).
 *
 * @example spread([0.86, 0.87, 0.88]) // { mean: 0.87, std: 0.01, n: 3 }
 */
export function spread(values: readonly number[]): Spread {
  const n = values.length;
  const mean = n > 0 ? values.reduce((a, b) => a + b, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

/**
 * Welch's t of a − b (positive: a is larger), or undefined with fewer than two values on a side.
 *
 * @example welchT(spread([0.9, 0.91, 0.92]), spread([0.8, 0.81, 0.82])) // 12.2
 */
export function welchT(a: Spread, b: Spread): number | undefined {
  if (a.n < 2 || b.n < 2) return undefined;
  const se = Math.sqrt(a.std ** 2 / a.n + b.std ** 2 / b.n);
  if (se === 0) return a.mean === b.mean ? 0 : Math.sign(a.mean - b.mean) * Infinity;
  return (a.mean - b.mean) / se;
}

export type Verdict = 'holds' | 'fails' | 'reversed' | 'undetermined';

/** One claim and what the numbers say about it. */
export interface ClaimVerdict {
  claim: string;
  /** What the paper reports for it. */
  paper: string;
  /** What this study measured. */
  measured: string;
  verdict: Verdict;
  /** Why, in a sentence. */
  why: string;
}

/**
 * Judge "a is more accurate than b": holds when a's mean is higher with
 * t >= 2, reversed when lower with t <= −2, fails when the difference is
 * within noise (|t| < 2), undetermined without two runs on each side.
 *
 * @example accuracyVerdict(twnn, plain).verdict // 'fails'
 */
export function accuracyVerdict(a: Spread, b: Spread): { verdict: Verdict; t?: number } {
  const t = welchT(a, b);
  if (t === undefined) return { verdict: 'undetermined' };
  if (t >= 2) return { verdict: 'holds', t };
  if (t <= -2) return { verdict: 'reversed', t };
  return { verdict: 'fails', t };
}

/**
 * Judge "a costs no more than b" (time, memory): holds when a ≤ b·(1 + slack).
 *
 * @example costVerdict(310, 300).verdict // 'holds' (within 5%)
 */
export function costVerdict(a: number | undefined, b: number | undefined, slack = 0.05): { verdict: Verdict; ratio?: number } {
  if (a === undefined || b === undefined || !(b > 0)) return { verdict: 'undetermined' };
  const ratio = a / b;
  return { verdict: ratio <= 1 + slack ? 'holds' : 'fails', ratio };
}
