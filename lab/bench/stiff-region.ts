// A small TWNN whose fixed point is slow to reach, for checking the solvers of
// the PyTorch twin against twnn's (test/bench/torch-twin-graphs.test.ts,
// tools/twin-solver-rounding.ts): a dense stem, a region of three 16-wide tanh
// blocks with two states (blocks 2 and 3 feed block 1), a dense head, mse.
// Its blocks' matrices are the seed-0 draw scaled up (`stiffWeights`): the
// larger the scale, the closer the sweep's Jacobian comes to spectral radius 1
// and the more sweeps plain iteration needs (about 10–45 at ×2.5, up to 100
// at ×3 on seeded noise), so a solver's history fills and wraps.
import { floatTensor } from '../../src/data/batches.js';
import type { Tensor } from '../../src/ir/tensor.js';
import { buildInferenceGraph } from '../../src/lower/inference.js';
import { defineModel, dense, region, sequential, tanh, type RegionSpec } from '../../src/index.js';
import type { ModelSpec } from '../../src/twnn/spec.js';

/**
 * The stiff-region model named `name`, its region's options (and `iterate`
 * options) over the defaults here: tol 1e-4 and maxIter 100 forward, the
 * adjoint to 1e-5 in at most 100 steps.
 *
 * @example const spec = stiffRegionModel('broyden', {}, { solver: 'broyden', history: 4 });
 */
export function stiffRegionModel(name: string, options: Partial<RegionSpec> = {}, iterate: RegionSpec['iterate'] = {}): ModelSpec {
  const block = () => sequential(dense(16, 16), tanh());
  const wormholes = [{ from: 2, to: 1, gateBias: 0 }, { from: 3, to: 1, gateBias: 0 }];
  return defineModel({
    name,
    input: { shape: ['B', 16], dtype: 'float' },
    net: sequential({
      stem: sequential(dense(16, 16), tanh()),
      region1: region({ blocks: [block(), block(), block()], wormholes, iterate: { tol: 1e-4, maxIter: 100, ...iterate }, backwardTol: 1e-5, backwardMaxIter: 100, ...options }),
      head: dense(16, 1),
    }),
    task: { loss: 'mse' },
  });
}

/**
 * `spec`'s seed-0 weights with the region blocks' matrices scaled by `scale`.
 *
 * @example const weights = stiffWeights(spec, 2.5); buildTrainGraph(spec, { weights });
 */
export function stiffWeights(spec: ModelSpec, scale: number): Map<string, Tensor> {
  const blockMatrix = /^region1\.b\d\.0\.weight$/;
  return new Map(
    buildInferenceGraph(spec, {}).params.map((p) => [p.name, blockMatrix.test(p.name) ? floatTensor('float32', [...p.shape], p.value.toNumbers().map((v) => v * scale)) : p.value]),
  );
}
