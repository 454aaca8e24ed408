// Graph files anywhere (issue 12): `twnn build` loads a .ts, .mts, .cts, .js,
// .mjs or .cjs graph from any folder, in an ESM or a CommonJS scope or with no
// package.json above it, importing `twnn` (the running twnn where none is
// installed) or relative files; one that fails to load is a `twnn: error:`
// naming the file (and the line where there is one), never an internal error.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectUserError, REPO, twnn } from './run-cli.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-graph-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A folder under the temp root holding `files` (name → text). */
function folder(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

const INPUT = "input: { shape: ['B', 4], dtype: 'float' }";
// A region, so that --jvp needs the region's bookkeeping to be the CLI's own (one twnn, not a copy).
const REGION_NET = "region({ blocks: [block(), block()], wormholes: [{ from: 2, to: 1 }] })";
const BLOCK_ESM = "import { dense, sequential, tanh } from 'twnn';\nexport const block = () => sequential(dense(4, 4), tanh());\n";

describe('twnn build loads a graph file', () => {
  it.each([
    [
      'ESM scope, .js importing twnn and a relative .js',
      { 'package.json': '{ "type": "module" }', 'layers.js': BLOCK_ESM, 'g.js': `import { defineModel, region } from 'twnn';\nimport { block } from './layers.js';\nexport default defineModel({ name: 'esm', ${INPUT}, net: ${REGION_NET} });\n` },
      'g.js',
    ],
    [
      'CommonJS scope (npm init -y), .ts with ESM syntax and an extensionless relative import',
      { 'package.json': '{ "name": "x", "version": "1.0.0", "type": "commonjs" }', 'layers.ts': BLOCK_ESM, 'g.ts': `import { defineModel, region } from 'twnn';\nimport { block } from './layers';\nexport default defineModel({ name: 'cjs', ${INPUT}, net: ${REGION_NET} });\n` },
      'g.ts',
    ],
    [
      'no package.json above it, .ts',
      { 'g.ts': `import { defineModel, region, dense, sequential, tanh } from 'twnn';\nconst block = () => sequential(dense(4, 4), tanh());\nexport default defineModel({ name: 'bare', ${INPUT}, net: ${REGION_NET} });\n` },
      'g.ts',
    ],
    ['.mts in a CommonJS scope', { 'package.json': '{}', 'g.mts': `import { defineModel, dense } from 'twnn';\nconst n: number = 3;\nexport default defineModel({ name: 'mts', ${INPUT}, net: dense(4, n) });\n` }, 'g.mts'],
    // A CommonJS-scoped graph reusing a repository graph by its path: tsx requires that graph's
    // `../src/index.js`, which must be the running twnn too (a copy's ops have no VJP rules here).
    [
      'CommonJS scope, .ts importing a repository graph by its absolute path',
      { 'g.ts': `import { defineModel } from 'twnn';\nimport sine from ${JSON.stringify(join(REPO, 'graphs/sine.ts'))};\nexport default defineModel({ name: 'reuse', input: sine.input, net: sine.net, task: sine.task });\n` },
      'g.ts',
    ],
    ['.cjs with require and module.exports', { 'g.cjs': `const { defineModel, dense } = require('twnn');\nmodule.exports = defineModel({ name: 'req', ${INPUT}, net: dense(4, 2) });\n` }, 'g.cjs'],
  ])('%s', async (name, files, graph) => {
    const dir = folder(name.replace(/\W+/g, '-'), files);
    const out = join(dir, 'out');
    const r = await twnn(['build', join(dir, graph), '--out', out, '--jvp']);
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['model.onnx', 'grad.onnx', 'jvp.onnx', 'manifest.json']) expect(existsSync(join(out, f)), f).toBe(true);
  });
});

describe('a graph file that fails to load is a user error naming it', () => {
  const BAD: [string, string, RegExp][] = [
    ['syntax.ts', "import { defineModel } from 'twnn';\nexport default defineModel({ name: 'x',, });\n", /syntax\.ts:2: cannot load the graph file: syntax error: Expected identifier/],
    ['imports.ts', "import { defineModel } from 'twnn';\nimport { nope } from './nothere.js';\nexport default defineModel(nope());\n", /imports\.ts: cannot load the graph file: Cannot find module '\.\/nothere\.js'/],
    ['throws.ts', "const w = 3;\n\nthrow new Error('boom ' + w);\n", /throws\.ts:3: cannot load the graph file: boom 3/],
    ['string.mjs', "throw 'a string';\n", /string\.mjs: cannot load the graph file: it threw "a string"/],
    ['spec.ts', "import { defineModel, dense } from 'twnn';\nexport default defineModel({ name: 'x', input: { shape: ['B', 4] }, net: dense(5, 2) });\n", /dense \(top level\): input has shape \[B,4\], expected \[B, 5\]/],
    ['nomodel.ts', 'export default 42;\n', /nomodel\.ts: expected the default export to be a model .*found a default export of type number/],
    ['g.txt', 'x\n', /g\.txt: a graph file is TypeScript or JavaScript/],
    // Issue 13, item 1: runaway recursion, an await that never settles (node would exit 13 in silence),
    // and a parameter too large to allocate (refused before allocating).
    ['recursion.ts', 'const f = (n: number): number => f(n + 1) + 1;\nexport default f(0);\n', /recursion\.ts:1: cannot load the graph file: RangeError: Maximum call stack size exceeded/],
    ['waits.mjs', 'await new Promise(() => {});\nexport default 1;\n', /waits\.mjs: cannot load the graph file: its top-level await never settles/],
    // Issue 23, item 14: a file that ends the process itself is not blamed on a top-level await.
    ['exits.mjs', 'process.exit(0);\nexport default 1;\n', /exits\.mjs: cannot load the graph file: it called process\.exit\(0\) while loading/],
    ['exits3.mjs', 'process.exit(3);\nexport default 1;\n', /exits3\.mjs: cannot load the graph file: it called process\.exit\(3\) while loading/],
    // Item 2: a misspelt option in a JavaScript graph file (no types to catch it) names the key meant.
    ['typo.mjs', "import { defineModel, dense, region } from 'twnn';\nexport default defineModel({ name: 'x', input: { shape: ['B', 4] }, net: region({ blocks: [dense(4, 4), dense(4, 4)], wormholes: [{ from: 2, to: 1 }], iterate: { tol: 1e-3, maxiter: 5 } }) });\n", /typo\.mjs:2: region: iterate: unknown option 'maxiter' \(did you mean 'maxIter'\?\)/],
    ['huge.ts', "import { defineModel, dense } from 'twnn';\nexport default defineModel({ name: 'x', input: { shape: ['B', 4] }, net: dense(4, 2 ** 40) });\n", /huge\.ts: parameter 'weight' \[1099511627776,4\] float32 \(16\.0 TiB\) is too large/],
  ];
  const dir = folder('bad', Object.fromEntries(BAD.map(([f, text]) => [f, text])));
  it.each(BAD)('%s', async (file, _text, message) => {
    const r = await twnn(['build', join(dir, file), '--out', join(dir, 'out')]);
    expectUserError(r, message);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  });
});

// Issue 23, item 5: V8 aborts a process whose heap runs out (exit 134, a native stack dump); the
// graph file is first loaded in a heap-limited worker, so this is a message instead. A small heap
// (node's own --max-old-space-size) keeps the test quick; the limit it names is the process's own.
describe('a graph file that allocates without end', () => {
  it('is a user error naming the file and the heap limit, not a V8 abort', async () => {
    const dir = folder('hog', { 'hog.mjs': 'const keep = [];\nwhile (true) keep.push(new Array(1e6).fill(1.5));\n' });
    const r = await twnn(['build', join(dir, 'hog.mjs'), '--out', join(dir, 'out')], undefined, { NODE_OPTIONS: '--max-old-space-size=200' });
    expectUserError(r, /hog\.mjs: cannot load the graph file: it ran out of memory \(.*more than the \d+ MiB JavaScript heap limit; node's --max-old-space-size sets it\)/);
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it("prints what its top-level code prints once, not twice (the trial's output is dropped)", async () => {
    const dir = folder('prints', { 'p.mjs': "import { defineModel, dense } from 'twnn';\nconsole.log('top-level says hello');\nexport default defineModel({ name: 'p', input: { shape: ['B', 4] }, net: dense(4, 2) });\n" });
    const r = await twnn(['build', join(dir, 'p.mjs'), '--out', join(dir, 'out')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.match(/top-level says hello/g)).toHaveLength(1);
  });
});

