// The registry of ops: the explicit table (./table.ts), keyed by domain and
// ONNX type, checked once for an op listed twice.
import type { OpDef } from '../ir/index.js';
import { OP_TABLE } from './table.js';

const REGISTRY = new Map<string, OpDef>();
for (const op of OP_TABLE.flat()) {
  const key = opKey(op.domain ?? '', op.opType);
  // Two ops of one ONNX type would make lookups depend on the table's order: a bug.
  if (REGISTRY.has(key)) throw new Error(`op '${key}' is in the op table twice`);
  REGISTRY.set(key, op);
}

/**
 * Every op in the table, sorted by type (deterministic for reports and table-driven tests).
 *
 * @example allOps().map((op) => op.opType) // ['Abs', 'Add', 'And', ...]
 */
export function allOps(): OpDef[] {
  return [...REGISTRY.values()].sort((a, b) => opKey(a.domain ?? '', a.opType).localeCompare(opKey(b.domain ?? '', b.opType)));
}

function opKey(domain: string, opType: string): string {
  return domain ? `${domain}::${opType}` : opType;
}
