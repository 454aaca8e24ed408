// Spawning the real `twnn` executable (bin/twnn.js) for the CLI tests.
import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { expect } from 'vitest';

export const REPO = resolve(import.meta.dirname, '../..');
export const TWNN = resolve(REPO, 'bin/twnn.js');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run `node bin/twnn.js ...args` (in `cwd`, default the repository, with `env` added) and collect its output. */
export function twnn(args: readonly string[], cwd = REPO, env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [TWNN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

/** A usage or input error: exit 2, exactly one `twnn: error:` line on stderr, no stack trace. */
export function expectUserError(r: CliResult, message: string | RegExp): void {
  expect(r.status, `stderr: ${r.stderr}`).toBe(2);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^twnn: error: /);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  if (typeof message === 'string') expect(lines[0]).toContain(message);
  else expect(lines[0]).toMatch(message);
}

/** Run a Python snippet with Debian's onnx/numpy (the `python3` first on PATH lacks them); returns stdout. */
export function python(code: string, args: readonly string[] = []): string {
  const r = spawnSync('/usr/bin/python3', ['-c', code, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout;
}
