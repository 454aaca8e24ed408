// Every op family (one file per family: its OpDefs, shape rules and emitters), the
// registry of ops (registry.ts, from table.ts's explicit list) and where each op's VJP
// rule is (vjp-table.ts: `vjpRuleOf`). Most families write their rules in their OpDefs;
// those the gradient helpers build on (elementwise, compare, reduce, shape, scatter,
// structural) have theirs in vjp/<family>.ts, above them, so no family file imports back.
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
export * from './vjp-table.js';
