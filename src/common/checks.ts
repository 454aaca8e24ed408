// The checks every layer's bad-input errors share: how a value is shown in a
// message, and the positive-integer test that layers, the task and the
// trainer all need. Each caller picks the error class its layer raises.
import { TwnnError } from './errors.js';

/**
 * A value as a message shows it: strings quoted (`"3"`, not 3), objects as
 * JSON, numbers as themselves (NaN, not JSON's null).
 *
 * @example show('3') // '"3"'
 */
export function show(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean' || value === undefined) return String(value);
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value); // a cycle
  }
}

/**
 * `value` when it is a positive integer, else an error of class `Err`
 * saying `<what> must be a positive integer, got <value>`.
 *
 * @example positiveInteger(64, 'batch') // 64
 */
export function positiveInteger(value: unknown, what: string, Err: new (message: string) => TwnnError = TwnnError): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new Err(`${what} must be a positive integer, got ${show(value)}`);
  return value;
}
