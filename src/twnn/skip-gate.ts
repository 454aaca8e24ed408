// Block skipping (paper Eq. 5-6, "this model skipped block B4"): a residual
// block whose contribution is gated per sample,
//
//   y = relu(shortcut(x) + s ⊙ main(x)),   s = sigmoid(w · mean_hw(x) + c)   (one scalar per sample)
//
// The paper's reading: of a network's D layers, some (Dw) carry the useful
// representation and others (Dp) contribute little; the iterator skips the Dp
// layers. Here the network learns which: a cost γ·mean(s) in the training loss
// closes gates where the block does not pay for itself.
//
// A sample whose gate is below `threshold` skips the branch: y = relu(shortcut(x)).
// Inference graphs run the branch's convolutions only on the other samples'
// rows (NonZero, Gather, ScatterND), so a skipped sample costs nothing there —
// inside a region's Loop too, where the active-set sweep has already dropped
// settled samples. Training graphs compute the same function densely, with
// the branch times s·[s >= threshold]: training sees exactly what inference
// will do, and its gradient is the exact one wherever no sample sits on the
// threshold. (A first version trained soft, s·main(x) for every sample, and
// skipped only at inference: its gates settled below the threshold on B1 and B3
// while their branches still carried s ≈ 0.3-0.5 of the signal, and skipping
// dropped a run's test accuracy from its training level to 22%.) A closed
// gate gets no loss gradient from its own sample; the shared gate weights
// move with the open samples and the cost term.
import { SpecError, type Value } from '../ir/index.js';
import * as ops from '../ops/index.js';
import { constant, kaimingUniform } from './init.js';
import type { BuildContext } from './module.js';
import { checkOptions, type KeysOf } from './options.js';
import { finite } from './validate.js';

/** A residual block's learned per-sample skip gate. */
export interface SkipGateOptions {
  /** Samples whose gate is below it skip the block (default 0.5; 0 never skips: a soft gate, s·main(x) for every sample). */
  threshold?: number;
  /** The gate's initial bias c (default 3: open, s ≈ 0.95, so training starts from the plain block). */
  gateBias?: number;
  /** γ ≥ 0 of the cost γ·mean(s) the training loss adds, which closes gates the loss does not need (default 0.01). */
  cost?: number;
}

/** A skip gate's settings, resolved. */
export interface ResolvedSkipGate {
  threshold: number;
  gateBias: number;
  cost: number;
}

const SKIP_GATE_KEYS: KeysOf<SkipGateOptions> = { threshold: true, gateBias: true, cost: true };

/**
 * Check a block's `skip` option and fill in its defaults.
 *
 * @example resolveSkipGate('basicBlock', { cost: 0.05 }) // { threshold: 0.5, gateBias: 3, cost: 0.05 }
 */
export function resolveSkipGate(layer: string, options: SkipGateOptions | true): ResolvedSkipGate {
  const o = options === true ? {} : options;
  if (typeof o !== 'object' || o === null) throw new SpecError(`${layer}: skip must be true or an object { threshold?, gateBias?, cost? }, got ${JSON.stringify(options)}`);
  checkOptions(`${layer}: skip`, o, SKIP_GATE_KEYS);
  const threshold = o.threshold === undefined ? 0.5 : finite(layer, 'skip.threshold', o.threshold, { atLeast: 0, atMost: 1 });
  const gateBias = o.gateBias === undefined ? 3 : finite(layer, 'skip.gateBias', o.gateBias);
  const cost = o.cost === undefined ? 0.01 : finite(layer, 'skip.cost', o.cost, { atLeast: 0 });
  return { threshold, gateBias, cost };
}

/**
 * `relu(shortcut + s ⊙ main(x))` with the block's skip gate s (see the head of
 * this file): soft in training graphs, skipping the rows whose gate is below the
 * threshold in inference graphs. Declares `skip_gate.weight` and
 * `skip_gate.bias` in the current (the block's) scope and reports the gate.
 *
 * @example return gatedResidual(ctx, x, (rows) => mainBranch(rows), shortcut, gate);
 */
export function gatedResidual(ctx: BuildContext, x: Value, main: (rows: Value) => Value, shortcut: Value, gate: ResolvedSkipGate): Value {
  const g = ctx.graph;
  if (x.rank !== 4) throw new SpecError(`${ctx.scopeName || 'block'}: a skip gate needs a [B, C, H, W] input, got ${x.describe()}`);
  const channels = x.shape[1];
  if (typeof channels !== 'number') throw new SpecError(`${ctx.scopeName}: a skip gate needs a static channel count, got ${x.describe()}`);
  const s = ctx.scope('skip_gate', () => {
    const weight = ctx.param('weight', [1, channels], kaimingUniform(channels));
    const bias = ctx.param('bias', [1], constant(gate.gateBias));
    return ops.sigmoid(g, ops.gemm(g, ops.reduceMean(g, x, [2, 3], false), weight, bias, { transB: true })); // [B, 1]
  });
  const gateRows = ops.reshape(g, s, [-1]); // [B]
  ctx.reportSkipGate({ block: ctx.scopeName, gate: gateRows, threshold: gate.threshold, cost: gate.cost });
  const perSample = (v: Value) => ops.unsqueeze(g, v, [2, 3]); // [B, 1] -> [B, 1, 1, 1]
  if (gate.threshold === 0) return ops.relu(g, ops.add(g, shortcut, ops.mul(g, perSample(s), main(x))));
  const open = ops.not(g, ops.less(g, gateRows, ops.scalar(g, gate.threshold, s.dtype))); // [B] bool
  if (ctx.training || ctx.blockSkipping === 'off') {
    // Every row runs the branch, a closed one times 0: the function inference computes, differentiable
    // everywhere but at the threshold (the mask is piecewise constant).
    const mask = ops.unsqueeze(g, ops.cast(g, open, s.dtype), [1]); // [B, 1]
    return ops.relu(g, ops.add(g, shortcut, ops.mul(g, perSample(ops.mul(g, s, mask)), main(x))));
  }
  // Only the rows whose gate is open run the block; the others keep their shortcut.
  const coords = ops.nonZero(g, open); // [1, K]
  const rows = ops.reshape(g, coords, [-1]);
  // Every sample may skip (K = 0): the branch's modules must then run on an empty batch.
  const branch = ctx.withPossiblyEmptyBatch(() => main(ops.gather(g, x, rows, 0)));
  const contribution = ops.mul(g, perSample(ops.gather(g, s, rows, 0)), branch);
  const sum = ops.add(g, ops.gather(g, shortcut, rows, 0), contribution);
  return ops.relu(g, ops.scatterRows(g, shortcut, ops.transpose(g, coords, [1, 0]), sum));
}
