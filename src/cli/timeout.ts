// `--timeout SECONDS` for run and eval (issue 13): a foreign Loop whose trip
// count is astronomically large never returns, and onnxruntime-node runs a
// session on the main thread, so no timer in this process can fire while it
// does. With --timeout the command runs in a child process of the same CLI;
// this process waits, and past the limit kills the child (and its session),
// says so, and exits with status 2. The child never outlives this process
// (issue 23, item 6: killing the parent left it spinning at 100% forever):
// TERM, INT and HUP kill it before this process goes, and a watchdog thread in
// the child, which runs while the session holds the main thread, kills it
// when its parent is gone (SIGKILL gives the parent no say).
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { Option } from 'commander';
import { EXIT_USAGE } from './errors.js';
import { parsePositiveNumber } from './options.js';

/** Set in the child to its parent's pid: it runs the command itself, without supervising again, and watches that pid. */
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
  if (seconds === undefined) return;
  if (process.env[SUPERVISED]) return watchParent(Number(process.env[SUPERVISED]));
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, [SUPERVISED]: String(process.pid) } });
  // Stopped ourselves, we stop the child first: it cannot be interrupted, only killed.
  const signals = { SIGTERM: 15, SIGINT: 2, SIGHUP: 1 } as const;
  for (const [signal, number] of Object.entries(signals)) {
    process.once(signal, () => {
      child.kill('SIGKILL');
      process.exit(128 + number);
    });
  }
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

/** How often the child's watchdog looks for its parent. */
const WATCH_MS = 200;

/**
 * In the supervised child: a thread that kills this process once its parent
 * is gone (the parent pid changes when the parent dies). It runs beside the
 * main thread, which a session may hold for as long as its Loop spins, and
 * does not keep the process alive. The parent's pid comes from the parent
 * itself, not from process.ppid here: on a loaded machine the parent can be
 * killed while this child still loads its modules, and the ppid read then is
 * already the reaper's (a loaded CI run left such a child spinning).
 */
function watchParent(parent: number): void {
  const code = `
    const { workerData } = require('node:worker_threads');
    setInterval(() => { if (process.ppid !== workerData.parent) process.kill(workerData.self, 'SIGKILL'); }, ${WATCH_MS});
  `;
  new Worker(code, { eval: true, workerData: { parent, self: process.pid } }).unref();
}
