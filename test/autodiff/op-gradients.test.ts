// The gradient table (grad-cases.ts) run over the whole op registry: every registered op
// has finite-difference cases for its VJP rule, or says why it has none, or names the
// lowering that differentiates it and the test file that checks that lowering.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { allOps, vjpRuleOf } from '../../src/ops/index.js';
import { lookupOp } from '../helpers/ops.js';
import type { GradCase } from '../helpers/gradcheck.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { checkOnnx } from '../helpers/onnx-checker.js';
import { GRAD_TABLE } from './grad-cases.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const registered = allOps().map((op) => op.opType);

describe('the gradient table covers the op registry', () => {
  it.each(registered)('%s has gradient cases, a reason for none, or a lowering', (opType) => {
    expect(GRAD_TABLE.has(opType), `add '${opType}' to test/autodiff/grad-cases.ts`).toBe(true);
  });

  it('names only registered ops', () => {
    expect([...GRAD_TABLE.keys()].filter((op) => !registered.includes(op))).toEqual([]);
  });
});

const checks: [string, GradCase][] = [...GRAD_TABLE].flatMap(([op, entry]) =>
  entry.kind === 'cases' ? entry.cases.map((c): [string, GradCase] => [`${op}${c.label ? `: ${c.label}` : ''}`, c]) : [],
);

// Models the checks ran, for onnx's own checker at the end (onnx 1.12 knows opsets up to 17).
const checkedModels: [string, Uint8Array][] = [];

describe('VJP rules agree with central differences', () => {
  it.each(checks)('%s', async (name, c) => {
    const op = lookupOp(c.op);
    expect(typeof vjpRuleOf(op), `${c.op} has cases, so it needs a VJP rule`).toBe('function');
    // Exact checks wherever onnxruntime can run the op in double precision.
    if (op.float64Kernel !== false) expect(c.dtype ?? 'float64', `${c.op} has a float64 kernel`).toBe('float64');
    const { forwardOps, model } = await gradCheck(c);
    expect([...forwardOps], `the case must emit ${c.op}`).toContain(c.op);
    if ((c.opset ?? 17) <= 17) checkedModels.push([name, model]);
  });

  it('emits backward graphs that pass onnx.checker (full check) and strict shape inference', () => {
    const results = checkOnnx(checkedModels.map(([, m]) => m));
    const failed = results.flatMap((r, i) => (r.ok ? [] : [`${checkedModels[i][0]}: ${r.error}`]));
    expect(failed).toEqual([]);
  });
});

const without = [...GRAD_TABLE].flatMap(([op, e]) => (e.kind === 'none' ? [[op, e.reason] as const] : []));
const lowered = [...GRAD_TABLE].flatMap(([op, e]) => (e.kind === 'lowered' ? [[op, e.testedIn] as const] : []));

describe('ops without a gradient', () => {
  it.each(without)("%s is marked vjp: 'none' (%s)", (op, reason) => {
    expect(reason.length).toBeGreaterThan(10);
    expect(vjpRuleOf(lookupOp(op))).toBe('none');
  });
});

describe('ops differentiated by a lowering', () => {
  it.each(lowered)('%s is tested in %s, which exists', (op, testedIn) => {
    // A generic rule would make the table's 'lowered' entry stale: it would then need cases.
    expect(vjpRuleOf(lookupOp(op))).toBeUndefined();
    expect(existsSync(`${repoRoot}${testedIn}`), `${testedIn} (named for ${op} in grad-cases.ts)`).toBe(true);
  });
});
