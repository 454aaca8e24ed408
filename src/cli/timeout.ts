// `--timeout SECONDS` for run and eval (issue 13): a foreign Loop whose trip
// count is astronomically large never returns, and onnxruntime-node runs a
// session on the main thread, so no timer in this process can fire while it
// does. With --timeout the command runs in a child process of the same CLI;
// this process waits, and past the limit kills the child (and its session),
// says so, and exits with status 2.
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import { Option } from 'commander';
import { EXIT_USAGE } from './errors.js';
import { parsePositiveNumber } from './options.js';

/** Set in the child: it runs the command itself, without supervising again. */
const SUPERVISED = 'TWNN_SUPERVISED';

/**
 * `--timeout <seconds>`: give up on a run that takes longer.
 *
 * @example command.addOption(timeoutOption());
 */
export function timeoutOption(): Option {
  return new Option('--timeout <seconds>', 'give up (exit 2) when the model has not finished after this many seconds: a Loop may iterate without bound').argParser((v) =>
    parsePositiveNumber(v, '--timeout'),
  );
}

/**
 * With a timeout, and not already supervised: run this very command line in
 * a child process under the limit and end this process with its status (or
 * with status 2 and a message when the limit passes); returns only when the
 * command should run here.
 *
 * @example await superviseTimeout(flags.timeout, model); // then run the model
 */
export async function superviseTimeout(seconds: number | undefined, what: string): Promise<void> {
  if (seconds === undefined || process.env[SUPERVISED]) return;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, [SUPERVISED]: '1' } });
  const status = await new Promise<number>((done) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      writeSync(2, `twnn: error: ${what}: did not finish within --timeout ${seconds} s; stopped (a Loop may iterate without bound: see twnn inspect)\n`);
      done(EXIT_USAGE);
    }, seconds * 1000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      done(code ?? (signal ? 128 + 9 : 1));
    });
  });
  process.exit(status);
}
