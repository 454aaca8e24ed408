/**
 * Reverse-mode differentiation over the IR, emitting ONNX nodes.
 *
 * `backward` is the loss-seeded case of `vjpThrough` (src/autodiff/vjp-through.ts):
 * walk the forward nodes in reverse topological order (a Graph's node list is
 * already topological: the builder only appends nodes whose inputs exist),
 * summing each value's cotangent over its consumers (fan-in). Each node's op
 * supplies a hand-written VJP rule; ops marked `vjp: 'none'` (comparisons) stop
 * the flow, and an op with no rule on the path from `wrt` to `loss` is an
 * error, never a silent zero.
 */
import { SpecError, Tensor, type Graph, type Value } from '../ir/index.js';
import { filledLike } from '../ops/grad-helpers.js';
import { vjpThrough } from './vjp-through.js';

export interface BackwardOptions {
  /** Cotangent to seed the loss with (default: ones, i.e. d loss / d loss = 1). */
  seed?: Value;
  /** Scope prefix for the backward nodes' names. */
  scope?: string;
  /** Return zeros (instead of throwing) for a `wrt` value the loss does not depend on. */
  allowUnused?: boolean;
}

/**
 * Emit, into `g`, nodes computing d`loss`/d`wrt[i]` for each `wrt` value.
 *
 * @example
 * const loss = mseLoss(g, y, target);
 * const [gw, gb] = backward(g, loss, [w, b]);
 */
export function backward(g: Graph, loss: Value, wrt: readonly Value[], options: BackwardOptions = {}): Value[] {
  if (!g.sees(loss)) throw new SpecError(`backward: loss '${loss.name}' is not visible from graph '${g.name}'`);
  if (loss.rank !== 0 && !options.seed) throw new SpecError(`backward: loss '${loss.name}' must be a scalar, got rank ${loss.rank}`);
  const seed = options.seed ?? g.constant(Tensor.scalar(1, loss.dtype));
  const grads = vjpThrough({ nodes: [...g.nodes], seeds: new Map([[loss, seed]]), wrt, into: g, scope: options.scope ?? 'backward' });
  return grads.map((grad, i) => {
    if (grad) return grad;
    if (!options.allowUnused) throw new SpecError(`backward: loss '${loss.name}' does not depend on '${wrt[i].name}'`);
    return filledLike(g, wrt[i], 0);
  });
}
