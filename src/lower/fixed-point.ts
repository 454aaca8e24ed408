/**
 * Lowering of a fixed-point region to an ONNX `Loop` (docs/DESIGN.md §1).
 *
 * The sweep F maps the wormhole sources S_old to S_new (and the region output).
 * The first sweep runs with S = 0 — exactly the plain feed-forward network — in
 * the enclosing graph; the Loop (`<region>/iterate`, src/lower/settling-loop.ts)
 * then repeats F from S_1, per sample, until residual(S_new, S_old) <= tol or
 * maxIter sweeps ran:
 *
 *   S_1 = F(0);   S_{t+1} = F(S_t) (or the solver's step) while some sample is active
 *
 * A sample that never settles returns its best iterate (the sweep output with
 * the lowest residual it saw) unless the region asks for its last.
 *
 * Inference graphs carry the region output through the Loop (y comes from the
 * settling sweep, no extra work). Training graphs carry only S and, after the
 * Loop, run one more sweep at S* in the enclosing graph: it gives y = O(S*) and
 * keeps the intermediates that linearise F at S*, which the backward modes
 * (registered in src/lower/backward-modes.ts) and the Jacobian penalty
 * (src/lower/jacobian.ts) differentiate.
 */
import { encodeIteratorSettings, LOOP_METADATA_PREFIX } from '../contract/iterator-record.js';
import type { ManifestIterator } from '../contract/manifest.js';
import type { Graph, Node, Value } from '../ir/index.js';
import type { FixedPointConfig, RegionSweeps, SweepResult } from '../twnn/iterator.js';
import { backwardModeFor } from './backward-modes.js';
import { correctionIterates } from './fp-correction.js';
import { budgetInputs } from './budget.js';
import { settlingLoop } from './settling-loop.js';

export type { BackwardMode, FixedPointConfig, OnMaxIter, ResidualNorm, Solver, Sweep } from '../twnn/iterator.js';

/**
 * An inference-mode region's sweep, replayable after the build: forward-mode
 * differentiation (src/lower/jvp.ts) linearises the sweep at the Loop's S*.
 */
export interface RegionSweep {
  /** Emit the sweep at the given sources into the build context's current graph (parameters already declared). */
  replay: (sOld: readonly Value[]) => SweepResult;
  /** The region's final states S* (the Loop's outputs, or the best iterates picked after it). */
  sStar: Value[];
  /** The region output, as the model reads it. */
  output: Value;
  config: FixedPointConfig;
}

const inferenceSweeps = new WeakMap<Node, RegionSweep>();

/**
 * The replayable sweep of the region whose inference-mode forward Loop is
 * `loopNode`, or undefined for any other node.
 *
 * @example const rs = regionSweep(node); if (rs) rs.replay(rs.sStar);
 */
export function regionSweep(loopNode: Node): RegionSweep | undefined {
  return inferenceSweeps.get(loopNode);
}

/** How a region's Loop gets its budget. */
export interface FixedPointLowering {
  /** Inference graphs: tol and maxIter are the graph inputs `tol.<region>` and `max_iter.<region>` (src/lower/budget.ts), not constants. */
  budgetInputs?: boolean;
}

/**
 * Emit the region's fixed-point iteration into `sweeps.graph`, report it
 * through `sweeps.report`, and return the region output. It builds only
 * through `sweeps` (src/twnn/iterator.ts), never the build context itself.
 *
 * @example const y = lowerFixedPoint(regionSweeps(ctx, sweep, config.region), config);
 */
export function lowerFixedPoint(sweeps: RegionSweeps, config: FixedPointConfig, lowering: FixedPointLowering = {}): Value {
  const g = sweeps.graph;
  const backward = backwardModeFor(config.backward);
  backward.check?.(config);
  const first = sweeps.first;
  const meta = encodeIteratorSettings(config);
  const iterate = {
    region: config.region,
    role: 'iterate' as const,
    initial: first.sources,
    ...(config.stateNames ? { stateNames: config.stateNames } : {}),
    maxTrip: config.maxIter - 1,
    settle: { tol: config.tol, minIter: config.minIter, norm: config.norm },
    startIters: 1,
    solver: config.solver,
    sweeps: config.sweeps,
    compactBelow: config.compactBelow,
    // A training graph differentiates this Loop through its captures (the adjoint's or the unrolled
    // replay's VJP rule): they must stay the parameters and the region input the sweep reads, not
    // values hoisted from them, whose gradient that rule cannot see.
    hoistInvariants: sweeps.training ? false : config.hoistInvariants,
    keepBest: config.returnIterate === 'best',
    config: meta,
    doc:
      `twnn fixed point of region '${config.region}' (forward sweeps): tol ${config.tol} (${config.norm}), maxIter ${config.maxIter}, ` +
      `${config.solver.kind} iteration, wormholes ${config.wormholes.map((w) => `${w.from}->${w.to}`).join(', ')}`,
  };
  if (!sweeps.training) {
    const budget = lowering.budgetInputs ? budgetInputs(g, config, first.sources[0].dtype) : undefined;
    // Skip gates ride along with the output, so the model reports each sample's gates at its fixed point.
    const fp = settlingLoop(g, {
      ...iterate,
      ...(budget ? { maxTrip: budget.maxTrip, settle: { ...iterate.settle, tol: budget.tol } } : {}),
      riders: [first.output, ...(first.gates ?? [])],
      map: (b, sOld) => {
        const next = sweeps.sweep(sOld, b);
        return { next: next.sources, riders: [next.output, ...(next.gates ?? [])] };
      },
    });
    const skipGates = fp.riders.slice(1);
    sweeps.report({
      region: config.region,
      iterations: fp.iterations,
      residual: fp.residual,
      unsettled: fp.unsettled,
      config: { role: 'iterate', region: config.region, ...meta },
      ...(skipGates.length > 0 ? { skipGates } : {}),
    });
    inferenceSweeps.set(fp.node, { replay: (s) => sweeps.replay(s, g), sStar: fp.states, output: fp.riders[0], config });
    return fp.riders[0];
  }

  const terms = sweeps.correctionTerms ?? 0;
  if (terms === 0) return backward.training(sweeps, config, iterate, config.backward);
  // A fixed-point correction (src/lower/fp-correction.ts) keeps intermediate iterates, found from the sweeps each sample ran.
  const keeping: RegionSweeps = {
    ...sweeps,
    report: (r) => {
      r.correctionIterates = correctionIterates(sweeps, config, r.iterations, terms);
      sweeps.report(r);
    },
  };
  return backward.training(keeping, config, iterate, config.backward);
}

/**
 * `twnn.loop:<Loop node name>` → the Loop's configuration as JSON, for every
 * twnn Loop (Node.loopConfig) in `graph` and its subgraphs, in graph order.
 *
 * @example serializeModel(g, { metadata: { ...common, ...loopMetadata(g) } });
 */
export function loopMetadata(graph: Graph): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (g: Graph) => {
    for (const n of g.nodes) {
      if (n.loopConfig) out[`${LOOP_METADATA_PREFIX}${n.name}`] = JSON.stringify({ ...n.loopConfig, node: n.name });
      n.subgraphs().forEach(visit);
    }
  };
  visit(graph);
  return out;
}

/**
 * The regions' forward iterators of a built graph, as the manifest lists
 * them: each `<region>/iterate` Loop's record, not the Loops nested in them
 * (a lazy working set's sweeps).
 *
 * @example buildManifest({ ..., iterators: iteratorRecordsOf(graph) });
 */
export function iteratorRecordsOf(graph: Graph): ManifestIterator[] {
  const out: ManifestIterator[] = [];
  const visit = (g: Graph) => {
    for (const n of g.nodes) {
      if (n.loopConfig?.role === 'iterate') out.push({ ...n.loopConfig, node: n.name } as ManifestIterator);
      n.subgraphs().forEach(visit);
    }
  };
  visit(graph);
  return out;
}
