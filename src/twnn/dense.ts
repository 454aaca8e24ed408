// Fully connected layer, stored like torch.nn.Linear.
//
// Layout: `weight` is [outFeatures, inFeatures] and `bias` [outFeatures],
// exactly PyTorch's state_dict layout, so weights move between twnn and torch
// unchanged (`torch.tensor(values).reshape(shape)`); the node is one
// Gemm(x, weight, bias, transB=1), i.e. y = x·Wᵀ + b.
import { SpecError, Tensor } from '../ir/index.js';
import { gemm } from '../ops/index.js';
import { fanInUniform, kaimingUniform } from './init.js';
import { spectralBound } from './lipschitz.js';
import type { Module } from './module.js';
import { expectInput, positiveInt } from './validate.js';
import { checkOptions, type KeysOf } from './options.js';

export interface DenseOptions {
  /** Add a learned bias (default true). */
  bias?: boolean;
}

const DENSE_KEYS: KeysOf<DenseOptions> = { bias: true };

/** A dense layer's sizes, readable on the module. */
export interface DenseModule extends Module {
  readonly kind: 'dense';
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly bias: boolean;
}

/**
 * `y = x·Wᵀ + b` on `[B, inFeatures]` inputs, initialised like torch.nn.Linear
 * (weight kaiming-uniform a=√5, bias U(±1/√inFeatures)). Parameters: `weight`
 * `[out, in]`, `bias` `[out]`.
 *
 * @example
 * const head = dense(64, 10);                 // logits
 * const proj = dense(32, 32, { bias: false }); // a projection without bias
 */
export function dense(inFeatures: number, outFeatures: number, options: DenseOptions = {}): DenseModule {
  checkOptions('dense: options', options, DENSE_KEYS);
  positiveInt('dense', 'inFeatures', inFeatures);
  positiveInt('dense', 'outFeatures', outFeatures);
  const bias = options.bias ?? true;
  if (typeof bias !== 'boolean') throw new SpecError(`dense: bias must be true or false, got ${String(bias)}`);
  return {
    kind: 'dense',
    inFeatures,
    outFeatures,
    bias,
    build(ctx, x) {
      expectInput(ctx, 'dense', x, [undefined, inFeatures], `[B, ${inFeatures}] (flatten first for higher-rank inputs)`);
      const w = ctx.param('weight', [outFeatures, inFeatures], kaimingUniform(inFeatures));
      const b = bias ? ctx.param('bias', [outFeatures], fanInUniform(inFeatures)) : undefined;
      return gemm(ctx.graph, x, w, b, { transB: true });
    },
    lipschitz: (ctx) => spectralBound(ctx, ctx.param('weight', [outFeatures, inFeatures], kaimingUniform(inFeatures))),
  };
}

/**
 * Transpose a 2-D weight: converts between twnn's/torch's `[out, in]` layout
 * and the `[in, out]` layout of Keras, JAX/Flax and `x @ W` code.
 *
 * @example const w = transposeWeight(kerasKernel); // [in, out] -> [out, in], ready for `weights`
 */
export function transposeWeight(t: Tensor): Tensor {
  if (t.shape.length !== 2) throw new SpecError(`transposeWeight: need a 2-D tensor, got shape [${t.shape.join(',')}]`);
  const [rows, cols] = t.shape;
  const out = Tensor.zeros(t.dtype, [cols, rows]);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out.data[c * rows + r] = t.data[r * cols + c];
  return out;
}
