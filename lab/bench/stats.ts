// Small statistics for the benchmark report: means, medians, Pearson (and so
// point-biserial) and Spearman correlations.
import { TwnnError } from '../../src/common/errors.js';

/** Arithmetic mean (NaN for no values). @example mean([1, 2, 6]) // 3 */
export function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return values.length === 0 ? NaN : s / values.length;
}

/** Median, the mean of the middle two for an even count (NaN for none). @example median([3, 1, 2, 10]) // 2.5 */
export function median(values: ArrayLike<number>): number {
  const sorted = Array.from(values).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return NaN;
  return n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

/**
 * Pearson's correlation coefficient; NaN when either variable is constant
 * (the correlation is undefined there, not 0). With `b` in {0, 1} it is the
 * point-biserial correlation.
 *
 * @example pearson([1, 2, 3], [2, 4, 7]) // 0.993…
 */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new TwnnError(`pearson: the variables have ${a.length} and ${b.length} values`);
  const ma = mean(a);
  const mb = mean(b);
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < a.length; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa === 0 || sbb === 0 ? NaN : sab / Math.sqrt(saa * sbb);
}

/**
 * 1-based ranks, ties given the mean of the ranks they span (so Spearman's
 * coefficient stays exact with the many ties of iteration counts).
 *
 * @example ranks([10, 20, 20, 5]) // [2, 3.5, 3.5, 1]
 */
export function ranks(values: ArrayLike<number>): number[] {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((i, j) => values[i] - values[j] || i - j);
  const out = new Array<number>(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && values[order[end + 1]] === values[order[start]]) end++;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) out[order[k]] = rank;
    start = end + 1;
  }
  return out;
}

/** Spearman's rank correlation: Pearson's on the tie-averaged ranks. @example spearman([1, 2, 3], [1, 8, 27]) // 1 */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new TwnnError(`spearman: the variables have ${a.length} and ${b.length} values`);
  return pearson(ranks(a), ranks(b));
}
