// A model's description goes into the wrapper's doc comments (issue 23, item
// 3): a `/*` in it ("reads data/*.npy") once made ts-morph fail with a stack
// trace, and a `*/` would end the comment early. Every such description gives
// a wrapper that parses, with the description still readable in it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { generateWrapper } from '../../src/codegen/generate.js';
import { defineModel, dense } from '../../src/index.js';
import { exportModel } from '../../src/lower/artifacts.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-comment-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DESCRIPTIONS = ['reads data/*.npy', 'ends early */ export const x = 1; /*', '/**/', '*/*', 'a /* b */ c', '//* line', '/*\nnext line */'];

describe('descriptions with comment markers', () => {
  it.each(DESCRIPTIONS.map((d, i) => [JSON.stringify(d), d, i] as const))('%s gives a wrapper that parses', async (_label, description, i) => {
    const out = join(dir, `m${i}`);
    await exportModel(defineModel({ name: `m${i}`, description, input: { shape: ['B', 3] }, net: dense(3, 2) }), out);
    const { text } = await generateWrapper(join(out, 'model.onnx'));
    const parsed = ts.transpileModule(text, { reportDiagnostics: true, compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
    expect(parsed.diagnostics ?? []).toEqual([]);
    // Nothing of the description runs as code: the only declarations are the wrapper's own.
    expect(text).not.toMatch(/^\s*export const x = 1/m);
    // Still readable: each word of it appears in a doc comment.
    for (const word of description.split(/[^a-z.]+/).filter((w) => w.length > 1)) expect(text).toContain(word);
  });
});
