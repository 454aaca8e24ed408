// Shared by the codegen tests: a scratch ES-module package for generated
// wrappers (a temp folder whose node_modules links to the repository's, so
// `onnxruntime-node` and `tsx` resolve from it as in a user's project, and
// whose package.json says "type": "module": the wrappers use import.meta.url),
// the type check, and small models.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { Graph } from '../../src/ir/index.js';
import { cast, neg, where } from '../../src/ops/index.js';
import { onnx } from '../../src/onnx/proto.js';
import { serializeModel } from '../../src/onnx/serialize.js';

export const REPO = resolve(import.meta.dirname, '../..');

export interface Workspace {
  root: string;
  /** `root` joined with `parts`. */
  path(...parts: string[]): string;
  /** Write a file under the workspace, creating folders; returns its path. */
  write(relPath: string, contents: string | Uint8Array): string;
  remove(): void;
}

/** @example const ws = createWorkspace(); ws.write('use.ts', source); ws.remove(); */
export function createWorkspace(): Workspace {
  const root = mkdtempSync(join(tmpdir(), 'twnn-codegen-'));
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'), 'dir');
  writeFileSync(join(root, 'package.json'), `${JSON.stringify({ name: 'codegen-scratch', private: true, type: 'module' })}\n`);
  const path = (...parts: string[]) => join(root, ...parts);
  return {
    root,
    path,
    write(relPath, contents) {
      const file = path(relPath);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, contents);
      return file;
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/**
 * Type-check `files` with the repository's tsconfig.json settings (strict,
 * NodeNext) and return every diagnostic as `file:line: message`. It is the
 * project's own compiler (`typescript`, what `tsc` runs), so each file's
 * module format comes from the package.json above it, as in a real build.
 *
 * @example expect(typeCheck([wrapperPath])).toEqual([]);
 */
export function typeCheck(files: readonly string[]): string[] {
  const configPath = join(REPO, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, REPO, undefined, configPath);
  const program = ts.createProgram([...files], options);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    if (!d.file || d.start === undefined) return `(global): ${message}`;
    return `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ${message}`;
  });
}

/** Import a generated module (vitest transforms .ts wherever it lives). */
export async function importModule<T>(path: string): Promise<T> {
  return (await import(pathToFileURL(path).href)) as T;
}

/**
 * Run a TypeScript script with plain Node and tsx from the workspace (not
 * through vitest), returning its stdout; a failure throws with its stderr.
 *
 * @example const out = runWithTsx(ws, ws.write('use.ts', source));
 */
export function runWithTsx(ws: Workspace, script: string): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: ws.root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`node --import tsx ${script} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/**
 * A twnn-built model with three element types and two inputs sharing `B`:
 * `y = where(mask, a, -a)` (float64) and `count = int64(mask)`.
 *
 * @example writeFileSync('mixed.onnx', mixedTypesModel());
 */
export function mixedTypesModel(): Uint8Array {
  const g = new Graph('mixed-types');
  const a = g.input('a', 'float64', ['B', 3]);
  const mask = g.input('mask', 'bool', ['B', 3]);
  g.output('y', where(g, mask, a, neg(g, a)));
  g.output('count', cast(g, mask, 'int64'));
  return serializeModel(g);
}

/**
 * A foreign model with a float16 input `h` (and output), which no JS typed array holds.
 *
 * @example writeFileSync('half.onnx', float16Model());
 */
export function float16Model(): Uint8Array {
  const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
  const type = { tensorType: { elemType: FLOAT16, shape: { dim: [{ dimParam: 'N' }] } } };
  const model = onnx.ModelProto.fromObject({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'hand-written',
    graph: { name: 'half', node: [{ opType: 'Identity', input: ['h'], output: ['out'], name: 'copy' }], input: [{ name: 'h', type }], output: [{ name: 'out', type }] },
  });
  return onnx.ModelProto.encode(model).finish();
}
