// Parameter-free elementwise activations (and softmax) as modules.
import { SpecError } from '../ir/index.js';
import * as ops from '../ops/index.js';
import type { Module } from './module.js';
import { finite } from './validate.js';

/**
 * `max(x, 0)`.
 *
 * @example sequential(dense(784, 256), relu(), dense(256, 10))
 */
export function relu(): Module {
  return { kind: 'relu', build: (ctx, x) => ops.relu(ctx.graph, x), lipschitz: () => 1 };
}

/**
 * `tanh(x)`.
 *
 * @example sequential(dense(16, 32), tanh(), dense(32, 1))
 */
export function tanh(): Module {
  return { kind: 'tanh', build: (ctx, x) => ops.tanh(ctx.graph, x), lipschitz: () => 1 };
}

/**
 * `1 / (1 + e^-x)`.
 *
 * @example sequential(dense(8, 1), sigmoid()) // a probability
 */
export function sigmoid(): Module {
  return { kind: 'sigmoid', build: (ctx, x) => ops.sigmoid(ctx.graph, x), lipschitz: () => 0.25 };
}

/**
 * `x` for `x >= 0`, else `negativeSlope · x` (torch.nn.LeakyReLU; default slope 0.01).
 * The slope is an ONNX float attribute, so it is rounded to float32 even in float64 graphs.
 *
 * @example sequential(dense(16, 32), leakyRelu(0.1))
 */
export function leakyRelu(negativeSlope = 0.01): Module {
  finite('leakyRelu', 'negativeSlope', negativeSlope);
  return { kind: 'leakyRelu', build: (ctx, x) => ops.leakyRelu(ctx.graph, x, negativeSlope), lipschitz: () => Math.max(1, Math.abs(negativeSlope)) };
}

/**
 * Softmax along `axis` (default the last): turns logits into probabilities.
 * Classifiers usually export logits and leave softmax to the loss.
 *
 * @example sequential(dense(64, 10), softmax())
 */
export function softmax(axis = -1): Module {
  if (!Number.isInteger(axis)) throw new SpecError(`softmax: axis must be an integer, got ${String(axis)}`);
  return { kind: 'softmax', build: (ctx, x) => ops.softmax(ctx.graph, x, axis) };
}
