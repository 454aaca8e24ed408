// Where an op's VJP rule is: its OpDef's own `vjp`, or this table. The families whose
// emitters the gradient helpers (./grad-helpers.ts) and other rules use (elementwise,
// compare, reduce, shape, scatter, structural) keep no rule in their OpDefs, which would
// make their files import each other; their rules are in ./vjp/<family>.ts, listed here
// family by family. Nothing is attached to an OpDef on import.
import type { OpDef, VjpRule } from '../ir/index.js';
import { OP_TABLE } from './table.js';
import { COMPARE_VJPS } from './vjp/compare.js';
import { ELEMENTWISE_VJPS } from './vjp/elementwise.js';
import { REDUCE_VJPS } from './vjp/reduce.js';
import { SCATTER_VJPS } from './vjp/scatter.js';
import { SHAPE_VJPS } from './vjp/shape.js';
import { STRUCTURAL_VJPS } from './vjp/structural.js';

const VJP_TABLE = new Map<OpDef, VjpRule | 'none'>();
const registered = new Set(OP_TABLE.flat());
for (const [op, rule] of [...ELEMENTWISE_VJPS, ...STRUCTURAL_VJPS, ...COMPARE_VJPS, ...REDUCE_VJPS, ...SHAPE_VJPS, ...SCATTER_VJPS]) {
  // Two rules for one op would make the answer depend on which is looked at first: a bug.
  if (op.vjp !== undefined || VJP_TABLE.has(op)) throw new Error(`op '${op.opType}' has two VJP rules`);
  if (!registered.has(op)) throw new Error(`op '${op.opType}' has a VJP rule in the VJP table but is not in the op table`);
  VJP_TABLE.set(op, rule);
}

/**
 * The VJP rule of `op`: its own `vjp`, else its entry in the VJP table; `'none'` for an op
 * with no gradient, undefined for one with no rule (a Loop, differentiated by its lowering).
 * Reverse and forward mode call this rather than reading `op.vjp`.
 *
 * @example
 * vjpRuleOf(MulOp)  // Mul's rule, from ./vjp/elementwise.ts
 * vjpRuleOf(LessOp) // 'none'
 * vjpRuleOf(LoopOp) // undefined
 */
export function vjpRuleOf(op: OpDef): VjpRule | 'none' | undefined {
  return op.vjp ?? VJP_TABLE.get(op);
}
