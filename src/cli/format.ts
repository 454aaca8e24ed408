import { formatShape } from '../ir/shape.js';
import type { Tensor } from '../ir/tensor.js';

/** Above this many elements, a float tensor is shown with `...` (numpy's style). */
export const FLOAT_PRINT_LIMIT = 64;
/** Integer tensors (`iterations` per sample) are shown whole up to this many elements. */
export const INT_PRINT_LIMIT = 1024;
/** Elements kept at each end of a truncated axis. */
const EDGE = 3;

/**
 * One output for the terminal: a `name: dtype [shape]` line, then its values
 * as nested brackets (truncated for big tensors).
 *
 * @example formatOutput('y', Tensor.fromNumbers('float32', [1, 1], [0.25])) // 'y: float32 [1,1]\n  [[0.25]]'
 */
export function formatOutput(name: string, t: Tensor): string {
  const isInt = t.dtype === 'int64' || t.dtype === 'int32' || t.dtype === 'uint8' || t.dtype === 'bool';
  const truncate = t.size > (isInt ? INT_PRINT_LIMIT : FLOAT_PRINT_LIMIT);
  const values = formatValues(t, truncate);
  const note = truncate ? ` (${t.size} elements, showing ${EDGE} at each end of every axis; --json or --output for all)` : '';
  return `${name}: ${t.dtype} ${formatShape(t.shape)}${note}\n${indent(values, '  ')}`;
}

/**
 * A tensor's values as nested brackets, like numpy's repr: rows on their own
 * lines, `...` in place of the middle of each long axis when `truncate`.
 *
 * @example formatValues(Tensor.fromNumbers('int64', [2], [2, 3]), false) // '[2, 3]'
 */
export function formatValues(t: Tensor, truncate: boolean): string {
  const cell = (i: number) => formatNumber(t, i);
  const rec = (axis: number, offset: number, stride: number): string => {
    if (t.shape.length === 0) return cell(0);
    const n = t.shape[axis];
    const inner = stride / (n || 1);
    const picks = truncate && n > 2 * EDGE ? [...range(0, EDGE), -1, ...range(n - EDGE, n)] : range(0, n);
    const parts = picks.map((k) => (k < 0 ? '...' : axis === t.shape.length - 1 ? cell(offset + k) : rec(axis + 1, offset + k * inner, inner)));
    if (axis === t.shape.length - 1) return `[${parts.join(', ')}]`;
    const sep = `,${'\n'.repeat(t.shape.length - axis - 1)}`;
    // Every line after the first sits one column right, under the opening bracket.
    const body = parts.join(sep).split('\n').map((l, i) => (i === 0 || !l ? l : ` ${l}`));
    return `[${body.join('\n')}]`;
  };
  const total = t.shape.reduce((a, b) => a * b, 1);
  return rec(0, 0, total);
}

/** A value with 6 significant digits (floats) or exactly (integers). */
function formatNumber(t: Tensor, i: number): string {
  const v = t.data[i];
  if (typeof v === 'bigint') return v.toString();
  if (t.dtype === 'bool') return v ? 'true' : 'false';
  if (t.dtype !== 'float32' && t.dtype !== 'float64') return String(v);
  if (!Number.isFinite(v)) return String(v);
  return String(Number(v.toPrecision(6)));
}

/**
 * Outputs as a JSON-ready object: dtype, shape and the full nested data
 * (int64 as numbers, or strings beyond 2^53).
 *
 * @example JSON.stringify(outputsToJson({ y })) // '{"y":{"dtype":"float32","shape":[1],"data":[0.5]}}'
 */
export function outputsToJson(outputs: Readonly<Record<string, Tensor>>): Record<string, { dtype: string; shape: number[]; data: unknown }> {
  const result: Record<string, { dtype: string; shape: number[]; data: unknown }> = {};
  for (const [name, t] of Object.entries(outputs)) result[name] = { dtype: t.dtype, shape: [...t.shape], data: nestedData(t) };
  return result;
}

/**
 * `outputsToJson` as text: one output per line, each on a single line.
 *
 * @example process.stdout.write(outputsJsonText({ y }));
 */
export function outputsJsonText(outputs: Readonly<Record<string, Tensor>>): string {
  const entries = Object.entries(outputsToJson(outputs)).map(([name, v]) => `  ${JSON.stringify(name)}: ${JSON.stringify(v)}`);
  return `{\n${entries.join(',\n')}\n}\n`;
}

function nestedData(t: Tensor): unknown {
  const value = (i: number): unknown => {
    const v = t.data[i];
    if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
    if (t.dtype === 'bool') return v !== 0;
    // JSON has no NaN/Infinity; spell them as strings rather than emit invalid JSON.
    return Number.isFinite(v) ? v : String(v);
  };
  const rec = (axis: number, offset: number, stride: number): unknown => {
    if (axis === t.shape.length) return value(offset);
    const n = t.shape[axis];
    const inner = stride / (n || 1);
    return range(0, n).map((k) => rec(axis + 1, offset + k * inner, inner));
  };
  return rec(0, 0, t.size);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

function indent(text: string, pad: string): string {
  return text
    .split('\n')
    .map((l) => (l ? pad + l : l))
    .join('\n');
}
