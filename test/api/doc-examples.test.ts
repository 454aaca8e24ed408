// Every value the public API exports (src/index.ts, the `ops` and `init`
// namespaces included) has a doc comment with an @example, and every example
// type-checks against the public API alone (issue 12, part 3). Each example
// becomes the body of its own async function in one in-memory file that
// imports all of src/index.ts; the free variables examples lean on (`ctx`,
// `x`, `graph`, ...) are declared once, typed, in PRELUDE; a name no example
// should need is reported rather than silently declared.
import { resolve } from 'node:path';
import { Node, Project, type SourceFile } from 'ts-morph';
import { describe, expect, it } from 'vitest';
import { REPO } from '../cli/run-cli.js';

interface Example {
  /** `dense`, `ops.add`, `TwnnSession`... */
  name: string;
  /** The namespace the example lives in (`ops`, `init`): its members are in scope, as in the module. */
  namespace?: string;
  where: string;
  code: string;
}

const project = new Project({ tsConfigFilePath: resolve(REPO, 'tsconfig.json'), skipAddingFilesFromTsConfig: true });
const index = project.addSourceFileAtPath(resolve(REPO, 'src/index.ts'));
project.addSourceFilesAtPaths(resolve(REPO, 'src/**/*.ts'));
/** Every name any module under src/ exports: an example that needs one the public API lacks is a bug. */
const internalNames = new Set(project.getSourceFiles().filter((f) => f.getFilePath().startsWith(`${REPO}/src/`)).flatMap((f) => [...f.getExportedDeclarations().keys()]));

function examplesOf(d: Node): string[] {
  const host = Node.isVariableDeclaration(d) ? d.getVariableStatement() : d;
  const docs = host && Node.isJSDocable(host) ? host.getJsDocs() : [];
  const own = docs.flatMap((j) => j.getTags().filter((t) => t.getTagName() === 'example').map((t) => t.getCommentText() ?? ''));
  return Node.isFunctionDeclaration(d) ? [...own, ...d.getOverloads().flatMap(examplesOf)] : own;
}

/** Every exported value with its examples (an empty list: it has none); interfaces and type aliases are skipped. */
function publicValues(): { name: string; namespace?: string; where: string; examples: string[] }[] {
  const out: { name: string; namespace?: string; where: string; examples: string[] }[] = [];
  const visit = (prefix: string, file: SourceFile) => {
    for (const [name, decls] of file.getExportedDeclarations()) {
      const d = decls[0];
      if (Node.isSourceFile(d)) {
        visit(`${prefix}${name}.`, d);
        continue;
      }
      if (Node.isInterfaceDeclaration(d) || Node.isTypeAliasDeclaration(d)) continue;
      out.push({ name: `${prefix}${name}`, ...(prefix ? { namespace: prefix.slice(0, -1) } : {}), where: `${d.getSourceFile().getFilePath().replace(`${REPO}/`, '')}:${d.getStartLineNumber()}`, examples: examplesOf(d) });
    }
  };
  visit('', index);
  return out;
}

// The names examples use without defining them, typed as a layer author or API user would have them.
const PRELUDE = `
declare const ctx: BuildContext;
declare const graph: Graph;
declare const g: Graph;
declare const body: Graph;
declare const x: Value;
declare const y: Value;
declare const a: Value;
declare const b: Value;
declare const h: Value;
declare const w: Value;
declare const weight: Value;
declare const bias: Value;
declare const logits: Value;
declare const labels: Value;
declare const spec: ModelSpec;
declare const sineMlp: ModelSpec;
declare const mnistMlp: ModelSpec;
declare const session: TwnnSession;
declare const params: ParamInfo[];
declare const bytes: Uint8Array;
declare const tensor: Tensor;
declare const dataset: Dataset;
declare const out: number;
declare const inF: number;
declare const n: number;
declare const err: unknown;
declare const readFileSync: (path: string, encoding: 'utf8') => string;
`;

/** An example as a statement list: `export default` and import lines would not parse inside a function. */
function asBody(code: string): string {
  return code
    .split('\n')
    .filter((line) => !/^\s*import\s/.test(line))
    .join('\n')
    .replace(/^\s*export default\s+/m, 'void ');
}

function compileExamples(examples: readonly Example[], free: ReadonlySet<string> = new Set()): { example: Example; message: string }[] {
  const api = resolve(REPO, 'src/index.js');
  const types = new Set(typeNames());
  const names = [...index.getExportedDeclarations().keys()].filter((n) => !types.has(n));
  const declared = [...free].map((n) => `declare const ${n}: any;`).join('\n');
  const header = `import { ${names.join(', ')} } from ${JSON.stringify(api)};\nimport type { ${[...types].join(', ')} } from ${JSON.stringify(api)};\n${PRELUDE}\n${declared}\n`;
  const members = (ns: string) => [...(index.getExportedDeclarations().get(ns)?.[0] as SourceFile).getExportedDeclarations()].filter(([, ds]) => !Node.isInterfaceDeclaration(ds[0]) && !Node.isTypeAliasDeclaration(ds[0])).map(([n]) => n);
  const scope = (e: Example) => (e.namespace ? `const { ${members(e.namespace).join(', ')} } = ${e.namespace};\n` : '');
  const bodies = examples.map((e, i) => `async function example${i}() {\n${scope(e)}${asBody(e.code)}\n}\n`);
  const file = project.createSourceFile(resolve(REPO, 'test/api/__doc_examples.ts'), header + bodies.join('\n'), { overwrite: true });
  const firstLine = (i: number) => header.split('\n').length + bodies.slice(0, i).join('\n').split('\n').length;
  const starts = examples.map((_, i) => firstLine(i));
  const failures = file.getPreEmitDiagnostics().map((d) => {
    const line = d.getLineNumber() ?? 0;
    let k = 0;
    while (k + 1 < starts.length && starts[k + 1] <= line) k++;
    const text = d.getMessageText();
    return { example: examples[k], message: typeof text === 'string' ? text : text.getMessageText() };
  });
  project.removeSourceFile(file);
  return failures;
}

function typeNames(): string[] {
  return [...index.getExportedDeclarations()].filter(([, ds]) => Node.isInterfaceDeclaration(ds[0]) || Node.isTypeAliasDeclaration(ds[0])).map(([n]) => n);
}

describe('the public API', () => {
  const values = publicValues();

  it('documents every exported value with an @example', () => {
    expect(values.length).toBeGreaterThan(100);
    expect(values.filter((v) => v.examples.length === 0).map((v) => `${v.name} (${v.where})`)).toEqual([]);
  });

  it('has examples that type-check against the public API alone', () => {
    const examples = values.flatMap((v) => v.examples.map((code) => ({ name: v.name, ...(v.namespace ? { namespace: v.namespace } : {}), where: v.where, code })));
    // Placeholders an example names without defining (\`gate\`, \`residual\`) are declared \`any\`; a name
    // some module under src/ exports is not: the public API must offer what an example uses.
    const missing = compileExamples(examples).flatMap((f) => /^Cannot find name '(\w+)'/.exec(f.message)?.[1] ?? []);
    const free = new Set(missing.filter((n) => !internalNames.has(n)));
    const failures = compileExamples(examples, free).map((f) => `${f.example.name} (${f.example.where}): ${f.message}`);
    expect(failures).toEqual([]);
  }, 120_000);

  it('catches a broken example', () => {
    const [failure] = compileExamples([{ name: 'broken', where: 'here', code: "dense('4', 4);" }]);
    expect(failure?.message).toMatch(/not assignable to parameter of type 'number'/);
  }, 120_000);
});
