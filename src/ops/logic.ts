// Boolean logic for masks (settled samples, convergence tests): And, Or, Not.
import type { Graph, OpDef, Value } from '../ir/index.js';
import { broadcastBinary, sameAsInput } from './shape-rules.js';

const BOOL = ['bool'] as const;

export const AndOp: OpDef = { opType: 'And', inputs: [{ name: 'A' }, { name: 'B' }], outputs: 1, dtypes: BOOL, infer: broadcastBinary, doc: 'c = a and b (broadcasting)', vjp: 'none' };
export const OrOp: OpDef = { opType: 'Or', inputs: [{ name: 'A' }, { name: 'B' }], outputs: 1, dtypes: BOOL, infer: broadcastBinary, doc: 'c = a or b (broadcasting)', vjp: 'none' };
export const NotOp: OpDef = { opType: 'Not', inputs: [{ name: 'X' }], outputs: 1, dtypes: BOOL, infer: sameAsInput, doc: 'y = not x', vjp: 'none' };

/** This family's ops, for the registry's table (./table.ts). */
export const LOGIC_OPS: readonly OpDef[] = [AndOp, OrOp, NotOp];

/** @example const stillRunning = and(g, active, notConverged); */
export const and = (g: Graph, a: Value, b: Value): Value => g.node(AndOp, [a, b])[0];
/** @example const done = or(g, converged, diverged); */
export const or = (g: Graph, a: Value, b: Value): Value => g.node(OrOp, [a, b])[0];
/** @example const active = not(g, done); */
export const not = (g: Graph, x: Value): Value => g.node(NotOp, [x])[0];
