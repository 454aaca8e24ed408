// Looking up a registered op by its ONNX type: only the tests ask for an op by
// name (twnn's emitters hold their OpDef), so the lookup lives here.
import type { OpDef } from '../../src/ir/index.js';
import { allOps } from '../../src/ops/index.js';

/** The registered op for an ONNX type; an unknown one throws. */
export function lookupOp(opType: string, domain = ''): OpDef {
  const op = allOps().find((o) => o.opType === opType && (o.domain ?? '') === domain);
  if (!op) throw new Error(`unknown op '${domain ? `${domain}::` : ''}${opType}'`);
  return op;
}
