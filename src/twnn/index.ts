// The model-building layer: modules, layers, initialisers and the model spec.
export * from './activations.js';
export * from './blocks.js';
export * from './conv2d.js';
export * from './dense.js';
export * from './group-norm.js';
export * as init from './init.js';
export type { Init } from './init.js';
export * from './module.js';
export * from './norm.js';
export * from './pool.js';
export { Rng } from '../common/rng.js';
export * from './sequential.js';
export * from './spec.js';
