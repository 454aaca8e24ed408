// Runs tools/onnx_check.py (Debian's python3-onnx 1.12: checker + strict shape inference) on models.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One file's verdict, as the script prints it. */
export interface OnnxCheckResult {
  file: string;
  ok: boolean;
  error: string | null;
}

const SCRIPT = resolve(fileURLToPath(import.meta.url), '../../../tools/onnx_check.py');
// The first python3 on PATH does not see Debian's onnx package.
const PYTHON = '/usr/bin/python3';

/**
 * Check models (bytes are written to temp files, strings are paths) with
 * onnx.checker (full_check) and strict shape inference; one result per model, in order.
 *
 * @example
 * const [r] = checkOnnx(serializeModel(g));
 * expect(r.error).toBeNull();
 */
export function checkOnnx(models: Uint8Array | string | readonly (Uint8Array | string)[]): OnnxCheckResult[] {
  const list = Array.isArray(models) ? models : [models as Uint8Array | string];
  const dir = mkdtempSync(join(tmpdir(), 'twnn-onnx-check-'));
  try {
    const paths = list.map((m, i) => {
      if (typeof m === 'string') return m;
      const p = join(dir, `model_${i}.onnx`);
      writeFileSync(p, m);
      return p;
    });
    const run = spawnSync(PYTHON, [SCRIPT, ...paths], { encoding: 'utf8', timeout: 120_000 });
    if (run.error) throw new Error(`cannot run ${PYTHON} ${SCRIPT}: ${run.error.message}`);
    const results = run.stdout.split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line) as OnnxCheckResult);
    if (results.length !== paths.length) {
      throw new Error(`onnx_check.py gave ${results.length} results for ${paths.length} files (exit ${run.status}): ${run.stderr}`);
    }
    const anyFailed = results.some((r) => !r.ok);
    if ((run.status === 1) !== anyFailed) throw new Error(`onnx_check.py exit status ${run.status} disagrees with its results`);
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Throw unless every model passes the checker; the message lists each failure.
 *
 * @example expectOnnxValid(serializeModel(g));
 */
export function expectOnnxValid(models: Uint8Array | string | readonly (Uint8Array | string)[]): void {
  const failed = checkOnnx(models).filter((r) => !r.ok);
  if (failed.length > 0) {
    throw new Error(`onnx checker rejected ${failed.length} model(s):\n${failed.map((r) => `  ${r.file}: ${r.error}`).join('\n')}`);
  }
}

/**
 * Run a Python snippet under /usr/bin/python3 (which has Debian's onnx and
 * torch) with `args` as sys.argv[1:], and parse what it prints as JSON — for
 * reference values computed by code twnn did not write.
 *
 * @example const names = pythonJson<string[]>('import onnx,sys,json; print(json.dumps([i.name for i in onnx.load(sys.argv[1]).graph.initializer]))', [path]);
 */
export function pythonJson<T>(code: string, args: readonly string[] = []): T {
  const run = spawnSync(PYTHON, ['-c', code, ...args], { encoding: 'utf8', timeout: 120_000 });
  if (run.error || run.status !== 0) throw new Error(`python reference failed (exit ${run.status}): ${run.error?.message ?? run.stderr}`);
  return JSON.parse(run.stdout) as T;
}
