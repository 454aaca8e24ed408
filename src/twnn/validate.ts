// Argument and input checks shared by the layer factories: every failure is a
// SpecError naming the layer (and, at build time, where it sits in the model).
import { formatShape, SpecError, type Value } from '../ir/index.js';
import { positiveInteger, show } from '../common/checks.js';

/** Where a layer builds: a BuildContext (src/twnn/module.ts), of which the checks need only the scope's name. */
export interface Scoped {
  readonly scopeName: string;
}

export { show };

/**
 * Require a positive integer argument.
 *
 * @example positiveInt('dense', 'inFeatures', 16)
 */
export function positiveInt(layer: string, arg: string, value: unknown): number {
  return positiveInteger(value, `${layer}: ${arg}`, SpecError);
}

/**
 * Require a finite number, optionally in an open or closed range.
 *
 * @example finite('batchNorm2d', 'eps', 1e-5, { above: 0 })
 */
export function finite(layer: string, arg: string, value: unknown, range: { above?: number; atMost?: number; atLeast?: number } = {}): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (range.above === undefined || value > range.above) &&
    (range.atLeast === undefined || value >= range.atLeast) &&
    (range.atMost === undefined || value <= range.atMost);
  if (!ok) {
    const bounds = [
      range.above !== undefined ? `> ${range.above}` : '',
      range.atLeast !== undefined ? `>= ${range.atLeast}` : '',
      range.atMost !== undefined ? `<= ${range.atMost}` : '',
    ].filter(Boolean);
    throw new SpecError(`${layer}: ${arg} must be a finite number${bounds.length ? ` ${bounds.join(' and ')}` : ''}, got ${show(value)}`);
  }
  return value;
}

/**
 * `layer 'block1.conv1'` (or `layer (top level)`), for build-time messages.
 *
 * @example throw new SpecError(`${where(ctx, 'flatten')}: input has rank 1`);
 */
export function where(ctx: Scoped, layer: string): string {
  return ctx.scopeName ? `${layer} '${ctx.scopeName}'` : `${layer} (top level)`;
}

/**
 * Require input `x` to have `rank` dimensions and, where `expected` gives a
 * number, that exact size; a SpecError naming the layer and its scope otherwise.
 *
 * @example expectInput(ctx, 'dense', x, [undefined, 16], '[B, inFeatures=16]')
 */
export function expectInput(ctx: Scoped, layer: string, x: Value, expected: readonly (number | undefined)[], meaning: string): void {
  const fits = x.rank === expected.length && expected.every((d, i) => d === undefined || x.shape[i] === d);
  if (!fits) throw new SpecError(`${where(ctx, layer)}: input has shape ${formatShape(x.shape)}, expected ${meaning}`);
}

/**
 * A per-axis pair for 2-D layers: one integer for both axes, or `[h, w]`,
 * each at least `min` (1 for kernels and strides, 0 for padding).
 *
 * @example pair('conv2d', 'kernel', 3, 1) // [3, 3]
 */
export function pair(layer: string, arg: string, value: unknown, min: number): [number, number] {
  const values = typeof value === 'number' ? [value, value] : value;
  const ok = Array.isArray(values) && values.length === 2 && values.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= min);
  if (!ok) {
    const what = min === 0 ? 'a non-negative integer' : 'a positive integer';
    throw new SpecError(`${layer}: ${arg} must be ${what} or a pair [h, w] of them, got ${JSON.stringify(value)}`);
  }
  return [values[0] as number, values[1] as number];
}
