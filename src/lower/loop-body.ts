/**
 * How a settling loop's map gets into its Loop body (src/lower/settling-loop.ts),
 * with two rewrites on the way. The map is first emitted into a scratch graph
 * nested in the body, then each of its nodes is re-emitted, in order, where it
 * belongs:
 *
 * - **Loop-invariant hoisting.** A node whose inputs all come from graphs
 *   enclosing the body (parameters, the region input, the linearisation of the
 *   sweep at S* that the adjoint and tangent read) or from other hoisted nodes
 *   computes the same thing every iteration. It goes into the graph that holds
 *   the Loop, before it, and runs once: tanh's 1 − y², a weight's transpose, a
 *   gate's sigmoid. Nodes with subgraphs stay in the body. Hoisting changes
 *   what the Loop captures, so a Loop that is differentiated through its
 *   captures (a training graph's forward iteration) must not hoist.
 *
 * - **Active rows.** With `rows`, the body sweeps only the samples still
 *   iterating: a node left in the body that reads a batch value of an enclosing
 *   graph (first dim the batch's) reads that value's active rows instead, one
 *   Gather per value per iteration. Hoisted values are taken the same way, so
 *   an invariant is computed once for the whole batch and gathered after. The
 *   shape of a per-sample value (Shape, Size) holds the batch size, so it is
 *   taken in the body, from the rows. A map must not mix samples (a region's
 *   sweep never does: each sample has its own fixed point).
 *
 * @example
 * const [next] = emitIntoBody(b, (scratch) => [step(scratch, w)], { rows, substitute: new Map([[w, wRows]]) });
 */
import { SpecError, type Dim, type Graph, type Node, type Value } from '../ir/index.js';
import { cloneNode, gather, nonZero, reshape, scatterRows, transpose } from '../ops/index.js';

/** The samples a body iteration sweeps, and how to move between them and the whole batch. */
export interface ActiveRows {
  /** int64 [K]: the active samples' rows. */
  index: Value;
  /** The batch dimension of the loop's states, which marks a value as per-sample. */
  batchDim: Dim;
  /** `v`'s active rows ([B, ...] → [K, ...]), one Gather per value. */
  take(v: Value): Value;
  /** `full` ([B, ...]) with its active rows replaced by `part` ([K, ...]). */
  put(full: Value, part: Value): Value;
}

/**
 * The rows of body `b` where `active` (bool [B]) holds.
 *
 * @example const rows = activeRows(b, not(b, done), states[0].shape[0]);
 */
export function activeRows(b: Graph, active: Value, batchDim: Dim): ActiveRows {
  const coords = nonZero(b, active); // [1, K]
  const index = reshape(b, coords, [-1]);
  const column = transpose(b, coords, [1, 0]); // [K, 1], ScatterND's row indices
  const taken = new Map<Value, Value>();
  return {
    index,
    batchDim,
    take(v) {
      let part = taken.get(v);
      if (!part) taken.set(v, (part = gather(b, v, index, 0)));
      return part;
    },
    put: (full, part) => scatterRows(b, full, column, part),
  };
}

/** Ops whose output holds their input's size, batch included, without a batch dim of their own. */
const BATCH_SIZED = new Set(['Shape', 'Size']);

/**
 * Whether a value of a graph enclosing the body holds one row per sample: its
 * first dim is the batch's. A run-time first dim that is not the batch's
 * cannot be told apart, so it is refused (the caller builds the dense form).
 */
function isPerSample(v: Value, rows: ActiveRows): boolean {
  if (v.rank === 0) return false;
  const d = v.shape[0];
  if (d === rows.batchDim) return true;
  if (typeof d === 'string') throw new SpecError(`active rows: '${v.name}' (${v.describe()}) has a run-time first dim other than the batch's`);
  return false;
}

export interface BodyOptions {
  /** Sweep only these rows (see the head of this file). */
  rows?: ActiveRows;
  /** Body values that stand for others in the copies (the whole-batch states by their active rows). */
  substitute?: ReadonlyMap<Value, Value>;
  /** Move loop invariants out of the body (default true; false measures what that saves). */
  hoist?: boolean;
}

/**
 * Emit `build` (which emits into the scratch graph it is given and returns
 * values of it) into Loop body `body`, hoisting loop invariants into the
 * body's enclosing graph and, with `rows`, reading only the active rows of
 * per-sample outer values (see the head of this file). `build` is emitted
 * densely (whole-batch shapes agree); `substitute` then replaces body values
 * in the copies. Returns the copies of `build`'s values, each as the body sees it.
 *
 * @example const [next] = emitIntoBody(b, (s) => [add(s, gBar, vjp(s, w))], { rows });
 */
export function emitIntoBody(body: Graph, build: (scratch: Graph) => readonly Value[], options: BodyOptions = {}): Value[] {
  const { rows, substitute = new Map(), hoist: hoisting = true } = options;
  const outer = body.parent;
  if (!outer) throw new Error(`emitIntoBody: graph '${body.name}' is not a Loop body`);
  const scratch = body.subgraph(`${body.name}_scratch`);
  const results = build(scratch);
  const copies = new Map<Value, Value>(substitute);
  // A value varies over iterations when the body computes it; the rest is invariant.
  const varies = (v: Value) => v.graph === body;
  const asBodyInput = (v: Value) => (rows && !varies(v) && isPerSample(v, rows) ? rows.take(v) : v);
  const copyOf = (v: Value) => copies.get(v) ?? v;

  for (const node of scratch.nodes) {
    const inputs = node.inputs.map((v) => v && copyOf(v));
    // The shape of a per-sample value is the batch's: in the body it must be the active rows'.
    const readsBatchSize = !!rows && BATCH_SIZED.has(node.opType) && !!inputs[0] && !varies(inputs[0]) && isPerSample(inputs[0], rows);
    const hoist = hoisting && node.subgraphs().length === 0 && !readsBatchSize && inputs.every((v) => !v || !varies(v));
    if (hoist) {
      underScopeOf(outer, node, () => cloneNode(outer, node, copies));
      continue;
    }
    // Invariant per-sample values this node (or its subgraphs) reads, outer or hoisted: their active rows.
    const reads = [...node.inputs, ...node.captures()].filter((v): v is Value => !!v);
    const local = new Map(copies);
    for (const v of reads) {
      const seen = copyOf(v);
      if (!varies(seen)) local.set(v, asBodyInput(seen));
    }
    const outs = underScopeOf(body, node, () => cloneNode(body, node, local));
    node.outputs.forEach((v, i) => copies.set(v, outs[i]));
  }
  return results.map((v) => asBodyInput(copyOf(v)));
}

/** Emit `clone` under `node`'s own name scope, so the copy keeps its block's path in Netron (`region1/iterate/b1/0/Gemm_7`). */
function underScopeOf<T>(g: Graph, node: Node, clone: () => T): T {
  const cut = node.name.lastIndexOf('/');
  return g.atScope(cut < 0 ? '' : node.name.slice(0, cut), clone);
}
