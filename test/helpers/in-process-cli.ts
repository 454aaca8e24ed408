// Running the CLI in the test's own process (no child, so it is a unit test),
// capturing what it prints.
import { vi } from 'vitest';
import { runCli } from '../../src/cli/program.js';

/** What one in-process CLI call printed, and its exit status ('threw' if an exception escaped runCli). */
export interface Outcome {
  status: number | 'threw';
  stdout: string;
  stderr: string;
}

/**
 * Run `twnn ...args` in this process, capturing stdout and stderr.
 *
 * @example const o = await cli(['inspect', 'model.onnx']); o.status; // 0
 */
export async function cli(args: string[]): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    return { status: await runCli(args), stdout, stderr };
  } catch (e) {
    return { status: 'threw', stdout, stderr: `${stderr}${String((e as Error)?.stack ?? e)}` };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/**
 * Run `body` with a pretend Ctrl-C delivered to whatever waits for SIGINT
 * (`twnn web` serves until one), as soon as it starts waiting.
 *
 * @example const o = await withPretendCtrlC(() => cli(['web', 'exported/sine', '--port', '0']));
 */
export async function withPretendCtrlC<T>(body: () => Promise<T>): Promise<T> {
  const once = process.once.bind(process);
  const spy = vi
    .spyOn(process, 'once')
    .mockImplementation(((event: string, listener: () => void) => (event === 'SIGINT' ? (setImmediate(listener), process) : once(event, listener))) as typeof process.once);
  try {
    return await body();
  } finally {
    spy.mockRestore();
  }
}
