/**
 * How a settling loop's map gets into its Loop body (src/lower/settling-loop.ts),
 * with rewrites on the way. The map is first emitted into a scratch graph
 * nested in the body, then each of its nodes is re-emitted, in order, where it
 * belongs:
 *
 * - **Loop-invariant hoisting.** A node whose inputs all come from graphs
 *   enclosing the Loop (parameters, the region input, the linearisation of the
 *   sweep at S* that the adjoint and tangent read) or from other hoisted nodes
 *   computes the same thing every iteration. It goes into the graph that holds
 *   the Loop, before it, and runs once: tanh's 1 − y², a weight's transpose, a
 *   gate's sigmoid. Nodes with subgraphs stay in the body. Hoisting changes
 *   what the Loop captures, so a Loop that is differentiated through its
 *   captures (a training graph's forward iteration) must not hoist.
 *
 * - **Working sets.** With `rows`, the body sweeps a working set: the rows
 *   of the samples still iterating when it was gathered, in the graph that
 *   holds the body's Loop (a working set's own step, src/lower/settling-loop.ts).
 *   A node left in the body that reads a batch value of an enclosing graph
 *   (first dim the batch's) reads that value's working rows instead, gathered
 *   once per working set. Hoisted values are taken the same way, so an
 *   invariant is computed once for the whole batch and gathered after. What
 *   stays fixed while one working set is swept runs once per working set, in
 *   its graph: the shape of a per-sample value (the set's size and the
 *   value's static dims), and any node that reads only such values, gathered
 *   rows and invariants. A map must not mix samples (a region's sweep never
 *   does: each sample has its own fixed point).
 *
 * @example
 * const [next] = emitIntoBody(b, (scratch) => [step(scratch, w)], { rows, substitute: new Map([[w, wRows]]) });
 */
import { SpecError, Tensor, type Dim, type Graph, type Node, type Value } from '../ir/index.js';
import { cloneNode, concat, gather, nonZero, reshape, scatterRows, shapeOf, slice, transpose } from '../ops/index.js';

/** The samples a working set holds, and how to move between them and the whole batch. */
export interface ActiveRows {
  /** The graph the working set is gathered in (and written back from). */
  graph: Graph;
  /** int64 [K]: the working set's rows. */
  index: Value;
  /** The batch dimension of the loop's states, which marks a value as per-sample. */
  batchDim: Dim;
  /** `v`'s working rows ([B, ...] → [K, ...]), one Gather per value. */
  take(v: Value): Value;
  /** `full` ([B, ...]) with its working rows replaced by `part` ([K, ...]). */
  put(full: Value, part: Value): Value;
  /** int64: dims [start, end) of the shape [K, ...rest] (rest static), as Shape would give them for a per-sample value of the set. */
  shape(rest: readonly number[], start: number, end: number): Value;
}

/**
 * The rows of graph `g` where `active` (bool [B]) holds.
 *
 * @example const rows = activeRows(level, not(level, done), states[0].shape[0]);
 */
export function activeRows(g: Graph, active: Value, batchDim: Dim): ActiveRows {
  const coords = nonZero(g, active); // [1, K]
  const index = reshape(g, coords, [-1]);
  const column = transpose(g, coords, [1, 0]); // [K, 1], ScatterND's row indices
  const taken = new Map<Value, Value>();
  let size: Value | undefined;
  const shapes = new Map<string, Value>();
  return {
    graph: g,
    index,
    batchDim,
    take(v) {
      let part = taken.get(v);
      if (!part) taken.set(v, (part = gather(g, v, index, 0)));
      return part;
    },
    put: (full, part) => scatterRows(g, full, column, part),
    shape(rest, start, end) {
      const key = `${rest.join(',')}:${start}:${end}`;
      let built = shapes.get(key);
      if (built) return built;
      size ??= shapeOf(g, index);
      const tail = (from: number) => g.constant(Tensor.fromNumbers('int64', [end - from], rest.slice(from - 1, end - 1)));
      built = start > 0 ? tail(start) : end === 1 ? size : concat(g, [size, tail(1)], 0);
      shapes.set(key, built);
      return built;
    },
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

/**
 * A Shape node of a per-sample value whose dims past the batch are static:
 * in a working set that is [K, ...rest], the same for every step, so it is
 * built once in the set's graph instead of read from the rows each step.
 */
function workingSetShape(node: Node, rows: ActiveRows): Value | undefined {
  const x = node.inputs[0];
  if (node.opType !== 'Shape' || !x || x.rank === 0 || x.shape[0] !== rows.batchDim) return undefined;
  const rest = x.shape.slice(1);
  if (!rest.every((d): d is number => typeof d === 'number')) return undefined;
  const start = normalizedDim(node.attr<number>('start', 0), x.rank);
  const end = normalizedDim(node.attr<number>('end', x.rank), x.rank);
  if (end <= start) return undefined;
  return rows.shape(rest, start, end);
}

/** A Shape start/end attribute as ONNX reads it: negative counts from the back, clamped to [0, rank]. */
function normalizedDim(d: number, rank: number): number {
  return Math.min(rank, Math.max(0, d < 0 ? d + rank : d));
}

export interface BodyOptions {
  /** Sweep only these rows (see the head of this file). */
  rows?: ActiveRows;
  /** Body values that stand for others in the copies (the whole-batch states by their active rows). */
  substitute?: ReadonlyMap<Value, Value>;
  /** Move loop invariants out of the body (default true; false measures what that saves). */
  hoist?: boolean;
  /**
   * The graph invariants move to (default: the body's parent). A body nested
   * in another Loop's body (a working set's sweeps) hoists past both, so
   * values of the graphs in between vary, like the body's own.
   */
  hoistTo?: Graph;
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
  const outer = options.hoistTo ?? body.parent;
  if (!outer) throw new Error(`emitIntoBody: graph '${body.name}' is not a Loop body`);
  const scratch = body.subgraph(`${body.name}_scratch`);
  const results = build(scratch);
  const copies = new Map<Value, Value>(substitute);
  // A value is invariant when a graph at or above `outer` holds it; the body and the graphs in between compute the rest.
  const invariantGraphs = new Set<Graph>();
  for (let at: Graph | undefined = outer; at; at = at.parent) invariantGraphs.add(at);
  if (!ancestorsOf(body).includes(outer)) throw new Error(`emitIntoBody: '${outer.name}' does not enclose body '${body.name}'`);
  const varies = (v: Value) => !invariantGraphs.has(v.graph);
  // The working set's graph: what is fixed while one set is swept (its rows, their shapes) lives there.
  const perSet = rows && rows.graph !== body ? rows.graph : undefined;
  const asBodyInput = (v: Value) => (rows && !varies(v) && isPerSample(v, rows) ? rows.take(v) : v);
  const copyOf = (v: Value) => copies.get(v) ?? v;

  for (const node of scratch.nodes) {
    const inputs = node.inputs.map((v) => v && copyOf(v));
    const setShape = perSet && rows ? workingSetShape(node, rows) : undefined;
    if (setShape) {
      copies.set(node.outputs[0], setShape);
      continue;
    }
    // The shape of a per-sample value is the batch's: in the body it must be the working set's.
    const readsBatchSize = !!rows && BATCH_SIZED.has(node.opType) && !!inputs[0] && !varies(inputs[0]) && isPerSample(inputs[0], rows);
    const plain = node.subgraphs().length === 0;
    const hoist = hoisting && plain && !readsBatchSize && inputs.every((v) => !v || !varies(v));
    if (hoist) {
      underScopeOf(outer, node, () => cloneNode(outer, node, copies));
      continue;
    }
    // Invariant per-sample values this node (or its subgraphs) reads, outer or hoisted: their working rows.
    const reads = [...node.inputs, ...node.captures()].filter((v): v is Value => !!v);
    const local = new Map(copies);
    for (const v of reads) {
      const seen = copyOf(v);
      if (!varies(seen)) local.set(v, asBodyInput(seen));
    }
    // Reads nothing the body computes: the same for every step of a working set.
    const into = hoisting && perSet && plain && reads.every((v) => (local.get(v) ?? v).graph !== body) ? perSet : body;
    const outs = underScopeOf(into, node, () => cloneNode(into, node, local));
    node.outputs.forEach((v, i) => copies.set(v, outs[i]));
  }
  return results.map((v) => asBodyInput(copyOf(v)));
}

/** The graphs enclosing `g`, innermost first. */
function ancestorsOf(g: Graph): Graph[] {
  const out: Graph[] = [];
  for (let at = g.parent; at; at = at.parent) out.push(at);
  return out;
}

/** Emit `clone` under `node`'s own name scope, so the copy keeps its block's path in Netron (`region1/iterate/b1/0/Gemm_7`). */
function underScopeOf<T>(g: Graph, node: Node, clone: () => T): T {
  const cut = node.name.lastIndexOf('/');
  return g.atScope(cut < 0 ? '' : node.name.slice(0, cut), clone);
}
