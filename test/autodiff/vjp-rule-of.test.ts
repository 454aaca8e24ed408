// Where reverse and forward mode find an op's VJP rule (src/ops/vjp-table.ts): its OpDef's own
// `vjp`, else the VJP table; nothing is attached to an OpDef on import. (Here, not under
// test/ops/, which the op coverage report reads for forward tests.)
import { describe, expect, it } from 'vitest';
import { ConstantOp, IdentityOp, type OpDef } from '../../src/ir/index.js';
import { allOps, GemmOp, LessOp, LoopOp, MulOp, sameAsInput, ShapeOp, vjpRuleOf } from '../../src/ops/index.js';

describe('vjpRuleOf', () => {
  it("finds a rule in the OpDef, in the VJP table, 'none', or nothing", () => {
    expect(typeof GemmOp.vjp).toBe('function');
    expect(vjpRuleOf(GemmOp)).toBe(GemmOp.vjp);
    expect(MulOp.vjp).toBeUndefined();
    expect(typeof vjpRuleOf(MulOp)).toBe('function');
    expect(vjpRuleOf(LessOp)).toBe('none');
    expect(vjpRuleOf(ShapeOp)).toBe('none');
    expect(vjpRuleOf(LoopOp)).toBeUndefined(); // its lowering differentiates it
  });

  it("gives the IR's builtins their rules without changing their objects", () => {
    expect(IdentityOp.vjp).toBeUndefined();
    expect(ConstantOp.vjp).toBeUndefined();
    expect(typeof vjpRuleOf(IdentityOp)).toBe('function');
    expect(vjpRuleOf(ConstantOp)).toBe('none');
  });

  it('takes an op of a custom layer by its own rule, and knows nothing of one without', () => {
    const rule: OpDef['vjp'] = (ctx) => [ctx.gradOutputs[0]];
    const custom: OpDef = { opType: 'Custom', inputs: [{ name: 'x' }], outputs: 1, infer: sameAsInput, vjp: rule };
    expect(vjpRuleOf(custom)).toBe(rule);
    expect(vjpRuleOf({ ...custom, vjp: undefined })).toBeUndefined();
  });

  it('has a rule or a reason for every op but Loop', () => {
    expect(allOps().filter((op) => vjpRuleOf(op) === undefined).map((op) => op.opType)).toEqual(['Loop']);
  });
});
