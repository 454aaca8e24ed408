// The per-sample iteration and residual outputs of the model contract
// (docs/DESIGN.md §3): model.onnx's `iterations` / `residual`, train.onnx's
// `iterations` / `iterations_backward`.
//
// A network without fixed-point regions is one feed-forward sweep per sample:
// iterations = 1, residual = 0, and its backward is one reverse sweep, so
// iterations_backward = 1. With regions, the counts add up over the regions and
// the residual is the worst region's.
import { type Graph, type Value } from '../ir/index.js';
import { add, cast, constantOfShape, equal, expand, less, not, or, shapeOf, where } from '../ops/index.js';
import type { IteratorReport } from '../twnn/iterator.js';

/** Named per-sample outputs, in output order. */
export type NamedOutputs = [name: string, value: Value][];

/**
 * `iterations` (int64 [B]), `residual` ([B], `x`'s dtype) and `unsettled`
 * (int64 [B], `unsettledCounts`) for the reports of a build, plus
 * `iterations.<region>` / `residual.<region>` / `unsettled.<region>` for each
 * region when there are several.
 *
 * @example for (const [name, v] of iterationOutputs(g, x, ctx.iterators)) g.output(name, v);
 */
export function iterationOutputs(g: Graph, x: Value, reports: readonly IteratorReport[]): NamedOutputs {
  if (reports.length === 0) {
    const batch = shapeOf(g, x, 0, 1);
    return [
      ['iterations', constantOfShape(g, batch, 1, 'int64')],
      ['residual', constantOfShape(g, batch, 0, x.dtype)],
      ['unsettled', constantOfShape(g, batch, 0, 'int64')],
    ];
  }
  const outputs: NamedOutputs = [
    ['iterations', totalIterations(g, x, reports)],
    ['residual', reports.map((r) => r.residual).reduce((a, b) => nanMax(g, a, b))],
    ['unsettled', unsettledCounts(g, x, reports)],
  ];
  if (reports.length > 1) {
    for (const r of reports) outputs.push([`iterations.${r.region}`, r.iterations], [`residual.${r.region}`, r.residual], [`unsettled.${r.region}`, unsettledCounts(g, x, [r])]);
  }
  return outputs;
}

/**
 * `iterations` (int64 [B]): forward sweeps per sample summed over the
 * regions, 1 without regions.
 *
 * @example g.output('iterations', totalIterations(g, x, ctx.iterators));
 */
export function totalIterations(g: Graph, x: Value, reports: readonly IteratorReport[]): Value {
  if (reports.length === 0) return constantOfShape(g, shapeOf(g, x, 0, 1), 1, 'int64');
  return reports.map((r) => r.iterations).reduce((a, b) => add(g, a, b));
}

/**
 * `iterations_backward` (int64 [B]): one reverse sweep per sample without
 * regions, else the sum over regions of the adjoint iterations each region's
 * VJP reported (its forward iterations where it reported none: an unrolled
 * backward replays every forward sweep). A scalar count is broadcast over the batch.
 *
 * @example g.output('iterations_backward', backwardIterations(g, x, ctx.iterators));
 */
export function backwardIterations(g: Graph, x: Value, reports: readonly IteratorReport[]): Value {
  const batch = shapeOf(g, x, 0, 1);
  if (reports.length === 0) return constantOfShape(g, batch, 1, 'int64');
  const perRegion = reports.map((r) => {
    const count = r.backwardIterations ?? r.iterations;
    return count.rank === 0 ? expand(g, count, batch) : count;
  });
  return perRegion.reduce((a, b) => add(g, a, b));
}

/**
 * `unsettled` (int64 [B]): in how many regions each sample ran out of sweeps
 * without settling (0 everywhere without regions).
 *
 * @example g.output('unsettled', unsettledCounts(g, x, ctx.iterators));
 */
export function unsettledCounts(g: Graph, x: Value, reports: readonly IteratorReport[]): Value {
  const counts = reports.flatMap((r) => (r.unsettled ? [cast(g, r.unsettled, 'int64')] : []));
  if (counts.length === 0) return constantOfShape(g, shapeOf(g, x, 0, 1), 0, 'int64');
  return counts.reduce((a, b) => add(g, a, b));
}

/** max(a, b) that keeps a NaN from either side, so a diverged region stays visible to the runtime's guard. */
function nanMax(g: Graph, a: Value, b: Value): Value {
  const bIsNaN = not(g, equal(g, b, b));
  return where(g, or(g, less(g, a, b), bIsNaN), b, a);
}
