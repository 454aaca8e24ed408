// Option objects are checked key by key (issue 13): a misspelt key such as
// `maxiter` would otherwise build as if it were absent. TypeScript's
// excess-property checks catch it in a type-checked graph file; tsx runs
// graph files without checking them, and JavaScript has no types, so the
// builders check again at run time and suggest the key that was meant.
import { SpecError } from '../ir/index.js';

/**
 * Every key of an options type, each `true`: TypeScript then insists the list
 * is complete and holds nothing else, so it cannot drift from the type.
 */
export type KeysOf<T> = { readonly [K in keyof Required<T>]: true };

/**
 * Require `value` (when given) to be a plain object whose keys all appear in
 * `keys`; a SpecError naming the unknown key, the key it probably meant, and
 * the allowed ones otherwise. Returns `value`.
 *
 * @example checkOptions('region: iterate', spec.iterate, ITERATE_KEYS);
 */
export function checkOptions<T>(where: string, value: T, keys: KeysOf<NonNullable<T>> | Readonly<Record<string, true>>): T {
  if (value === undefined) return value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SpecError(`${where} must be an object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
  const allowed = Object.keys(keys);
  for (const key of Object.keys(value)) {
    if (allowed.includes(key)) continue;
    const meant = nearestKey(key, allowed);
    throw new SpecError(`${where}: unknown option '${key}'${meant ? ` (did you mean '${meant}'?)` : ''}; allowed: ${allowed.join(', ')}`);
  }
  return value;
}

/**
 * The allowed key closest to `key` in edit distance (case differences cost
 * little), when close enough to be a typo of it.
 *
 * @example nearestKey('maxiter', ['tol', 'maxIter']) // 'maxIter'
 */
export function nearestKey(key: string, allowed: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of allowed) {
    const distance = candidate.toLowerCase() === key.toLowerCase() ? 0.5 : editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (!best || distance < best.distance) best = { key: candidate, distance };
  }
  // A third of the word may be wrong (gatebias, maxIters, tolerance for tol is too far).
  return best && best.distance <= Math.max(1, Math.floor(key.length / 3)) ? best.key : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
