// VJP rule of Where (../compare.ts); the comparisons themselves have none (`vjp: 'none'`).
import type { OpDef, VjpRule } from '../../ir/index.js';
import { where, WhereOp } from '../compare.js';
import { filledLike, unbroadcast } from '../grad-helpers.js';

// d where(c, x, y) = (c ? dx : 0) + (c ? 0 : dy)
const whereVjp: VjpRule = ({ graph: g, inputs: [c, x, y], gradOutputs: [gy], wants }) => {
  const zero = filledLike(g, gy!, 0);
  return [
    undefined,
    wants[1] ? unbroadcast(g, where(g, c!, gy!, zero), x!) : undefined,
    wants[2] ? unbroadcast(g, where(g, c!, zero, gy!), y!) : undefined,
  ];
};

/** This family's VJP rules, for the VJP table (../vjp-table.ts). */
export const COMPARE_VJPS: readonly (readonly [OpDef, VjpRule])[] = [[WhereOp, whereVjp]];
