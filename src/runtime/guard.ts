import { TwnnError } from '../ir/errors.js';
import type { Tensor } from '../ir/tensor.js';

/**
 * DESIGN §1's guard on a model's outputs: a fixed-point iterator whose
 * residual went non-finite has no prediction, so a `residual` output with a
 * NaN or ±Infinity is an error naming the samples, never a returned `y`.
 * Models without a `residual` output pass.
 *
 * @example checkFixedPoint(await session.run({ x }), 'model.onnx');
 */
export function checkFixedPoint(outputs: Readonly<Record<string, Tensor>>, where: string): void {
  const residual = outputs.residual;
  if (!residual) return;
  const bad = residual.toNumbers().flatMap((r, b) => (Number.isFinite(r) ? [] : [b]));
  if (bad.length === 0) return;
  const shown = bad.slice(0, 10).join(', ') + (bad.length > 10 ? `, ... (${bad.length} in all)` : '');
  throw new TwnnError(`${where}: the fixed-point iteration diverged (non-finite residual) for sample${bad.length > 1 ? 's' : ''} ${shown}; its outputs are not a prediction`);
}
