// Strings from a model reach the terminal inert (issue 13, item 8): names,
// doc strings and metadata with escape sequences or newlines print escaped
// in `inspect`, `run` and errors; `codegen` survives `*/` in a doc string;
// JSON input nested absurdly deep is a clear error, not a stack overflow.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printable } from '../../src/ir/text.js';
import { expectUserError, python, REPO, twnn } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-untrusted-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const evil = join(dir, 'evil.onnx');
const ESC = '\u001b';
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

beforeAll(async () => {
  const out = join(dir, 'sine');
  expect((await twnn(['build', join(REPO, 'graphs/sine.ts'), '--out', out])).status).toBe(0);
  // The sine model with hostile strings: a title-setting OSC in the graph name, a screen clear and a
  // forged line in the doc string, '*/' in doc strings, and an output renamed with an escape.
  python(
    `
import sys, onnx
m = onnx.load(sys.argv[1])
m.graph.name = 'name\\x1b]0;pwned\\x07'
m.doc_string = 'doc */ \\x1b[2J\\nforged: line'
m.producer_name = 'maker\\x1b[31m'
m.graph.output[0].doc_string = 'out */ doc'
p = m.metadata_props.add(); p.key = 'key\\x1b[1m'; p.value = 'value\\nforged: line'
old = m.graph.output[0].name
new = 'y\\x1b[2J'
m.graph.output[0].name = new
for n in m.graph.node:
  for i, o in enumerate(n.output):
    if o == old: n.output[i] = new
onnx.save(m, sys.argv[2])
`,
    [join(out, 'model.onnx'), evil],
  );
  writeFileSync(join(dir, 'x.json'), JSON.stringify([Array.from({ length: 16 }, (_, i) => i / 16)]));
});

describe('strings from a model', () => {
  it('are escaped by inspect: no control character reaches the terminal, no line is forged', async () => {
    const r = await twnn(['inspect', evil]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(CONTROL);
    expect(r.stdout).toContain('name\\e]0;pwned\\u{7}');
    expect(r.stdout).toContain('maker\\e[31m');
    expect(r.stdout.split('\n').filter((l) => l.startsWith('forged'))).toEqual([]);
  });

  it('are escaped by run in output names', async () => {
    const r = await twnn(['run', evil, '--input', join(dir, 'x.json')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(CONTROL);
    expect(r.stdout).toContain('y\\e[2J: float32 [1,1]');
  });

  it('are escaped in error messages', async () => {
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ [`z${ESC}[2J`]: [[1]] }));
    const r = await twnn(['run', evil, '--input', join(dir, 'bad.json')]);
    expect(r.status).toBe(2);
    expect(r.stderr).not.toMatch(CONTROL);
    expect(r.stderr).toContain('z\\e[2J');
  });

  it("do not break codegen: '*/' stays inside its comment and the wrapper type-checks", async () => {
    const out = join(dir, 'evil.ts');
    const r = await twnn(['codegen', evil, '-o', out]);
    expect(r.status, r.stderr).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text).toContain('doc *\\/');
    expect(text).not.toMatch(CONTROL);
  });

  it('printable names every control character and leaves the rest alone', () => {
    expect(printable(`a${ESC}[2Jb\n\tc\u0007\u202e`)).toBe('a\\e[2Jb\\n\\tc\\u{7}\\u{202e}');
    expect(printable('plain ünïcode ✓')).toBe('plain ünïcode ✓');
  });
});

describe('JSON input nested absurdly deep', () => {
  it('is an error naming the file, not a stack overflow', async () => {
    const deep = join(dir, 'deep.json');
    writeFileSync(deep, `${'['.repeat(100_000)}1${']'.repeat(100_000)}`);
    expectUserError(await twnn(['run', evil, '--input', deep]), `${deep}: x: arrays nested more than 32 deep`);
  });
});

// Issue 23, item 11: onnxruntime's own log quotes names as they are.
describe("strings from a model in onnxruntime's log", () => {
  it('never reach the terminal: the log of such a model is silenced', async () => {
    const unused = join(dir, 'unused.onnx');
    python(
      `
import sys, onnx
from onnx import helper as h, TensorProto as T
evil = 'w\\x1b]0;pwned\\x07\\x1b[2J\\ntwnn: error: forged'
g = h.make_graph([h.make_node('Identity', ['x'], ['y'], name='id')], 'g',
  [h.make_tensor_value_info('x', T.FLOAT, [1])], [h.make_tensor_value_info('y', T.FLOAT, [1])],
  [h.make_tensor(evil, T.FLOAT, [1], [1.0])])
m = h.make_model(g, opset_imports=[h.make_opsetid('', 17)]); m.ir_version = 8
onnx.save(m, sys.argv[1])
`,
      [unused],
    );
    writeFileSync(join(dir, 'x1.json'), JSON.stringify({ x: [1] }));
    const r = await twnn(['run', unused, '--input', join(dir, 'x1.json')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(CONTROL);
    expect(r.stderr).not.toMatch(/^twnn: error: forged/m);
    expect(r.stdout).toMatch(/^y: float32 \[1\]/);
  });
});

