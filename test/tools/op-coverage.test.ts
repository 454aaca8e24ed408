// The op coverage report, enforced: every registered op has an emitter, a shape rule, a VJP
// (or a stated reason or lowering), a forward test under test/ops/ and a gradient test.
import { beforeAll, describe, expect, it } from 'vitest';
import { allOps } from '../../src/ops/index.js';
import { analyzeOpCoverage, formatCoverage, type CoverageReport, type OpCoverage } from '../../tools/op-coverage.js';

let report: CoverageReport;
const row = (op: string): OpCoverage => {
  const found = report.ops.find((r) => r.op === op);
  if (!found) throw new Error(`no coverage row for ${op}`);
  return found;
};

// ts-morph type-checks src/ir, src/ops and test/ops: slow on a busy machine.
beforeAll(() => {
  report = analyzeOpCoverage();
}, 180_000);

describe('op coverage report', () => {
  it('finds every registered op in the source, in agreement with the registry', () => {
    expect(report.ops.map((r) => r.op)).toEqual(allOps().map((op) => op.opType));
    expect(report.problems).toEqual([]);
  });

  it('recognises each way an emitter reaches g.node', () => {
    expect(row('Shape').emitters).toEqual(['shapeOf']); // g.node(ShapeOp, ...) itself
    expect(row('ReduceSum').emitters).toEqual(['reduceSum']); // through emitReduce(g, ReduceSumOp, ...)
    expect(row('Constant').emitters).toEqual(['constant', 'scalar']); // through Graph.constant
    expect(row('Loop').vjp).toBe('lowered');
    expect(row('Shape').vjp).toBe('none');
  });

  it.each(allOps().map((op) => op.opType))('%s has emit, shape rule, VJP, forward test and gradient test', (op) => {
    expect(row(op).missing, formatCoverage({ ops: [row(op)], problems: [] })).toEqual([]);
  });

  it('prints a lacking column as ✗ and lists the op', () => {
    const lacking: OpCoverage = {
      op: 'Foo', opDef: 'FooOp', family: 'src/ops/foo.ts', emitters: ['foo'], shapeRule: true, vjp: undefined,
      forwardTests: [], gradientTest: '2 cases', missing: ['VJP', 'forward test'],
    };
    const text = formatCoverage({ ops: [lacking], problems: [] });
    expect(text).toContain('| Foo | foo.ts | ✓ foo | ✓ | ✗ | ✗ | ✓ 2 cases |');
    expect(text).toContain('- Foo lacks: VJP, forward test');
  });
});
