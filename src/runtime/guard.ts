import { TwnnError } from '../ir/errors.js';
import type { Tensor } from '../ir/tensor.js';
import type { OnnxTypes } from '../onnx/proto.js';

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
    return [`${label} diverged (non-finite residual) for sample${bad.length > 1 ? 's' : ''} ${sampleList(bad)}`];
  });
  if (failures.length === 0) return;
  throw new TwnnError(`${where}: the fixed-point iteration of ${failures.join('; ')}; its outputs are not a prediction`);
}

/** A forward fixed-point iterator's stopping rule, as its `twnn.loop:<node>` metadata records it. */
export interface RegionLimits {
  region: string;
  tol: number;
  maxIter: number;
}

const LOOP_KEY = 'twnn.loop:';

/**
 * The forward iterators of a model (metadata_props `twnn.loop:<node>` entries
 * with role `forward`), in metadata order. Entries that are not twnn's JSON,
 * or lack a region, tol or maxIter, are skipped: a foreign model has none.
 *
 * @example regionLimits(parseModel(bytes, 'model.onnx')) // [{ region: 'region1', tol: 0.001, maxIter: 300 }]
 */
export function regionLimits(model: OnnxTypes.IModelProto): RegionLimits[] {
  return (model.metadataProps ?? []).flatMap((p) => {
    if (!p.key?.startsWith(LOOP_KEY)) return [];
    let config: Record<string, unknown>;
    try {
      config = JSON.parse(p.value ?? '') as Record<string, unknown>;
    } catch {
      return [];
    }
    const { role, region, tol, maxIter } = config ?? {};
    // 'forward' is what models exported before the Loops were named by role (`region1/iterate`) say.
    if ((role !== 'iterate' && role !== 'forward') || typeof region !== 'string' || typeof tol !== 'number' || typeof maxIter !== 'number') return [];
    return [{ region, tol, maxIter }];
  });
}

/** A region's per-sample sweep counts from a model's outputs, with its limits. */
export interface RegionIterations extends RegionLimits {
  iterations: Tensor;
  residual?: Tensor;
}

/**
 * Each region's per-sample `iterations` (and `residual`) among `outputs`:
 * `iterations.<region>` where a model has several regions, the plain
 * `iterations` where it has one. Regions whose counts are not outputs (a
 * model with several regions and only the sums) are left out.
 *
 * @example regionIterations(outputs, regionLimits(model))[0].iterations.toNumbers() // [2, 2, 5]
 */
export function regionIterations(outputs: Readonly<Record<string, Tensor>>, regions: readonly RegionLimits[]): RegionIterations[] {
  return regions.flatMap((r) => {
    const suffix = regions.length === 1 && !outputs[`iterations.${r.region}`] ? '' : `.${r.region}`;
    const iterations = outputs[`iterations${suffix}`];
    if (!iterations) return [];
    const residual = outputs[`residual${suffix}`];
    return [{ ...r, iterations, ...(residual ? { residual } : {}) }];
  });
}

/**
 * One warning per region where some sample ran all `maxIter` sweeps without
 * its residual reaching `tol` (its output is the last sweep's, not a settled
 * fixed point), naming the region and the samples. Not an error: the output
 * may still be useful, and a user may raise maxIter or loosen tol.
 *
 * @example for (const w of unsettledWarnings(outputs, regionLimits(model), 'model.onnx')) console.warn(w);
 */
export function unsettledWarnings(outputs: Readonly<Record<string, Tensor>>, regions: readonly RegionLimits[], where: string): string[] {
  return regionIterations(outputs, regions).flatMap(({ region, tol, maxIter, iterations, residual }) => {
    if (!residual) return [];
    const res = residual.toNumbers();
    // The Loop compared in the residual's dtype: a float32 residual equal to float32(tol) settled.
    const limit = residual.dtype === 'float32' ? Math.fround(tol) : tol;
    const bad = iterations.toNumbers().flatMap((n, b) => (n >= maxIter && res[b] > limit ? [b] : []));
    if (bad.length === 0) return [];
    return [
      `${where}: region '${region}' ran all maxIter ${maxIter} sweeps without settling (residual > tol ${tol}) for ` +
        `sample${bad.length > 1 ? 's' : ''} ${sampleList(bad)} (${bad.length} of ${iterations.size}); ` +
        (bad.length > 1 ? "their outputs are the last sweep's, not fixed points" : "its output is the last sweep's, not a fixed point"),
    ];
  });
}

function sampleList(samples: readonly number[]): string {
  return samples.slice(0, 10).join(', ') + (samples.length > 10 ? `, ... (${samples.length} in all)` : '');
}
