/**
 * Lowering of a fixed-point region to an ONNX `Loop` (DESIGN §1).
 *
 * The sweep F maps the wormhole sources S_old to S_new (and the region output).
 * The first sweep runs with S = 0 — exactly the plain feed-forward network — in
 * the enclosing graph; the Loop (`<region>/iterate`, src/lower/settling-loop.ts)
 * then repeats F from S_1, per sample, until residual(S_new, S_old) <= tol or
 * maxIter sweeps ran:
 *
 *   S_1 = F(0);   S_{t+1} = F(S_t) (or Anderson's mix) while some sample is active
 *
 * A sample that never settles returns its best iterate (the sweep output with
 * the lowest residual it saw) unless the region asks for its last.
 *
 * Inference graphs carry the region output through the Loop (y comes from the
 * settling sweep, no extra work). Training graphs carry only S and, after the
 * Loop, run one more sweep at S* in the enclosing graph: it gives y = O(S*) and
 * keeps the intermediates that linearise F at S*, which the backward modes
 * (src/lower/adjoint.ts, src/lower/unrolled.ts) and the Jacobian penalty
 * (src/lower/jacobian.ts) differentiate.
 */
import { SpecError, type Graph, type Node, type Value } from '../ir/index.js';
import type { BuildContext, IteratorReport } from '../twnn/module.js';
import { adjointVjp } from './adjoint.js';
import { jacobianPenalty } from './jacobian.js';
import type { ResidualNorm } from './settle.js';
import { settlingLoop, solverFields, type Solver, type SweepMode } from './settling-loop.js';
import { unrolledTraining } from './unrolled.js';

export type { ResidualNorm } from './settle.js';
export type { Solver } from './settling-loop.js';

/** How the region is differentiated. */
export type BackwardMode = { mode: 'implicit' } | { mode: 'unrolled' } | { mode: 'phantom'; k: number };

/** What `twnn run`/`eval`/`train` do about samples that reach maxIter unsettled. */
export type OnMaxIter = 'warn' | 'error';

/** One sweep: given the previous sources (undefined for the first, zero-state sweep), emit into `ctx.graph`. */
export type Sweep = (sOld: readonly Value[] | undefined) => { sources: Value[]; output: Value };

export interface FixedPointConfig {
  region: string;
  tol: number;
  maxIter: number;
  minIter: number;
  norm: ResidualNorm;
  solver: Solver;
  /** What an unsettled sample returns: its best iterate (lowest residual) or its last. */
  returnIterate: 'best' | 'last';
  onMaxIter: OnMaxIter;
  backward: BackwardMode;
  backwardTol: number;
  backwardMaxIter: number;
  /** How the adjoint (and tangent) iteration's step is measured against backwardTol; `relative` is to the right-hand side ‖ḡ‖. */
  backwardNorm: ResidualNorm;
  backwardSolver: Solver;
  /** γ of the Jacobian penalty γ·‖∂F/∂S‖²_F/d added to the training loss (0: none). */
  jacobianPenalty: number;
  /** Which samples each Loop step sweeps (SettlingLoopSpec.sweeps). */
  sweeps: SweepMode;
  /** Hoist loop invariants out of the Loop bodies (default true; a build override, to measure what it saves). */
  hoistInvariants?: boolean;
  wormholes: readonly { from: number; to: number; gateBias: number; projection: string }[];
  /** What each wormhole source state is (`B2.h`: block B2's output), to name the Loops' carried values. */
  stateNames?: readonly string[];
}

/**
 * An inference-mode region's sweep, replayable after the build: forward-mode
 * differentiation (src/lower/jvp.ts) linearises the sweep at the Loop's S*.
 */
export interface RegionSweep {
  /** Emit the sweep at the given sources into the build context's current graph (parameters already declared). */
  replay: Sweep;
  /** The region's final states S* (the Loop's outputs, or the best iterates picked after it). */
  sStar: Value[];
  /** The region output, as the model reads it. */
  output: Value;
  config: FixedPointConfig;
}

const regionSweeps = new WeakMap<Node, RegionSweep>();

/**
 * The replayable sweep of the region whose inference-mode forward Loop is
 * `loopNode`, or undefined for any other node.
 *
 * @example const rs = regionSweep(node); if (rs) rs.replay(rs.sStar);
 */
export function regionSweep(loopNode: Node): RegionSweep | undefined {
  return regionSweeps.get(loopNode);
}

/** `implicit`, `unrolled` or `phantom:k`, as written in configs and metadata. */
export function backwardLabel(b: BackwardMode): string {
  return b.mode === 'phantom' ? `phantom:${b.k}` : b.mode;
}

/**
 * The forward iterator's configuration as metadata_props and the manifest record it.
 *
 * @example iteratorMetadata(config).tol // 0.001
 */
export function iteratorMetadata(config: FixedPointConfig): Record<string, unknown> {
  return {
    tol: config.tol,
    maxIter: config.maxIter,
    minIter: config.minIter,
    norm: config.norm,
    ...solverFields(config.solver),
    returnIterate: config.returnIterate,
    onMaxIter: config.onMaxIter,
    wormholes: config.wormholes,
    backward: backwardLabel(config.backward),
    backwardTol: config.backwardTol,
    backwardMaxIter: config.backwardMaxIter,
    backwardNorm: config.backwardNorm,
    ...solverFields(config.backwardSolver, 'backward'),
    jacobianPenalty: config.jacobianPenalty,
    sweeps: config.sweeps,
  };
}

/**
 * Emit the region's fixed-point iteration into `ctx.graph`, report it to the
 * build context, and return the region output.
 *
 * @example const y = lowerFixedPoint(ctx, sweep, config);
 */
export function lowerFixedPoint(ctx: BuildContext, sweep: Sweep, config: FixedPointConfig): Value {
  const g = ctx.graph;
  if (g !== g.root) throw new SpecError(`region '${config.region}': regions cannot be nested inside another region's blocks`);
  if (config.backward.mode === 'unrolled' && config.solver.kind !== 'plain') {
    throw new SpecError(`region '${config.region}': backward 'unrolled' replays plain sweeps; it cannot differentiate the ${config.solver.kind} solver (use backward 'implicit')`);
  }
  const buffersBefore = ctx.bufferUpdates.size;
  const first = sweep(undefined);
  if (ctx.bufferUpdates.size > buffersBefore) {
    // Batch statistics would couple the samples' fixed points (DESIGN §1); without this check the
    // second sweep fails with a bare "updated twice".
    const names = [...ctx.bufferUpdates.keys()].slice(buffersBefore).join(', ');
    throw new SpecError(
      `region '${config.region}': its blocks normalise with batch statistics in training mode (buffers ${names}), which would couple ` +
        "the samples' fixed points; normalise per sample inside regions (LayerNorm, GroupNorm) and keep BatchNorm in the stem and head",
    );
  }
  const meta = iteratorMetadata(config);
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
    // A training graph differentiates this Loop through its captures (the adjoint's or the unrolled
    // replay's VJP rule): they must stay the parameters and the region input the sweep reads, not
    // values hoisted from them, whose gradient that rule cannot see.
    hoistInvariants: ctx.training ? false : config.hoistInvariants,
    keepBest: config.returnIterate === 'best',
    config: meta,
    doc:
      `twnn fixed point of region '${config.region}' (forward sweeps): tol ${config.tol} (${config.norm}), maxIter ${config.maxIter}, ` +
      `${config.solver.kind} iteration, wormholes ${config.wormholes.map((w) => `${w.from}->${w.to}`).join(', ')}`,
  };
  const sweepIn = (b: Graph, sOld: readonly Value[]) => ctx.withGraph(b, () => ctx.rebuild(() => sweep(sOld)));

  if (!ctx.training) {
    const fp = settlingLoop(g, {
      ...iterate,
      riders: [first.output],
      map: (b, sOld) => {
        const next = sweepIn(b, sOld);
        return { next: next.sources, riders: [next.output] };
      },
    });
    ctx.reportIterator({ region: config.region, iterations: fp.iterations, residual: fp.residual, unsettled: fp.unsettled, config: { role: 'iterate', region: config.region, ...meta } });
    const path = ctx.scopePath;
    regionSweeps.set(fp.node, { replay: (s) => ctx.replay(path, () => sweep(s)), sStar: fp.states, output: fp.riders[0], config });
    return fp.riders[0];
  }

  if (config.backward.mode === 'unrolled') return unrolledTraining(ctx, sweep, first, config, iterate);

  const fp = settlingLoop(g, { ...iterate, map: (b, sOld) => ({ next: sweepIn(b, sOld).sources }) });
  const sStar = fp.states;
  // One sweep at S*: the output y = O(S*) and the linearisation point of F.
  const start = g.nodes.length;
  const atFixedPoint = g.scope('at_fixed_point', () => ctx.rebuild(() => sweep(sStar)));
  const sweepNodes = g.nodes.slice(start);
  const report: IteratorReport = {
    region: config.region,
    iterations: fp.iterations,
    residual: fp.residual,
    unsettled: fp.unsettled,
    config: { role: 'iterate', region: config.region, ...meta },
    ...(config.jacobianPenalty > 0 ? { penalty: (key: Value) => jacobianPenalty(g, { sweepNodes, sStar, sNew: atFixedPoint.sources, weight: config.jacobianPenalty, key, region: config.region }) } : {}),
  };
  fp.node.customVjp = adjointVjp({ sweepNodes, sStar, sNew: atFixedPoint.sources, stateOutputs: fp.stateOutputs, config, report });
  ctx.reportIterator(report);
  return atFixedPoint.output;
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
      if (n.loopConfig) out[`twnn.loop:${n.name}`] = JSON.stringify({ ...n.loopConfig, node: n.name });
      n.subgraphs().forEach(visit);
    }
  };
  visit(graph);
  return out;
}
