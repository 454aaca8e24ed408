import { TwnnError } from '../common/errors.js';
import type { Tensor } from '../ir/tensor.js';
import type { OnnxTypes } from '../onnx/proto.js';
import { isIteratorRecord, iteratorRecords, loopRecordsOf, type IteratorRecord } from '../contract/iterator-record.js';

/**
 * docs/DESIGN.md §1's guard on a model's outputs: a fixed-point iterator whose
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

/** A forward fixed-point iterator's stopping rule and policy, as its iterator record (src/contract/iterator-record.ts) gives it. */
export type RegionLimits = Pick<IteratorRecord, 'region' | 'tol' | 'maxIter' | 'onMaxIter' | 'returnIterate'>;

/**
 * The forward iterators of a model (its `twnn.loop:` records with role
 * `iterate`), in metadata order; a foreign model has none.
 *
 * @example regionLimits(parseModel(bytes, 'model.onnx')) // [{ region: 'region1', tol: 0.001, maxIter: 300, onMaxIter: 'warn', returnIterate: 'best', ... }]
 */
export function regionLimits(model: OnnxTypes.IModelProto): RegionLimits[] {
  return [...loopRecordsOf(model.metadataProps).values()].filter(isIteratorRecord).map(limitsOf);
}

/**
 * The forward iterators among records already parsed, e.g. a manifest's
 * `iterators` list (the same records as the metadata); the rest are skipped.
 *
 * @example iteratorLimits(manifest.iterators).map((r) => r.region) // ['region1']
 */
export function iteratorLimits(records: readonly unknown[]): RegionLimits[] {
  return iteratorRecords(records).map(limitsOf);
}

function limitsOf({ region, tol, maxIter, onMaxIter, returnIterate }: IteratorRecord): RegionLimits {
  return { region, tol, maxIter, onMaxIter, returnIterate };
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

/** A region's samples that ran all maxIter sweeps with a finite residual above tol. */
export interface UnsettledSamples extends RegionLimits {
  /** How many. */
  count: number;
  /** Their indices (batch rows, or data-set indices once added up), ascending; at most UNSETTLED_LISTED when added up. */
  samples: number[];
  /** How many samples were looked at. */
  of: number;
}

/** Sample indices an evaluation keeps per region (the count goes on). */
export const UNSETTLED_LISTED = 100;

/**
 * Per region, the samples of a batch that ran out of sweeps unsettled, as
 * the graph says itself: `unsettled.<region>`, or `unsettled` with one region
 * (model.onnx, grad.onnx and train.onnx all output it). Models exported
 * before model.onnx had that output are read off `iterations` >= maxIter with
 * a finite `residual` above tol (per region as `regionIterations` finds
 * them). Regions with neither are left out; a non-finite residual is
 * `checkFixedPoint`'s.
 *
 * @example unsettledSamples(outputs, regionLimits(model)) // [{ region: 'region1', ..., count: 2, samples: [1, 3], of: 4 }]
 */
export function unsettledSamples(outputs: Readonly<Record<string, Tensor>>, regions: readonly RegionLimits[]): UnsettledSamples[] {
  const counted = new Map(regionIterations(outputs, regions).map((r) => [r.region, r]));
  return regions.flatMap((r) => {
    const flags = outputs[`unsettled.${r.region}`] ?? (regions.length === 1 ? outputs.unsettled : undefined);
    if (flags) {
      const samples = flags.toNumbers().flatMap((n, b) => (n > 0 ? [b] : []));
      return [{ ...r, count: samples.length, samples, of: flags.size }];
    }
    // An export from before model.onnx output `unsettled`: the Loop's own test, redone.
    const c = counted.get(r.region);
    if (!c?.residual) return [];
    const res = c.residual.toNumbers();
    // The Loop compared in the residual's dtype: a float32 residual equal to float32(tol) settled.
    const limit = c.residual.dtype === 'float32' ? Math.fround(r.tol) : r.tol;
    const samples = c.iterations.toNumbers().flatMap((n, b) => (n >= r.maxIter && Number.isFinite(res[b]) && res[b] > limit ? [b] : []));
    return [{ ...r, count: samples.length, samples, of: c.iterations.size }];
  });
}

/**
 * Add a batch's unsettled samples into running totals (one entry per region,
 * in the order met), turning batch row b into data-set index `indexOf(b)`
 * (default: b itself); at most UNSETTLED_LISTED indices are kept per region.
 *
 * @example for (const { x } of batches) { addUnsettled(totals, unsettledSamples(await session.run({ x }), regions), (b) => seen + b); seen += x.shape[0]; }
 */
export function addUnsettled(totals: UnsettledSamples[], batch: readonly UnsettledSamples[], indexOf: (row: number) => number = (b) => b): void {
  for (const u of batch) {
    let total = totals.find((t) => t.region === u.region);
    if (!total) {
      total = { ...u, count: 0, samples: [], of: 0 };
      totals.push(total);
    }
    total.count += u.count;
    total.of += u.of;
    total.samples = [...total.samples, ...u.samples.map(indexOf)].sort((a, b) => a - b).slice(0, UNSETTLED_LISTED);
  }
}

/**
 * One warning per region with onMaxIter 'warn' where some sample ran all
 * `maxIter` sweeps without its residual reaching `tol`, naming the region and
 * the samples and saying what they returned (their best iterate, or the last
 * sweep's). Not an error: the output may still be useful, and a user may
 * raise maxIter or loosen tol. Regions with onMaxIter 'error' are `checkSettled`'s.
 *
 * @example for (const w of unsettledWarnings(outputs, regionLimits(model), 'model.onnx')) console.warn(w);
 */
export function unsettledWarnings(outputs: Readonly<Record<string, Tensor>>, regions: readonly RegionLimits[], where: string): string[] {
  return unsettledSamples(outputs, regions).flatMap((u) => (u.count > 0 && u.onMaxIter === 'warn' ? [`${where}: ${unsettledPhrase(u)}; ${outcome(u)}`] : []));
}

/**
 * A region's unsettled samples as `twnn eval` prints them: how many of how
 * many, which, and what their outputs are.
 *
 * @example unsettledSummary(u) // "region2: 1 of 10000 samples ran all maxIter 300 sweeps without settling (residual > tol 0.001): sample 1014; its output is its best iterate (lowest residual), not a fixed point"
 */
export function unsettledSummary(u: UnsettledSamples): string {
  return (
    `${u.region}: ${u.count} of ${u.of} samples ran all maxIter ${u.maxIter} sweeps without settling (residual > tol ${u.tol}): ` +
    `sample${u.count > 1 ? 's' : ''} ${sampleList(u.samples, u.count)}; ${outcome(u)}`
  );
}

/**
 * Throw for the regions with onMaxIter 'error' that have unsettled samples: a
 * TwnnError naming `where`, each region, its samples, maxIter and tol, and
 * how to change that. Regions with onMaxIter 'warn' pass.
 *
 * @example checkSettled(unsettledSamples(outputs, regionLimits(model)), 'model.onnx');
 */
export function checkSettled(found: readonly UnsettledSamples[], where: string): void {
  const failed = found.filter((u) => u.count > 0 && u.onMaxIter === 'error');
  if (failed.length === 0) return;
  const names = failed.map((u) => `'${u.region}'`).join(', ');
  throw new TwnnError(
    `${where}: ${failed.map(unsettledPhrase).join('; ')}; iterate.onMaxIter is 'error' for region${failed.length > 1 ? 's' : ''} ${names}: ` +
      "raise iterate.maxIter, loosen iterate.tol, or set iterate.onMaxIter: 'warn' to accept such outputs",
  );
}

/** "region 'r' ran all maxIter 5 sweeps without settling (residual > tol 0.001) for samples 1, 3 (2 of 4)" */
function unsettledPhrase(u: UnsettledSamples): string {
  return (
    `region '${u.region}' ran all maxIter ${u.maxIter} sweeps without settling (residual > tol ${u.tol}) for ` +
    `sample${u.count > 1 ? 's' : ''} ${sampleList(u.samples, u.count)} (${u.count} of ${u.of})`
  );
}

/** What unsettled samples returned. */
function outcome(u: UnsettledSamples): string {
  if (u.returnIterate === 'best') {
    return u.count > 1 ? 'their outputs are their best iterates (lowest residual), not fixed points' : 'its output is its best iterate (lowest residual), not a fixed point';
  }
  return u.count > 1 ? "their outputs are the last sweep's, not fixed points" : "its output is the last sweep's, not a fixed point";
}

/** The first ten samples, then how many in all (`total`, when only some are listed). */
function sampleList(samples: readonly number[], total = samples.length): string {
  return samples.slice(0, 10).join(', ') + (total > 10 ? `, ... (${total} in all)` : '');
}

/**
 * One warning per float output holding NaN or ±Infinity: how many of its
 * elements, and the first one's index.
 *
 * @example nonFiniteWarnings({ y: Tensor.fromNumbers('float32', [2], [1, NaN]) }, 'm.onnx') // ["m.onnx: output 'y' holds NaN or infinity in 1 of 2 elements (first at flat index 1)"]
 */
export function nonFiniteWarnings(outputs: Readonly<Record<string, Tensor>>, where: string): string[] {
  return Object.entries(outputs).flatMap(([name, t]) => {
    if (t.dtype !== 'float32' && t.dtype !== 'float64') return [];
    const values = t.toNumbers();
    let count = 0;
    let first = -1;
    values.forEach((v, i) => {
      if (Number.isFinite(v)) return;
      count++;
      if (first < 0) first = i;
    });
    return count === 0 ? [] : [`${where}: output '${name}' holds NaN or infinity in ${count} of ${values.length} elements (first at flat index ${first})`];
  });
}

