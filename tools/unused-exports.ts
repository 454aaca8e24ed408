// Exports of src/ that nothing but the tests uses (issue 22, part 6).
//
//   npx tsx tools/unused-exports.ts [--json]
//
// Every export declared in a file under src/ is looked up in every import of
// the project (read with ts-morph and resolved through re-exports and barrels
// by the type checker): an import from src/, lab/, bin/, tools/ or graphs/ makes it
// used by the library; the public API (whatever src/index.ts exports) counts
// as used. A re-export is not a use, and neither is a use inside the
// declaring file. What is left is either imported only by test/ (`test`) or
// by nothing (`none`). A dynamic `import('...')` uses every export of its
// module; a namespace import (`import * as m`) uses
// the names it is accessed by (`m.name`), or all of them where the namespace
// itself is passed on.
import { relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Node, Project, SyntaxKind, type Identifier, type SourceFile, type Symbol as MorphSymbol } from 'ts-morph';

/** Where an import sits: a library file (src/, lab/, bin/, tools/, graphs/) or a test. */
export type UseSite = 'library' | 'test';

/** One export of src/ that the library does not use. */
export interface UnusedExport {
  /** The declaring file, relative to the project root. */
  file: string;
  name: string;
  /** `test`: imported only by tests; `none`: imported by nothing. */
  usedBy: 'test' | 'none';
  /** Test files that import it. */
  tests: string[];
}

/** How the project is laid out: which files are the library's, which are tests, where the public API is. */
export interface ProjectLayout {
  root: string;
  /** Folders (relative to root) whose exports are checked. */
  checked: readonly string[];
  /** Folders whose imports count as library uses. */
  library: readonly string[];
  /** Folders whose imports count as test uses. */
  tests: readonly string[];
  /** The public API's entry file (every export of it is used). */
  publicEntry: string;
}

/** This repository's layout. */
export const TWNN_LAYOUT: ProjectLayout = { root: '.', checked: ['src'], library: ['src', 'lab', 'bin', 'tools', 'graphs'], tests: ['test'], publicEntry: 'src/index.ts' };

/**
 * The exports of `layout.checked` that no library file imports, sorted by
 * file and name.
 *
 * @example
 * const project = new Project({ tsConfigFilePath: 'tsconfig.json' });
 * unusedExports(project, TWNN_LAYOUT).filter((u) => u.usedBy === 'test').length // 0 when every export is used
 */
export function unusedExports(project: Project, layout: ProjectLayout): UnusedExport[] {
  const root = resolve(layout.root);
  const rel = (sf: SourceFile) => relative(root, sf.getFilePath());
  const under = (sf: SourceFile, folders: readonly string[]) => folders.some((f) => rel(sf) === f || rel(sf).startsWith(`${f}/`));
  const key = (file: string, name: string) => `${file}\u0000${name}`;

  // Every export declared in a checked file (re-exports belong to their declaring file).
  const declared = new Map<string, { file: string; name: string }>();
  for (const sf of project.getSourceFiles()) {
    if (!under(sf, layout.checked)) continue;
    for (const [name, decls] of sf.getExportedDeclarations()) {
      if (decls.some((d) => d.getSourceFile() === sf)) declared.set(key(rel(sf), name), { file: rel(sf), name });
    }
  }
  const library = new Set<string>();
  const tests = new Map<string, Set<string>>();
  const use = (site: SourceFile, file: string, name: string) => {
    const k = key(file, name);
    if (!declared.has(k) || file === rel(site)) return;
    if (under(site, layout.library)) library.add(k);
    else if (under(site, layout.tests)) tests.set(k, (tests.get(k) ?? new Set()).add(rel(site)));
  };
  const useModule = (site: SourceFile, target: SourceFile | undefined) => {
    if (!target) return;
    for (const [name, decls] of target.getExportedDeclarations()) for (const d of decls) use(site, rel(d.getSourceFile()), name);
  };

  // `m.name` uses one export; `m` passed on whole (Object.values(m), f(m)) uses them all.
  const useNamespace = (site: SourceFile, ns: Identifier, target: SourceFile | undefined) => {
    if (!target) return;
    const exported = target.getExportedDeclarations();
    for (const ref of ns.findReferencesAsNodes()) {
      if (ref.getSourceFile() !== site || ref === ns) continue;
      const parent = ref.getParent();
      if (Node.isPropertyAccessExpression(parent) && parent.getExpression() === ref) {
        for (const d of exported.get(parent.getName()) ?? []) use(site, rel(d.getSourceFile()), parent.getName());
      } else if (Node.isQualifiedName(parent) && parent.getLeft() === ref) {
        for (const d of exported.get(parent.getRight().getText()) ?? []) use(site, rel(d.getSourceFile()), parent.getRight().getText());
      } else {
        return useModule(site, target);
      }
    }
  };

  const entry = project.getSourceFile(resolve(root, layout.publicEntry));
  const publish = (file: SourceFile) => {
    for (const [name, decls] of file.getExportedDeclarations()) {
      // `export * as init from './init.js'`: the namespace publishes every export of its module.
      for (const d of decls) Node.isSourceFile(d) ? publish(d) : library.add(key(rel(d.getSourceFile()), name));
    }
  };
  if (entry) publish(entry);
  for (const site of project.getSourceFiles()) {
    if (!under(site, layout.library) && !under(site, layout.tests)) continue;
    for (const imp of site.getImportDeclarations()) {
      const target = imp.getModuleSpecifierSourceFile();
      const ns = imp.getNamespaceImport();
      if (ns) useNamespace(site, ns, target);
      const def = imp.getDefaultImport();
      if (def && target) use(site, rel(target), 'default');
      for (const spec of imp.getNamedImports()) {
        for (const [file, name] of originsOf(spec.getNameNode().getSymbol())) use(site, relative(root, file), name);
      }
    }
    for (const call of site.getDescendantsOfKind(SyntaxKind.CallExpression)) {
      if (call.getExpression().getKind() !== SyntaxKind.ImportKeyword) continue;
      const [arg] = call.getArguments();
      if (arg && Node.isStringLiteral(arg)) useModule(site, resolveDynamic(project, site, arg.getLiteralValue()));
    }
  }

  return [...declared]
    .filter(([k]) => !library.has(k))
    .map(([k, { file, name }]) => ({ file, name, usedBy: tests.has(k) ? ('test' as const) : ('none' as const), tests: [...(tests.get(k) ?? [])].sort() }))
    .sort((a, b) => a.file.localeCompare(b.file) || a.name.localeCompare(b.name));
}

/** The declarations an imported name stands for, followed through every re-export, as (file, exported name). */
function originsOf(symbol: MorphSymbol | undefined): [string, string][] {
  if (!symbol) return [];
  const target = symbol.isAlias() ? symbol.getAliasedSymbol() ?? symbol : symbol;
  return target.getDeclarations().map((d) => [d.getSourceFile().getFilePath(), target.getName()]);
}

function resolveDynamic(project: Project, site: SourceFile, specifier: string): SourceFile | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = resolve(site.getDirectoryPath(), specifier);
  for (const candidate of [base, base.replace(/\.js$/, '.ts'), `${base}.ts`, resolve(base, 'index.ts')]) {
    const sf = project.getSourceFile(candidate);
    if (sf) return sf;
  }
  return undefined;
}

function format(unused: readonly UnusedExport[]): string {
  const lines: string[] = [];
  for (const kind of ['test', 'none'] as const) {
    const rows = unused.filter((u) => u.usedBy === kind);
    lines.push(kind === 'test' ? `${rows.length} exports of src/ used only by tests:` : `${rows.length} exports of src/ used by nothing:`);
    for (const u of rows) lines.push(`  ${u.file}  ${u.name}${u.tests.length > 0 ? `  (${u.tests.join(', ')})` : ''}`);
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
  const project = new Project({ tsConfigFilePath: resolve(root, 'tsconfig.json') });
  const unused = unusedExports(project, { ...TWNN_LAYOUT, root });
  console.log(process.argv.includes('--json') ? JSON.stringify(unused, null, 2) : format(unused));
}
