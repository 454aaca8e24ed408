// The layers of src/ import only downwards (issue 12, part 6): src/twnn
// describes models and src/lower lowers them, so twnn never imports lower; the
// IR and the ops know nothing of models. Every static import, `import type`
// and dynamic `import()` of every source file is checked against the table.
// The research lab (lab/: benchmarks, the paper and study runners) sits above
// all of src/ and outside it (issue 22, part 4): it may import anything of
// src/, and src/ imports nothing of it but through the CLI's guarded seam.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../cli/run-cli.js';
import { IMPORT, importsOf, sourceFiles } from '../helpers/imports.js';

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
  web: ['common', 'ir', 'onnx', 'twnn', 'contract', 'data', 'runtime', 'autodiff', 'report'],
  cli: ['common', 'ir', 'ops', 'autodiff', 'onnx', 'twnn', 'contract', 'lower', 'data', 'runtime', 'report', 'codegen', 'web'],
};

const SRC = resolve(REPO, 'src');
const LAB = resolve(REPO, 'lab');
/** The one file of src/ that names the lab: it imports lab/cli/bench.ts when a checkout has it (no static import). */
const LAB_SEAM = 'src/cli/lab.ts';
/** A path into lab/ written in a string: how src/ could reach the lab without an import the scanner sees. */
const LAB_PATH = /['"`](?:\.{1,2}\/)+lab\//;

/** `src/<layer>/...` → layer; src/index.ts (the public API) is above every layer. */
const layerOf = (file: string): string => relative(SRC, file).split('/')[0];

/** Every import that crosses into a layer the table does not allow, as `file: specifier`. */
function violations(): string[] {
  const out: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = layerOf(file);
    if (!(from in MAY_IMPORT)) continue; // index.ts and any top-level file: the API that imports everything
    for (const { specifier, target } of importsOf(file, readFileSync(file, 'utf8'))) {
      const to = layerOf(target);
      if (to !== from && !MAY_IMPORT[from].includes(to)) out.push(`${relative(REPO, file)}: ${specifier} (${from} -> ${to})`);
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

describe('the lab (lab/) and the library (src/)', () => {
  const inside = (dir: string, path: string) => !relative(dir, path).startsWith('..');

  it('lab/ imports only itself and src/ (not the tests, the tools or the graphs)', () => {
    const out = sourceFiles(LAB).flatMap((file) =>
      importsOf(file, readFileSync(file, 'utf8'))
        .filter(({ target }) => !inside(LAB, target) && !inside(SRC, target))
        .map(({ specifier }) => `${relative(REPO, file)}: ${specifier}`),
    );
    expect(out).toEqual([]);
  });

  it('src/ imports nothing of lab/, and names it only in the guarded registration', () => {
    const files = sourceFiles(SRC);
    const imports = files.flatMap((file) =>
      importsOf(file, readFileSync(file, 'utf8'))
        .filter(({ target }) => inside(LAB, target))
        .map(({ specifier }) => `${relative(REPO, file)}: ${specifier}`),
    );
    expect(imports).toEqual([]);
    const naming = files.filter((file) => LAB_PATH.test(readFileSync(file, 'utf8'))).map((file) => relative(REPO, file));
    expect(naming).toEqual([LAB_SEAM]);
    // The seam imports the lab only where the file is there: an installed package has no lab/.
    expect(readFileSync(resolve(REPO, LAB_SEAM), 'utf8')).toMatch(/if \(existsSync\(lab\)\) \{\s*const \{ registerBench \} = \(await import\(lab\.href\)\)/);
  });

  it('catches an import of the lab from src/ and a string path into it', () => {
    const line = "const { BENCH_SUBCOMMANDS } = await import('../../lab/cli/bench.js');";
    expect(importsOf(resolve(SRC, 'cli/x.ts'), line).map(({ target }) => inside(LAB, target))).toEqual([true]);
    expect(LAB_PATH.test("new URL('../../lab/cli/bench.ts', import.meta.url)")).toBe(true);
    expect(LAB_PATH.test("'lab.js'")).toBe(false);
  });
});
