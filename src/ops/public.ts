// The `ops` namespace of twnn's public API (src/index.ts): the emitters a
// custom layer calls to add nodes to `ctx.graph`, each differentiated by its
// op's hand-written VJP. The op definitions, the registry, the VJP table and the
// helpers the VJP rules share stay internal (src/ops/index.ts).

export { abs, add, div, exp, leakyRelu, log, mul, neg, pow, relu, sigmoid, sqrt, sub, tanh } from './elementwise.js';
export { cast, constant, identity, scalar } from './structural.js';
export { equal, greater, less, where } from './compare.js';
export { and, not, or } from './logic.js';
export { logSoftmax, softmax } from './softmax.js';
export { reduceMax, reduceMean, reduceSum } from './reduce.js';
export { gemm, matmul } from './linalg.js';
export type { GemmOptions } from './linalg.js';
export { conv2d, convTranspose2d } from './conv.js';
export type { ConvOptions, ConvTransposeOptions } from './conv.js';
export { averagePool2d, globalAveragePool, maxPool2d } from './pool.js';
export type { AveragePoolOptions, MaxPoolOptions, PoolOptions } from './pool.js';
export { batchNorm, instanceNorm } from './norm.js';
export type { BatchNormParams } from './norm.js';
export { concat, constantOfShape, expand, flatten, gather, reshape, reshapeLike, shapeOf, slice, squeeze, transpose, unsqueeze } from './shape.js';
export { gatherElements, scatterElements } from './scatter.js';
export type { ScatterReduction } from './scatter.js';
export { nonZero, scatterRows } from './rows.js';
export { ifThenElse, loop } from './control.js';
export type { LoopBodyResult, LoopIteration, LoopSpec } from './control.js';
export { expandLike, filledLike } from './grad-helpers.js';
