import { InvalidArgumentError, Option } from 'commander';

/**
 * Parse a positive finite number option value, for commander.
 *
 * @example program.option('--lr <x>', 'learning rate', (v) => parsePositiveNumber(v, '--lr'))
 */
export function parsePositiveNumber(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${flag} expects a positive number`);
  return n;
}

/**
 * Parse a fraction in [0, 1], for commander.
 *
 * @example program.option('--compact-below <f>', 'fraction', (v) => parseFraction(v, '--compact-below'))
 */
export function parseFraction(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`${flag} expects a number from 0 to 1`);
  return n;
}

/**
 * Parse an integer option value at least `min` (and at most `max`, when
 * given), for commander (a bad value is a usage error naming the flag).
 *
 * @example program.option('--seed <n>', 'seed', (v) => parseInteger(v, '--seed', 0))
 * @example program.option('--port <n>', 'port', (v) => parseInteger(v, '--port', 0, 65535))
 */
export function parseInteger(value: string, flag: string, min: number, max?: number): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || (max !== undefined && n > max)) {
    throw new InvalidArgumentError(max === undefined ? `${flag} expects an integer >= ${min}` : `${flag} expects an integer from ${min} to ${max}`);
  }
  return n;
}

export { formatBytes } from '../ir/dtype.js';

/**
 * `--no-verify`: use a model that no longer matches the sha256 recorded in the
 * manifest.json beside it (commander then sets `verify: false`).
 *
 * @example command.addOption(noVerifyOption());
 */
export function noVerifyOption(): Option {
  return new Option('--no-verify', "use the model even when it no longer matches the sha256 that the manifest.json beside it records");
}
