import { TwnnError } from '../ir/errors.js';
import type { Tensor } from '../ir/tensor.js';

/**
 * DESIGN §1's guard on a model's outputs: a fixed-point iterator whose
 * residual went non-finite has no prediction, so a residual output with a
 * NaN or ±Infinity is an error naming the region and the samples, never a
 * returned `y`. Per-region outputs (`residual.<region>`, present when a model
 * has several regions) name their region; a lone `residual` is named after
 * `regions` (the model's region names, e.g. from its manifest) when given.
 * Models without a residual output pass.
 *
 * @example checkFixedPoint(await session.run({ x }), 'model.onnx', ['region1']);
 */
export function checkFixedPoint(outputs: Readonly<Record<string, Tensor>>, where: string, regions: readonly string[] = []): void {
  const perRegion = Object.keys(outputs).filter((k) => k.startsWith('residual.')).sort();
  // The aggregate `residual` is the worst region's: checked alone only when no region has its own.
  const checked: [label: string, residual: Tensor][] = perRegion.length > 0
    ? perRegion.map((k) => [`region '${k.slice('residual.'.length)}'`, outputs[k]])
    : outputs.residual
      ? [[regions.length === 0 ? 'a region' : `region${regions.length > 1 ? 's' : ''} ${regions.map((r) => `'${r}'`).join(', ')}`, outputs.residual]]
      : [];
  const failures = checked.flatMap(([label, residual]) => {
    const bad = residual.toNumbers().flatMap((r, b) => (Number.isFinite(r) ? [] : [b]));
    if (bad.length === 0) return [];
    const shown = bad.slice(0, 10).join(', ') + (bad.length > 10 ? `, ... (${bad.length} in all)` : '');
    return [`${label} diverged (non-finite residual) for sample${bad.length > 1 ? 's' : ''} ${shown}`];
  });
  if (failures.length === 0) return;
  throw new TwnnError(`${where}: the fixed-point iteration of ${failures.join('; ')}; its outputs are not a prediction`);
}
