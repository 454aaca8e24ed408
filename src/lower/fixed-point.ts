/**
 * Lowering of a fixed-point region to an ONNX `Loop` (DESIGN §1).
 *
 * The sweep F maps the wormhole sources S_old to S_new (and the region output).
 * The first sweep runs with S = 0 — exactly the plain feed-forward network — in
 * the enclosing graph; the Loop then repeats F from S_1, per sample, until
 * residual(S_new, S_old) <= tol or maxIter sweeps ran:
 *
 *   S_1 = F(0);   S_{t+1} = F(S_t) while some sample is active
 *
 * Inference graphs carry the region output through the Loop (y comes from the
 * last sweep, no extra work). Training graphs carry only S and, after the
 * Loop, run one more sweep at S* in the enclosing graph: it gives y = O(S*) and
 * keeps the intermediates that linearise F at S*, which the backward modes
 * (src/lower/adjoint.ts, src/lower/unrolled.ts) differentiate.
 */
import { SpecError, type Node, type Value } from '../ir/index.js';
import { loop } from '../ops/index.js';
import type { BuildContext, IteratorReport } from '../twnn/module.js';
import { adjointVjp } from './adjoint.js';
import { initialSettleState, settleStep, type ResidualNorm } from './settle.js';
import { unrolledTraining } from './unrolled.js';

export type { ResidualNorm } from './settle.js';

/** How the region is differentiated. */
export type BackwardMode = { mode: 'implicit' } | { mode: 'unrolled' } | { mode: 'phantom'; k: number };

/** One sweep: given the previous sources (undefined for the first, zero-state sweep), emit into `ctx.graph`. */
export type Sweep = (sOld: readonly Value[] | undefined) => { sources: Value[]; output: Value };

export interface FixedPointConfig {
  region: string;
  tol: number;
  maxIter: number;
  minIter: number;
  norm: ResidualNorm;
  backward: BackwardMode;
  backwardTol: number;
  backwardMaxIter: number;
  /** How the adjoint (and tangent) iteration's step is measured against backwardTol. */
  backwardNorm: ResidualNorm;
  wormholes: readonly { from: number; to: number; gateBias: number; projection: string }[];
}

/**
 * An inference-mode region's sweep, replayable after the build: forward-mode
 * differentiation (src/lower/jvp.ts) linearises the sweep at the Loop's S*.
 */
export interface RegionSweep {
  /** Emit the sweep at the given sources into the build context's current graph (parameters already declared). */
  replay: Sweep;
  /** How many state tensors the Loop carries first; its next output is the region output. */
  sources: number;
  config: FixedPointConfig;
}

const regionSweeps = new WeakMap<Node, RegionSweep>();

/**
 * The replayable sweep of the region whose inference-mode forward Loop is
 * `loopNode`, or undefined for any other node.
 *
 * @example const rs = regionSweep(node); if (rs) rs.replay(node.outputs.slice(0, rs.sources));
 */
export function regionSweep(loopNode: Node): RegionSweep | undefined {
  return regionSweeps.get(loopNode);
}

/** `implicit`, `unrolled` or `phantom:k`, as written in configs and metadata. */
export function backwardLabel(b: BackwardMode): string {
  return b.mode === 'phantom' ? `phantom:${b.k}` : b.mode;
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
  const m = first.sources.length;
  const settle = { tol: config.tol, minIter: config.minIter, norm: config.norm };
  const state0 = initialSettleState(g, first.output, 1);
  const meta = (node: Node): Record<string, unknown> => ({
    node: node.name,
    region: config.region,
    tol: config.tol,
    maxIter: config.maxIter,
    minIter: config.minIter,
    norm: config.norm,
    wormholes: config.wormholes,
    backward: backwardLabel(config.backward),
    backwardTol: config.backwardTol,
    backwardMaxIter: config.backwardMaxIter,
    backwardNorm: config.backwardNorm,
  });
  const doc = (what: string) =>
    `twnn fixed point of region '${config.region}' (${what}): tol ${config.tol} (${config.norm}), maxIter ${config.maxIter}, ` +
    `wormholes ${config.wormholes.map((w) => `${w.from}->${w.to}`).join(', ')}`;

  if (!ctx.training) {
    const { carried } = loop(g, {
      name: 'iterate',
      maxTrip: config.maxIter - 1,
      carried: [...first.sources, first.output, state0.done, state0.iters, state0.residual],
      doc: doc('forward sweeps'),
      body: (b, it) => {
        const sOld = it.carried.slice(0, m);
        const [outOld, done, iters, residual] = it.carried.slice(m);
        const next = ctx.withGraph(b, () => ctx.rebuild(() => sweep(sOld)));
        const st = settleStep(b, settle, { done, iters, residual }, sOld, next.sources, [[outOld, next.output]]);
        return { cond: st.cond, carried: [...st.states, ...st.carried, st.done, st.iters, st.residual] };
      },
    });
    const loopNode = producer(carried[0]);
    annotateLoop(loopNode, { role: 'forward', ...meta(loopNode) });
    ctx.reportIterator({ region: config.region, iterations: carried[m + 2], residual: carried[m + 3], config: meta(loopNode) });
    const path = ctx.scopePath;
    regionSweeps.set(loopNode, { replay: (s) => ctx.replay(path, () => sweep(s)), sources: m, config });
    return carried[m];
  }

  if (config.backward.mode === 'unrolled') {
    return unrolledTraining(ctx, sweep, first, config, settle, state0, meta);
  }

  const { carried } = loop(g, {
    name: 'iterate',
    maxTrip: config.maxIter - 1,
    carried: [...first.sources, state0.done, state0.iters, state0.residual],
    doc: doc('forward sweeps'),
    body: (b, it) => {
      const sOld = it.carried.slice(0, m);
      const [done, iters, residual] = it.carried.slice(m);
      const next = ctx.withGraph(b, () => ctx.rebuild(() => sweep(sOld)));
      const st = settleStep(b, settle, { done, iters, residual }, sOld, next.sources);
      return { cond: st.cond, carried: [...st.states, st.done, st.iters, st.residual] };
    },
  });
  const loopNode = producer(carried[0]);
  annotateLoop(loopNode, { role: 'forward', ...meta(loopNode) });
  const sStar = carried.slice(0, m);
  // One sweep at S*: the output y = O(S*) and the linearisation point of F.
  const start = g.nodes.length;
  const atFixedPoint = g.scope('at_fixed_point', () => ctx.rebuild(() => sweep(sStar)));
  const report: IteratorReport = { region: config.region, iterations: carried[m + 1], residual: carried[m + 2], config: meta(loopNode) };
  loopNode.customVjp = adjointVjp({
    sweepNodes: g.nodes.slice(start),
    sStar,
    sNew: atFixedPoint.sources,
    config,
    report,
  });
  ctx.reportIterator(report);
  return atFixedPoint.output;
}

const LOOP_CONFIGS = new WeakMap<Node, Readonly<Record<string, unknown>>>();

/**
 * Remember a twnn Loop's configuration (forward iterator, adjoint, tangent),
 * so exports can write it into metadata_props for Netron and `twnn inspect`.
 *
 * @example annotateLoop(loopNode, { region: 'region1', role: 'adjoint', tol: 1e-3 });
 */
export function annotateLoop(node: Node, config: Readonly<Record<string, unknown>>): void {
  LOOP_CONFIGS.set(node, config);
}

/**
 * `twnn.loop:<Loop node name>` → the Loop's configuration as JSON, for every
 * annotated Loop in `graph` and its subgraphs, in graph order.
 *
 * @example serializeModel(g, { metadata: { ...common, ...loopMetadata(g) } });
 */
export function loopMetadata(graph: import('../ir/index.js').Graph): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (g: import('../ir/index.js').Graph) => {
    for (const n of g.nodes) {
      const config = LOOP_CONFIGS.get(n);
      if (config) out[`twnn.loop:${n.name}`] = JSON.stringify(config);
      n.subgraphs().forEach(visit);
    }
  };
  visit(graph);
  return out;
}

/** The node that produced `v` (a Loop output). */
export function producer(v: Value): Node {
  if (v.source.kind !== 'node') throw new Error(`value '${v.name}' has no producing node`);
  return v.source.node;
}
