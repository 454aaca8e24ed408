import type { OpDef } from '../ir/index.js';

const REGISTRY = new Map<string, OpDef>();

/**
 * Add ops to the registry; a second op with the same ONNX type is a bug and throws.
 *
 * @example registerOps([AddOp, SubOp]);
 */
export function registerOps(ops: readonly OpDef[]): void {
  for (const op of ops) {
    const key = opKey(op.domain ?? '', op.opType);
    if (REGISTRY.has(key)) throw new Error(`op '${key}' is registered twice`);
    REGISTRY.set(key, op);
  }
}

/** Every registered op, sorted by type (deterministic for reports and table-driven tests). */
export function allOps(): OpDef[] {
  return [...REGISTRY.values()].sort((a, b) => opKey(a.domain ?? '', a.opType).localeCompare(opKey(b.domain ?? '', b.opType)));
}

function opKey(domain: string, opType: string): string {
  return domain ? `${domain}::${opType}` : opType;
}
