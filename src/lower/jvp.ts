/**
 * Forward mode: the JVP graph of a model (docs/DESIGN.md §2; paper Eq. 9, first line),
 * for sensitivity analysis: inputs `x`, `x_dot`; outputs `y`, `y_dot` = (∂y/∂x)·ẋ.
 *
 * No second rule set. The op set has VJP rules only; a JVP is obtained by
 * transposing a VJP (the "double-VJP trick"). For a node y = f(a), its VJP
 * u ↦ ā = Jᵀu is linear in the cotangent u, so its own VJP with respect to u,
 * seeded with ȧ on ā, is ȧ ↦ (Jᵀ)ᵀȧ = Jȧ = ẏ. Each node is therefore
 * differentiated by emitting its VJP against a placeholder cotangent u
 * (zeros: the value never matters, only the linear structure), then running
 * reverse mode through those VJP nodes with respect to u. The ops appearing
 * in VJP graphs need VJP rules themselves; the placeholder's nodes end up
 * unused and are pruned.
 *
 * Fixed-point regions. Differentiating S* = F(S*, a) forward,
 *   Ṡ* = (∂F/∂S) Ṡ* + (∂F/∂a) ȧ,
 * so Ṡ* is itself a fixed point: Ṡ ← AṠ + c with A = ∂F/∂S at S* and
 * c = (∂F/∂a)ȧ, iterated from Ṡ = c as an ONNX `Loop` (`<region>/tangent`)
 * that settles per sample (‖ΔṠ‖ <= backwardTol·‖c‖ by default, at most
 * backwardMaxIter steps) exactly like the adjoint Loop of the implicit backward; it converges whenever the forward
 * iteration does (A's spectral radius < 1). The sweep is replayed once at S*
 * outside the loop and transposed twice there: A and c come from the same
 * placeholder VJP of that sweep, the loop body holds only the linear map
 * Ṡ ↦ AṠ. The region output's tangent then follows by forward mode through
 * the replayed sweep, with Ṡ* on its state inputs.
 */
import { pruneDeadNodes } from './prune.js';
import { isFloat, SpecError, type Graph, type Node, type Value } from '../ir/index.js';
import { add, constantOfShape, filledLike, identity, shapeOf, vjpRuleOf } from '../ops/index.js';
import { vjpThrough } from '../autodiff/vjp-through.js';
import type { ModelSpec } from '../twnn/spec.js';
import { regionSweep, type RegionSweep } from './fixed-point.js';
import { buildNetwork, type BuildOptions, type BuiltGraph } from './inference.js';
import { iterationOutputs } from './iterations.js';
import { solverFields } from '../contract/iterator-record.js';
import { linearLoopSettings, settlingLoop } from './settling-loop.js';

/**
 * Build `spec`'s JVP graph: inputs `x` and `x_dot` (both `spec.input.shape`),
 * outputs `y`, `y_dot` (the directional derivative of y along x_dot), the
 * model contract's `iterations` and `residual`, and `iterations_tangent`
 * (int64 [B]: the tangent fixed-point steps, summed over regions; 1 without
 * regions). Parameters are initializers, layers in inference mode. Every
 * region's tangent is its own fixed-point Loop with per-sample convergence
 * (tolerance and step limit: the region's backwardTol / backwardMaxIter).
 *
 * @example
 * const { graph } = buildJvpGraph(spec, { dtype: 'float64' });
 * await writeFile('jvp.onnx', serializeModel(graph));
 * // run with { x, x_dot }: y_dot ≈ (y(x + ε·x_dot) − y(x − ε·x_dot)) / 2ε
 */
export function buildJvpGraph(spec: ModelSpec, options: BuildOptions = {}): BuiltGraph {
  // Skip-gated blocks in their dense form: the same function, and no row subsets for the tangent Loop's active rows to trip on.
  const net = buildNetwork(spec, { ...options, blockSkipping: 'off' }, 'initializer');
  const { graph: g, x, y } = net;
  const xDot = g.input('x_dot', x.dtype, x.shape);
  const forwardNodes = [...g.nodes];
  const tangents = new Map<Value, Value>([[x, xDot]]);
  const tangentSteps: Value[] = [];
  g.scope('jvp', () => forwardMode(g, forwardNodes, tangents, tangentSteps));

  g.output('y', y);
  g.output('y_dot', tangents.get(y) ?? filledLike(g, y, 0));
  for (const [name, v] of iterationOutputs(g, x, net.context.iterators)) g.output(name, v);
  const steps = tangentSteps.length > 0 ? tangentSteps.reduce((a, b) => add(g, a, b)) : constantOfShape(g, shapeOf(g, x, 0, 1), 1, 'int64');
  g.output('iterations_tangent', steps);
  pruneDeadNodes(g, { subgraphs: true });
  return { graph: g, params: net.params };
}

/**
 * Propagate tangents forward through `nodes` (in order) of graph `g`, emitting
 * into `g`: `tangents` maps a value to its tangent (absent: zero) and receives
 * the tangent of every node output that depends on one. Region Loops append
 * their per-sample tangent step counts to `steps`.
 *
 * @example forwardMode(g, [...g.nodes], new Map([[x, xDot]]), []);
 */
export function forwardMode(g: Graph, nodes: readonly Node[], tangents: Map<Value, Value>, steps: Value[]): void {
  for (const node of nodes) {
    if (![...node.inputs, ...node.captures()].some((v) => v && tangents.has(v))) continue;
    const region = regionSweep(node);
    if (region) regionTangent(g, region, tangents, steps);
    else nodeTangent(g, node, tangents);
  }
}

/** A cotangent placeholder shaped like `v`: a value of its own (never a shared cached constant). */
function placeholder(g: Graph, v: Value): Value {
  return identity(g, filledLike(g, v, 0));
}

/**
 * The transpose of the linear map `cotangents` computes from the placeholders
 * `us` (the nodes of `transposeNodes`): seeds each cotangent with its tangent
 * (summed where two share a value) and returns the placeholders' cotangents.
 */
function transpose(
  into: Graph,
  transposeNodes: readonly Node[],
  cotangents: readonly (Value | undefined)[],
  tangentsIn: readonly (Value | undefined)[],
  us: readonly Value[],
  where: string,
): (Value | undefined)[] {
  const seeds = new Map<Value, Value>();
  cotangents.forEach((c, i) => {
    const t = tangentsIn[i];
    if (!c || !t) return;
    const seen = seeds.get(c);
    seeds.set(c, seen ? add(into, seen, t) : t);
  });
  if (seeds.size === 0) return us.map(() => undefined);
  return explained(`the VJP of ${where}`, () => vjpThrough({ nodes: transposeNodes, seeds, wrt: us, into, scope: 'transpose' }));
}

/** Run `emit`, turning a reverse-mode failure (an op without a VJP rule) into one that says where forward mode was. */
function explained<T>(where: string, emit: () => T): T {
  try {
    return emit();
  } catch (err) {
    if (err instanceof SpecError) throw new SpecError(`forward mode through ${where}: ${err.message.replace(/^backward: /, '')}`);
    throw err;
  }
}

/** ẏ for one ordinary node, by transposing its VJP. */
function nodeTangent(g: Graph, node: Node, tangents: Map<Value, Value>): void {
  const outs = node.outputs.filter((o) => isFloat(o.dtype));
  if (outs.length === 0) return;
  const wrt = [...new Set([...node.inputs, ...node.captures()])].filter((v): v is Value => !!v && isFloat(v.dtype) && tangents.has(v));
  if (wrt.length === 0) return;
  const where = `${node.opType} '${node.name}'`;
  const rule = node.customVjp ?? vjpRuleOf(node.op);
  if (rule === undefined) throw new SpecError(`forward mode: ${where} has no VJP rule to transpose, but y_dot depends on it`);
  if (rule === 'none') return;
  const us = outs.map((o) => placeholder(g, o));
  const start = g.nodes.length;
  const cotangents = explained(where, () => vjpThrough({ nodes: [node], seeds: new Map(outs.map((o, i) => [o, us[i]])), wrt, into: g, scope: node.name }));
  const vjpNodes = g.nodes.slice(start);
  const outTangents = transpose(g, vjpNodes, cotangents, wrt.map((v) => tangents.get(v)), us, where);
  outs.forEach((o, i) => {
    const t = outTangents[i];
    if (t) tangents.set(o, t);
  });
}

/**
 * Tangents of a region's Loop outputs: Ṡ* by the tangent fixed point, the
 * region output by forward mode through a sweep replayed at S*.
 */
function regionTangent(g: Graph, region: RegionSweep, tangents: Map<Value, Value>, steps: Value[]): void {
  const { config, sStar } = region;
  const m = sStar.length;
  g.scope(`${config.region.split('.').join('/')}/tangent`, () => {
    const start = g.nodes.length;
    const at = region.replay(sStar);
    const sweepNodes = g.nodes.slice(start);
    // Values the sweep reads from before it (the region input, ...) that carry a tangent.
    const produced = new Set(sweepNodes.flatMap((n) => n.outputs));
    const outer = [...new Set(sweepNodes.flatMap((n) => [...n.inputs, ...n.captures()]))].filter(
      (v): v is Value => !!v && !produced.has(v) && !sStar.includes(v) && tangents.has(v),
    );

    // One placeholder VJP of the sweep: u ↦ (Aᵀu, (∂F/∂outer)ᵀu).
    const us = at.sources.map((s) => placeholder(g, s));
    const seeds = new Map<Value, Value>();
    at.sources.forEach((s, j) => seeds.set(s, seeds.has(s) ? add(g, seeds.get(s)!, us[j]) : us[j]));
    const vjpStart = g.nodes.length;
    const where = `region '${config.region}'`;
    const cotangents = explained(where, () => vjpThrough({ nodes: sweepNodes, seeds, wrt: [...sStar, ...outer], into: g, scope: 'transpose_sweep' }));
    const vjpNodes = g.nodes.slice(vjpStart);
    const orZero = (into: Graph, vs: (Value | undefined)[]) => vs.map((v, j) => v ?? filledLike(into, sStar[j], 0));

    // c = (∂F/∂outer)·(outer tangents); the loop applies Ṡ ↦ c + AṠ.
    const c = orZero(g, transpose(g, vjpNodes, cotangents.slice(m), outer.map((v) => tangents.get(v)), us, where));
    const { stop, ...settings } = linearLoopSettings(g, config, c, { state: 'tangent', rhs: 'c' });
    const tangent = settlingLoop(g, {
      ...settings,
      region: config.region,
      role: 'tangent',
      initial: c,
      map: (b, old) => {
        const applied = transpose(b, vjpNodes, cotangents.slice(0, m), old, us, where);
        return { next: c.map((cj, j) => (applied[j] ? add(b, cj, applied[j]!) : cj)) };
      },
      config: { tol: config.backwardTol, maxIter: config.backwardMaxIter, norm: config.backwardNorm, ...solverFields(config.backwardSolver) },
      doc: `twnn tangent fixed point of region '${config.region}': Sdot <- (dF/dS) Sdot + (dF/da) adot, ${stop}`,
    });
    sStar.forEach((s, j) => tangents.set(s, tangent.states[j]));
    steps.push(tangent.iterations);

    forwardMode(g, sweepNodes, tangents, steps);
    const outputTangent = tangents.get(at.output);
    if (outputTangent) tangents.set(region.output, outputTangent);
  });
}
