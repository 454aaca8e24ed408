// Op coverage: for every registered op, whether it has a typed emitter, a shape rule, a VJP
// (a rule, 'none', or a lowering that differentiates it), a forward test and a gradient test.
//
//   npx tsx tools/op-coverage.ts [--json]      (npm run coverage:ops)
//
// The source is read with ts-morph: the OpDef declarations each family file lists
// for the op table (`export const <FAMILY>_OPS: readonly OpDef[] = [...]`, src/ops/table.ts), the properties they declare (through factories and spreads),
// the VJP rules listed for the VJP table (`export const <FAMILY>_VJPS = [[Op, rule], ...]` in src/ops/vjp/, src/ops/vjp-table.ts),
// the exported emitters that emit them, and the test files under test/ops/ that refer to
// an emitter or the OpDef. The runtime registry (src/ops/index.ts) is the list of ops and
// the truth about each property; where the source says otherwise, that is reported too.
// Exits 1 when any op misses a column.
import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Node, Project, SyntaxKind, type CallExpression, type Identifier, type SourceFile } from 'ts-morph';
import * as ir from '../src/ir/index.js';
import * as ops from '../src/ops/index.js';
import { GRAD_TABLE } from '../test/autodiff/grad-cases.js';

/** One op's row of the report. */
export interface OpCoverage {
  op: string;
  /** The OpDef's exported name and the family file that registers it. */
  opDef: string;
  family: string;
  /** Exported emitters of the family file that emit the op. */
  emitters: string[];
  shapeRule: boolean;
  vjp: 'rule' | 'none' | 'lowered' | undefined;
  /** Test files under test/ops/ that refer to an emitter or the OpDef. */
  forwardTests: string[];
  /** How the gradient table covers the op: its case count, 'none' or 'lowered'. */
  gradientTest: string | undefined;
  /** The columns this op lacks. */
  missing: string[];
}

export interface CoverageReport {
  ops: OpCoverage[];
  /** Disagreements between the source analysis and the runtime registry. */
  problems: string[];
}

const COLUMNS = ['emit', 'shape rule', 'VJP', 'forward test', 'gradient test'] as const;
const repoRoot = fileURLToPath(new URL('../', import.meta.url));

/** A function-like declaration whose body can be searched: function, method, or a const bound to an arrow. */
type Callable = Node;

/**
 * Analyse the repository at `root` and return one row per registered op.
 *
 * @example
 * const report = analyzeOpCoverage();
 * report.ops.filter((row) => row.missing.length > 0); // ops lacking a column
 */
export function analyzeOpCoverage(root = repoRoot): CoverageReport {
  const project = new Project({ tsConfigFilePath: resolve(root, 'tsconfig.json'), skipAddingFilesFromTsConfig: true, skipFileDependencyResolution: true });
  project.addSourceFilesAtPaths([resolve(root, 'src/ir/**/*.ts'), resolve(root, 'src/ops/**/*.ts'), resolve(root, 'test/ops/**/*.ts')]);
  const problems: string[] = [];
  const rel = (file: SourceFile) => relative(root, file.getFilePath());

  // OpDef declarations, keyed by their exported name, with the family file listing each.
  const opFiles = project.getSourceFiles(resolve(root, 'src/ops/**/*.ts'));
  const families = new Map<string, { decl: Node; family: SourceFile }>();
  for (const { file, list, element } of familyListEntries(opFiles, 'OPS')) {
    const decl = Node.isIdentifier(element) ? declarationOf(element) : undefined;
    if (!decl) problems.push(`${rel(file)}: ${list} entry '${element.getText()}' does not resolve to a declaration`);
    else families.set(element.getText(), { decl, family: file });
  }

  // OpDef declarations whose VJP rule a `<FAMILY>_VJPS` list (`[[Op, rule], ...]`) gives, for the VJP table.
  const vjpListed = new Set<Node>();
  for (const { file, list, element } of familyListEntries(opFiles, 'VJPS')) {
    const op = Node.isArrayLiteralExpression(element) ? element.getElements()[0] : undefined;
    const decl = op && Node.isIdentifier(op) ? declarationOf(op) : undefined;
    if (!decl) problems.push(`${rel(file)}: ${list} entry '${element.getText()}' does not name an OpDef`);
    else vjpListed.add(decl);
  }

  const runtimeByName = new Map<string, ir.OpDef>();
  for (const [name, value] of [...Object.entries(ir), ...Object.entries(ops)]) {
    if (isOpDef(value)) runtimeByName.set(name, value);
  }
  const nameOf = new Map<ir.OpDef, string>();
  for (const name of families.keys()) {
    const op = runtimeByName.get(name);
    if (op) nameOf.set(op, name);
    else problems.push(`${name} is registered in ${rel(families.get(name)!.family)} but not exported from src/ops or src/ir`);
  }

  const testFiles = project.getSourceFiles(resolve(root, 'test/ops/**/*.ts'));
  const rows = ops.allOps().map((op): OpCoverage => {
    const opType = op.domain ? `${op.domain}::${op.opType}` : op.opType;
    const name = nameOf.get(op);
    const found = name ? families.get(name) : undefined;
    if (!found) {
      problems.push(`${opType} is in the runtime registry, but no family list (<FAMILY>_OPS) in src/ops names it`);
      const row: OpCoverage = { op: opType, opDef: '?', family: '?', emitters: [], shapeRule: false, vjp: undefined, forwardTests: [], gradientTest: undefined, missing: [] };
      return { ...row, missing: [...COLUMNS] };
    }
    const { decl, family } = found;
    const emitters = emittersOf(family, decl);
    const shapeRule = typeof op.infer === 'function';
    const entry = GRAD_TABLE.get(opType);
    const rule = ops.vjpRuleOf(op);
    const vjp = typeof rule === 'function' ? 'rule' : rule === 'none' ? 'none' : entry?.kind === 'lowered' ? 'lowered' : undefined;
    // Cross-check: the source must declare what the registry holds.
    if (declaresProperty(decl, 'infer') !== shapeRule) problems.push(`${opType}: the source and the registry disagree on whether it has a shape rule`);
    if ((declaresProperty(decl, 'vjp') || vjpListed.has(decl)) !== (rule !== undefined)) problems.push(`${opType}: the source and the registry disagree on whether it has a VJP`);
    const names = new Set([name!, ...emitters]);
    const targets = new Set<Node>([decl, ...emitters.map((e) => exportedCallable(family, e)!).filter(Boolean)]);
    const forwardTests = testFiles.filter((file) => refersTo(file, names, targets)).map(rel);
    const gradientTest = !entry ? undefined : entry.kind === 'cases' ? `${entry.cases.length} case${entry.cases.length === 1 ? '' : 's'}` : entry.kind;
    const have = [emitters.length > 0, shapeRule, vjp !== undefined, forwardTests.length > 0, gradientTest !== undefined];
    return {
      op: opType,
      opDef: name!,
      family: rel(family),
      emitters,
      shapeRule,
      vjp,
      forwardTests,
      gradientTest,
      missing: COLUMNS.filter((_, i) => !have[i]),
    };
  });
  for (const [op, entry] of GRAD_TABLE) {
    if (!rows.some((r) => r.op === op)) problems.push(`test/autodiff/grad-cases.ts has an entry for '${op}', which is not a registered op`);
    if (entry.kind === 'lowered' && !existsSync(resolve(root, entry.testedIn))) problems.push(`${op}: its lowering's test file ${entry.testedIn} does not exist`);
  }
  return { ops: rows, problems };
}

/** Every element of the array literals bound to `<FAMILY>_<suffix>` (`ELEMENTWISE_OPS`, `SHAPE_VJPS`) in `files`. */
function familyListEntries(files: readonly SourceFile[], suffix: string): { file: SourceFile; list: string; element: Node }[] {
  const pattern = new RegExp(`^[A-Z]+_${suffix}$`);
  return files.flatMap((file) =>
    file.getVariableDeclarations().flatMap((v) => {
      const list = v.getInitializer();
      if (!pattern.test(v.getName()) || !Node.isArrayLiteralExpression(list)) return [];
      return list.getElements().map((element) => ({ file, list: v.getName(), element }));
    }),
  );
}

function isOpDef(value: unknown): value is ir.OpDef {
  return typeof value === 'object' && value !== null && typeof (value as ir.OpDef).opType === 'string' && typeof (value as ir.OpDef).infer === 'function';
}

/** The declaration an identifier names, through imports and re-exports. */
function declarationOf(id: Identifier): Node | undefined {
  let symbol = id.getSymbol();
  if (symbol?.isAlias()) symbol = symbol.getAliasedSymbol();
  return symbol?.getDeclarations()[0];
}

/** The searchable body of a function-like declaration, or undefined for anything else. */
function bodyOf(decl: Node | undefined): Callable | undefined {
  if (!decl) return undefined;
  if (Node.isFunctionDeclaration(decl) || Node.isMethodDeclaration(decl)) return decl;
  if (Node.isVariableDeclaration(decl)) {
    const init = decl.getInitializer();
    if (init && (Node.isArrowFunction(init) || Node.isFunctionExpression(init))) return init;
  }
  return undefined;
}

/** The function a call invokes, when it is a function or method declared in the analysed source. */
function calleeOf(call: CallExpression): Callable | undefined {
  const callee = call.getExpression();
  const id = Node.isPropertyAccessExpression(callee) ? callee.getNameNode() : Node.isIdentifier(callee) ? callee : undefined;
  return id ? bodyOf(declarationOf(id)) : undefined;
}

const isNodeCall = (call: CallExpression) => {
  const callee = call.getExpression();
  return Node.isPropertyAccessExpression(callee) && callee.getName() === 'node';
};

/** Whether an argument expression names `decl` (the OpDef, or a parameter standing for it). */
function names(arg: Node | undefined, decl: Node): boolean {
  return !!arg && Node.isIdentifier(arg) && declarationOf(arg) === decl;
}

/**
 * Whether `fn` emits a node of the OpDef `decl`: it calls `.node(decl, ...)`; or it passes
 * `decl` to a helper that calls `.node(param, ...)` with that parameter (emitReduce); or it
 * calls an IR method that calls `.node(decl, ...)` itself (Graph.constant). Calling another
 * op family emitter does not count: `reshapeLike` uses `shapeOf` but is no Shape emitter.
 */
function emits(fn: Callable, decl: Node): boolean {
  const calls = fn.getDescendantsOfKind(SyntaxKind.CallExpression);
  if (calls.some((call) => isNodeCall(call) && names(call.getArguments()[0], decl))) return true;
  return calls.some((call) => {
    const callee = calleeOf(call);
    if (!callee || callee === fn) return false;
    const inner = callee.getDescendantsOfKind(SyntaxKind.CallExpression).filter(isNodeCall);
    const inIr = callee.getSourceFile().getFilePath().includes('/src/ir/');
    if (inIr && inner.some((c) => names(c.getArguments()[0], decl))) return true;
    const params = Node.isFunctionDeclaration(callee) || Node.isMethodDeclaration(callee) || Node.isArrowFunction(callee) || Node.isFunctionExpression(callee) ? callee.getParameters() : [];
    return call.getArguments().some((arg, i) => names(arg, decl) && params[i] && inner.some((c) => names(c.getArguments()[0], params[i])));
  });
}

/** An exported function-like declaration of `file` by name. */
function exportedCallable(file: SourceFile, name: string): Callable | undefined {
  return bodyOf(file.getExportedDeclarations().get(name)?.[0]);
}

/** Names of `family`'s exported functions that emit the OpDef `decl`, sorted. */
function emittersOf(family: SourceFile, decl: Node): string[] {
  const found: string[] = [];
  for (const [name, decls] of family.getExportedDeclarations()) {
    const fn = bodyOf(decls[0]);
    if (fn && decls[0].getSourceFile() === family && emits(fn, decl)) found.push(name);
  }
  return found.sort();
}

/**
 * Whether the OpDef declaration `decl` gives the object property `prop`: in its object
 * literal, or through a spread or the object a factory returns. A later assignment
 * (`IdentityOp.vjp = ...`) does not count: ops get nothing attached on import.
 */
function declaresProperty(decl: Node, prop: string): boolean {
  const visited = new Set<Node>();
  const inExpression = (expr: Node | undefined): boolean => {
    if (!expr || visited.has(expr)) return false;
    visited.add(expr);
    if (Node.isParenthesizedExpression(expr) || Node.isAsExpression(expr) || Node.isSatisfiesExpression(expr)) return inExpression(expr.getExpression());
    if (Node.isObjectLiteralExpression(expr)) {
      return expr.getProperties().some((p) => (Node.isSpreadAssignment(p) ? inExpression(p.getExpression()) : 'getName' in p && p.getName() === prop));
    }
    if (Node.isIdentifier(expr)) {
      const target = declarationOf(expr);
      return !!target && Node.isVariableDeclaration(target) && inExpression(target.getInitializer());
    }
    if (Node.isCallExpression(expr)) {
      const factory = calleeOf(expr);
      if (!factory) return false;
      if (Node.isArrowFunction(factory) && !Node.isBlock(factory.getBody())) return inExpression(factory.getBody());
      return factory.getDescendantsOfKind(SyntaxKind.ReturnStatement).some((r) => inExpression(r.getExpression()));
    }
    return false;
  };
  return Node.isVariableDeclaration(decl) && inExpression(decl.getInitializer());
}

/** Whether `file` has an identifier among `names` that resolves to one of `targets`. */
function refersTo(file: SourceFile, names: ReadonlySet<string>, targets: ReadonlySet<Node>): boolean {
  return file.getDescendantsOfKind(SyntaxKind.Identifier).some((id) => {
    if (!names.has(id.getText())) return false;
    const decl = declarationOf(id);
    return !!decl && (targets.has(decl) || targets.has(bodyOf(decl) ?? decl));
  });
}

/**
 * The report as a markdown table, followed by the ops lacking a column and any problems.
 *
 * @example console.log(formatCoverage(analyzeOpCoverage()));
 */
export function formatCoverage(report: CoverageReport): string {
  const cell = (ok: boolean, detail: string) => (ok ? `✓ ${detail}`.trim() : '✗');
  const lines = [
    '| op | family | emit | shape rule | VJP | forward test | gradient test |',
    '|---|---|---|---|---|---|---|',
    ...report.ops.map((r) =>
      [
        r.op,
        r.family.replace(/^src\/ops\//, ''),
        cell(r.emitters.length > 0, r.emitters.join(', ')),
        cell(r.shapeRule, ''),
        cell(r.vjp !== undefined, r.vjp ?? ''),
        cell(r.forwardTests.length > 0, r.forwardTests.map((f) => f.replace(/^test\/ops\//, '')).join(', ')),
        cell(r.gradientTest !== undefined, r.gradientTest ?? ''),
      ].join(' | '),
    ).map((row) => `| ${row} |`),
  ];
  const lacking = report.ops.filter((r) => r.missing.length > 0);
  lines.push('', `${report.ops.length} ops, ${report.ops.length - lacking.length} complete.`);
  for (const r of lacking) lines.push(`- ${r.op} lacks: ${r.missing.join(', ')}`);
  for (const p of report.problems) lines.push(`- problem: ${p}`);
  return lines.join('\n');
}

function main(argv: readonly string[]): number {
  const report = analyzeOpCoverage();
  console.log(argv.includes('--json') ? JSON.stringify(report, null, 2) : formatCoverage(report));
  return report.ops.some((r) => r.missing.length > 0) || report.problems.length > 0 ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) process.exitCode = main(process.argv.slice(2));
