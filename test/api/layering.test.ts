// The layers of src/ import only downwards (issue 12, part 6): src/twnn
// describes models and src/lower lowers them, so twnn never imports lower; the
// IR and the ops know nothing of models. Every static import, `import type`
// and dynamic `import()` of every source file is checked against the table.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../cli/run-cli.js';

/** What each folder under src/ may import (besides itself). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  // Errors, file helpers and the random stream: what every layer may use, importing nothing of twnn.
  common: [],
  ir: ['common'],
  ops: ['common', 'ir'],
  onnx: ['common', 'ir'],
  twnn: ['common', 'ir', 'ops'],
  autodiff: ['common', 'ir', 'ops', 'twnn'],
  data: ['common', 'ir', 'twnn'],
  // What an export is (file names, manifest, metadata, iterator records): lower writes it, every reader reads it.
  contract: ['common', 'ir', 'onnx', 'twnn', 'autodiff'],
  lower: ['common', 'ir', 'ops', 'autodiff', 'onnx', 'twnn', 'contract'],
  runtime: ['common', 'ir', 'ops', 'autodiff', 'onnx', 'twnn', 'contract', 'lower', 'data'],
  // Readers of an export: they know it through the contract alone, never through the lowering.
  codegen: ['common', 'ir', 'onnx', 'contract'],
  report: ['common', 'ir', 'onnx', 'twnn', 'contract', 'data', 'runtime'],
  web: ['common', 'ir', 'onnx', 'twnn', 'contract', 'data', 'runtime', 'autodiff'],
  bench: ['common', 'ir', 'ops', 'autodiff', 'onnx', 'twnn', 'contract', 'lower', 'data', 'runtime', 'report'],
  cli: ['common', 'ir', 'ops', 'autodiff', 'onnx', 'twnn', 'contract', 'lower', 'data', 'runtime', 'report', 'codegen', 'bench', 'web'],
};

const SRC = resolve(REPO, 'src');
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.(ts|mts)$/.test(e.name) ? [path] : [];
  });
}

/** `src/<layer>/...` → layer; src/index.ts (the public API) is above every layer. */
const layerOf = (file: string): string => relative(SRC, file).split('/')[0];

/** Every import that crosses into a layer the table does not allow, as `file: specifier`. */
function violations(): string[] {
  const out: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = layerOf(file);
    if (!(from in MAY_IMPORT)) continue; // index.ts and any top-level file: the API that imports everything
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const target = layerOf(resolve(file, '..', m[1]));
      if (target !== from && !MAY_IMPORT[from].includes(target)) out.push(`${relative(REPO, file)}: ${m[1]} (${from} -> ${target})`);
    }
  }
  return out;
}

describe('layering of src/', () => {
  it('knows every folder under src/', () => {
    const folders = readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    expect(folders.filter((f) => !(f in MAY_IMPORT))).toEqual([]);
  });

  it('imports only downwards: twnn describes, lower lowers, never back', () => {
    expect(violations()).toEqual([]);
  });

  it('catches an import back from twnn into lower', () => {
    // The scanner itself: the same pattern on a line that would break the rule.
    const line = "import { lowerFixedPoint } from '../lower/fixed-point.js';";
    const found = [...line.matchAll(IMPORT)].map((m) => layerOf(resolve(SRC, 'twnn', m[1])));
    expect(found).toEqual(['lower']);
    expect(MAY_IMPORT.twnn).not.toContain('lower');
  });

  it('is the table docs/ARCHITECTURE.md draws, layer by layer', () => {
    const page = readFileSync(join(REPO, 'docs/ARCHITECTURE.md'), 'utf8');
    const drawn: Record<string, string[]> = {};
    for (const m of page.matchAll(/^\| `(\w+)` \| [^|]+ \| ([^|]+) \|$/gm)) {
      drawn[m[1]] = m[2].trim() === '—' ? [] : [...m[2].matchAll(/`(\w+)`/g)].map((x) => x[1]);
    }
    expect(drawn).toEqual(Object.fromEntries(Object.entries(MAY_IMPORT).map(([k, v]) => [k, [...v]])));
  });
});
