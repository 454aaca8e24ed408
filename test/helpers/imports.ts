// The relative imports of the repository's TypeScript: what the layering and
// the cycle tests (test/api/) read. A static import, an `import type`, an
// `export ... from` and a dynamic `import()` with a literal path all count;
// package imports (`commander`) are not ours and are skipped.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** A relative specifier after `from`, `import(` or a bare `import`. */
export const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

/**
 * Every .ts/.mts file under `dir`, recursively.
 *
 * @example sourceFiles('/repo/src').length; // every source file of the library
 */
export function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.(ts|mts)$/.test(e.name) ? [path] : [];
  });
}

/**
 * The relative specifiers `text` imports, each with the absolute path it
 * points at (`./x.js` as written, which NodeNext resolves to `./x.ts`).
 *
 * @example importsOf('/repo/src/twnn/a.ts', "import { b } from './b.js';"); // [{ specifier: './b.js', target: '/repo/src/twnn/b.js' }]
 */
export function importsOf(file: string, text: string): { specifier: string; target: string }[] {
  return [...text.matchAll(IMPORT)].map((m) => ({ specifier: m[1], target: resolve(file, '..', m[1]) }));
}

/**
 * The import graph of `files`: each file to the files of the set it imports
 * (a `.js` specifier read as the `.ts` source beside it).
 *
 * @example importGraph(sourceFiles('/repo/src')).get('/repo/src/cli/main.ts'); // ['/repo/src/cli/program.ts']
 */
export function importGraph(files: readonly string[]): Map<string, string[]> {
  const known = new Set(files);
  const source = (target: string) => [target, target.replace(/\.js$/, '.ts'), target.replace(/\.mjs$/, '.mts')].find((p) => known.has(p) && existsSync(p));
  return new Map(
    files.map((file) => [
      file,
      importsOf(file, readFileSync(file, 'utf8'))
        .map((i) => source(i.target))
        .filter((t): t is string => t !== undefined),
    ]),
  );
}

/**
 * The import cycles of `graph`: each strongly connected component of more
 * than one file (or a file importing itself), its files sorted, the cycles
 * sorted by their first file. Tarjan's algorithm: one depth-first walk.
 *
 * @example importCycles(new Map([['a', ['b']], ['b', ['a']], ['c', ['a']]])); // [['a', 'b']]
 */
export function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}
