import { InvalidArgumentError } from 'commander';

/**
 * Parse an integer option value at least `min`, for commander (a bad value is
 * a usage error naming the flag).
 *
 * @example program.option('--seed <n>', 'seed', (v) => parseInteger(v, '--seed', 0))
 */
export function parseInteger(value: string, flag: string, min: number): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new InvalidArgumentError(`${flag} expects an integer >= ${min}`);
  }
  return n;
}

/** Human-readable sizes. @example formatBytes(2048) // '2.0 KiB' */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
