// A region's sweep as its lowering sees it (RegionSweeps, src/twnn/iterator.ts):
// the build context's rebuild/replay bookkeeping stays here, behind four calls.
import { SpecError, type Graph, type Value } from '../ir/index.js';
import type { FixedPointConfig, RegionSweeps, Sweep } from './iterator.js';
import type { BuildContext, CorrectionTerm } from './module.js';

/**
 * Run the region's first sweep (S = 0) in `ctx.graph` and return what its
 * lowering needs to emit the rest: the sweep at any state, in any graph,
 * during the build or replayed after it.
 *
 * @example const y = lowerFixedPoint(regionSweeps(ctx, sweep, config.region), config);
 */
export function regionSweeps(ctx: BuildContext, sweep: Sweep, region: string): RegionSweeps {
  const graph = ctx.graph;
  if (graph !== graph.root) throw new SpecError(`region '${region}': regions cannot be nested inside another region's blocks`);
  const buffersBefore = ctx.bufferUpdates.size;
  const gatesBefore = ctx.skipGates.length;
  const first = sweep(undefined);
  const firstGates = ctx.skipGates.slice(gatesBefore);
  if (ctx.bufferUpdates.size > buffersBefore) {
    // Batch statistics would couple the samples' fixed points (docs/DESIGN.md §1); without this check the
    // second sweep fails with a bare "updated twice".
    const names = [...ctx.bufferUpdates.keys()].slice(buffersBefore).join(', ');
    throw new SpecError(
      `region '${region}': its blocks normalise with batch statistics in training mode (buffers ${names}), which would couple ` +
        "the samples' fixed points; normalise per sample inside regions (LayerNorm, GroupNorm) and keep BatchNorm in the stem and head",
    );
  }
  const path = ctx.scopePath;
  return {
    graph,
    training: ctx.training,
    correctionTerms: ctx.training ? ctx.correctionTerms : 0,
    first,
    sweep: (sOld: readonly Value[], into: Graph) => ctx.withGraph(into, () => ctx.rebuild(() => sweep(sOld))),
    replay: (sOld: readonly Value[], into: Graph) => ctx.withGraph(into, () => ctx.replay(path, () => sweep(sOld))),
    report: (r) => {
      ctx.reportIterator(r);
      // The gates at the fixed point, carried out of the Loop, are what the graph's skip outputs read.
      r.skipGates?.forEach((gate, i) => ctx.reportSkipGate({ ...firstGates[i], gate }));
    },
  };
}

/**
 * Lower a region through the context's `lowerRegion` (what twnn's graph
 * builders supply), or say how to get one.
 *
 * @example return lowerRegion(ctx, sweep, config);
 */
export function lowerRegion(ctx: BuildContext, sweep: Sweep, config: FixedPointConfig): Value {
  const term = ctx.correction;
  if (term) return correctionOutput(ctx, sweep, config.region, term);
  if (!ctx.lowerRegion) {
    throw new SpecError(
      `region '${config.region}': this BuildContext cannot lower regions; build models with buildInferenceGraph or exportModel ` +
        '(a BuildContext made by hand serves custom layers)',
    );
  }
  return ctx.lowerRegion(regionSweeps(ctx, sweep, config.region), config);
}

/**
 * A region in a fixed-point correction term's build: `phantomSteps` sweeps
 * from the term's detached iterate (which the region's own lowering kept),
 * reading this build's region input; their output is the region's.
 */
function correctionOutput(ctx: BuildContext, sweep: Sweep, region: string, term: CorrectionTerm): Value {
  const iterates = ctx.iterators.find((r) => r.region === region)?.correctionIterates?.[term.term - 1];
  if (!iterates) throw new SpecError(`region '${region}': fixed-point correction term ${term.term} has no iterate (the region's training build kept none)`);
  let states: readonly Value[] = iterates;
  let out = sweep(states);
  for (let k = 1; k < term.phantomSteps; k++) {
    states = out.sources;
    out = sweep(states);
  }
  return out.output;
}
