/**
 * What the solvers that mix past steps (Anderson, Broyden) share: they work
 * on each sample's states flattened into one row x [B, n], with the residual
 * g = F(x) − x, and their next iterate is not a sweep output. So a sample
 * that settles takes F(x) itself, not the mix: its final state is, as with
 * plain iteration, a sweep's output within tol of its input.
 */
import { formatShape, SpecError, Tensor, type Graph, type Value } from '../../ir/index.js';
import { concat, constantOfShape, gather, reshapeLike, shapeOf, slice, sub } from '../../ops/index.js';
import { pick, sampleRows } from '../settle.js';
import type { SolverStepInputs, SolverStepResult } from './solver.js';

/**
 * A step of a row-mixing solver: `mix` maps the iterate x and its residual
 * g = F(x) − x (both [B, n]) to the next iterate [B, n] and the carried
 * values; the result is split back into the states, and a settling sample
 * keeps F(x).
 *
 * @example return mixRows(b, inputs, 'anderson', (x, gk) => andersonStep(b, settings, memory, x, gk, inputs.first));
 */
export function mixRows(b: Graph, inputs: SolverStepInputs, solver: string, mix: (x: Value, gk: Value) => { next: Value; memory: Value[] }): SolverStepResult {
  const { sOld, next, settles } = inputs;
  const x = sampleRows(b, sOld);
  const moved = mix(x, sub(b, sampleRows(b, next), x));
  const mixed = unflatten(b, moved.next, sOld, solver);
  return { candidates: next.map((f, j) => pick(b, settles, f, mixed[j])), memory: moved.memory };
}

/**
 * Zeros [B, history, n] for rows shaped like `x` ([B, n]): an empty history.
 *
 * @example const dX = zeroHistory(g, x0, 5);
 */
export function zeroHistory(g: Graph, x: Value, history: number): Value {
  const n = x.shape[1];
  const nDim = typeof n === 'number' ? g.constant(Tensor.fromNumbers('int64', [1], [n])) : gather(g, shapeOf(g, x), [1]);
  const shape = concat(g, [shapeOf(g, x, 0, 1), g.constant(Tensor.fromNumbers('int64', [1], [history])), nDim], 0);
  return constantOfShape(g, shape, 0, x.dtype);
}

/** Split rows [B, n] back into tensors shaped like `like` (each [B, ...]). */
function unflatten(g: Graph, rows: Value, like: readonly Value[], solver: string): Value[] {
  if (like.length === 1) return [reshapeLike(g, rows, like[0])];
  let at = 0;
  return like.map((v) => {
    const dims = v.shape.slice(1);
    if (!dims.every((d): d is number => typeof d === 'number')) throw new SpecError(`${solver}: state '${v.name}' has run-time dims ${formatShape(v.shape)} past the batch`);
    const size = dims.reduce((a, d) => a * d, 1);
    const part = slice(g, rows, [at], [at + size], [1]);
    at += size;
    return reshapeLike(g, part, v);
  });
}
