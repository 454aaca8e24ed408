// Every op family (one file per family), its emitters and the registry of ops (registry.ts, from table.ts's explicit list).
export * from './registry.js';
export * from './shape-rules.js';
export * from './elementwise.js';
export * from './structural.js';
export * from './compare.js';
export * from './softmax.js';
export * from './reduce.js';
export * from './linalg.js';
export * from './conv.js';
export * from './pool.js';
export * from './norm.js';
export * from './shape.js';
export * from './scatter.js';
export * from './rows.js';
export * from './control.js';
export * from './grad-helpers.js';
export * from './logic.js';
