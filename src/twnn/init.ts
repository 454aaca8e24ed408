// Parameter initialisers as data: a layer says *how* a parameter starts, the
// build context draws the numbers from that parameter's own seeded stream.
import { allocate, numel, SpecError, Tensor, type DType } from '../ir/index.js';
import type { Rng } from '../common/rng.js';

/** How a parameter's initial values are drawn. */
export type Init =
  | { readonly kind: 'constant'; readonly value: number }
  | { readonly kind: 'uniform'; readonly low: number; readonly high: number }
  | { readonly kind: 'normal'; readonly mean: number; readonly std: number }
  /** He/Kaiming uniform: U(±gain·√(3/fanIn)) with gain = √(2/(1+a²)). */
  | { readonly kind: 'kaimingUniform'; readonly fanIn: number; readonly a: number };

/** Every element `value`. @example constant(-4) // a closed gate's bias */
export function constant(value: number): Init {
  if (!Number.isFinite(value)) throw new SpecError(`init constant: value must be finite, got ${value}`);
  return { kind: 'constant', value };
}

/** All zeros (biases, BatchNorm shift and running mean). @example zeros() */
export function zeros(): Init {
  return constant(0);
}

/** All ones (BatchNorm scale and running variance). @example ones() */
export function ones(): Init {
  return constant(1);
}

/** U[low, high). @example uniform(-0.1, 0.1) */
export function uniform(low: number, high: number): Init {
  if (!(Number.isFinite(low) && Number.isFinite(high) && low <= high)) {
    throw new SpecError(`init uniform: need finite low <= high, got [${low}, ${high}]`);
  }
  return { kind: 'uniform', low, high };
}

/** N(mean, std²). @example normal(0.02) */
export function normal(std: number, mean = 0): Init {
  if (!(Number.isFinite(std) && std >= 0 && Number.isFinite(mean))) {
    throw new SpecError(`init normal: need a finite std >= 0 and a finite mean, got std ${std}, mean ${mean}`);
  }
  return { kind: 'normal', mean, std };
}

/**
 * Kaiming/He uniform. PyTorch's default for Linear and Conv weights is
 * `a = √5`, which makes the bound exactly `1/√fanIn`.
 *
 * @example kaimingUniform(16 * 3 * 3) // a 3x3 conv with 16 input channels
 */
export function kaimingUniform(fanIn: number, a = Math.sqrt(5)): Init {
  if (!(Number.isInteger(fanIn) && fanIn > 0)) throw new SpecError(`init kaimingUniform: fanIn must be a positive integer, got ${fanIn}`);
  return { kind: 'kaimingUniform', fanIn, a };
}

/**
 * U(±1/√fanIn): PyTorch's default for Linear and Conv biases (fanIn of the
 * layer's weight).
 *
 * @example fanInUniform(784) // bias of a Linear(784, 256)
 */
export function fanInUniform(fanIn: number): Init {
  if (!(Number.isInteger(fanIn) && fanIn > 0)) throw new SpecError(`init fanInUniform: fanIn must be a positive integer, got ${fanIn}`);
  const bound = 1 / Math.sqrt(fanIn);
  return uniform(-bound, bound);
}

/** The half-width of a kaiming-uniform range. @example kaimingBound(9) // 1/3 */
export function kaimingBound(fanIn: number, a = Math.sqrt(5)): number {
  const gain = Math.sqrt(2 / (1 + a * a));
  return gain * Math.sqrt(3 / fanIn);
}

/**
 * Draw a tensor of `shape` from `init`, in row-major order from `rng`.
 *
 * @example const w = sample(kaimingUniform(16), [32, 16], 'float32', Rng.forParam(0, '0.weight'));
 */
export function sample(init: Init, shape: readonly number[], dtype: DType, rng: Rng): Tensor {
  const n = numel(shape)!;
  const data = allocate(dtype, n) as Float32Array | Float64Array;
  const draw = drawer(init, rng);
  for (let i = 0; i < n; i++) data[i] = draw();
  return new Tensor(dtype, shape, data);
}

function drawer(init: Init, rng: Rng): () => number {
  switch (init.kind) {
    case 'constant':
      return () => init.value;
    case 'uniform':
      return () => rng.uniform(init.low, init.high);
    case 'normal':
      return () => rng.normal(init.mean, init.std);
    case 'kaimingUniform': {
      const bound = kaimingBound(init.fanIn, init.a);
      return () => rng.uniform(-bound, bound);
    }
  }
}

/** One line for messages and the manifest. @example describeInit(zeros()) // 'constant(0)' */
export function describeInit(init: Init): string {
  switch (init.kind) {
    case 'constant':
      return `constant(${init.value})`;
    case 'uniform':
      return `uniform(${init.low}, ${init.high})`;
    case 'normal':
      return `normal(mean ${init.mean}, std ${init.std})`;
    case 'kaimingUniform':
      return `kaimingUniform(fanIn ${init.fanIn}, a ${init.a})`;
  }
}
