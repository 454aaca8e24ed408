// A PyTorch worker process (python/twnn_torch.py) driven over
// stdin/stdout: one JSON command per line, one JSON answer per line, one
// command at a time. OpenBLAS reads OPENBLAS_NUM_THREADS once, when the
// process starts, so each OpenBLAS setting is its own worker.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { TwnnError } from '../../src/common/errors.js';

/** Debian's python3, which sees Debian's torch 1.13 (the python3 first on PATH may not). */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/** The reference script, found from this module: lab/bench/ and dist/bench/ both sit two folders below the repository. */
export const TORCH_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'python', 'twnn_torch.py');

export interface TorchWorkerOptions {
  /** OPENBLAS_NUM_THREADS for the process; undefined: OpenBLAS's default (every core). */
  openblasThreads?: number;
  python?: string;
  script?: string;
}

/** A command's answer: `ok` and the command's fields. */
export type TorchReply = Record<string, unknown>;

/**
 * One running worker.
 *
 * @example
 * const w = await TorchWorker.start({ openblasThreads: 1 });
 * const hello = await w.call({ cmd: 'hello' });
 * await w.close();
 */
export class TorchWorker {
  private readonly lines: AsyncIterator<string>;
  private stderr = '';
  private exited: string | undefined;
  private busy: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    /** `OPENBLAS_NUM_THREADS=1` or `OpenBLAS default`, for messages and the report. */
    readonly label: string,
  ) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    child.on('exit', (code, signal) => {
      this.exited = `exited with ${signal ?? `status ${code}`}`;
    });
  }

  /** Start a worker; a python without torch, onnx or numpy fails here, saying so. */
  static async start(options: TorchWorkerOptions = {}): Promise<TorchWorker> {
    const python = options.python ?? SYSTEM_PYTHON;
    const script = options.script ?? TORCH_SCRIPT;
    if (!existsSync(python)) throw new TwnnError(`bench torch: ${python} is missing (install Debian's python3-torch, python3-onnx and python3-numpy)`);
    if (!existsSync(script)) throw new TwnnError(`bench torch: the torch reference ${script} is missing`);
    const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1' };
    delete env.OPENBLAS_NUM_THREADS;
    if (options.openblasThreads !== undefined) env.OPENBLAS_NUM_THREADS = String(options.openblasThreads);
    const child = spawn(python, [script], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const label = options.openblasThreads === undefined ? 'OpenBLAS default' : `OPENBLAS_NUM_THREADS=${options.openblasThreads}`;
    const worker = new TorchWorker(child, label);
    await worker.call({ cmd: 'hello' });
    return worker;
  }

  /** The worker's process id. */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Send one command and wait for its answer; `ok: false` becomes a TwnnError naming the command. */
  call(command: Record<string, unknown>): Promise<TorchReply> {
    const next = this.busy.then(() => this.exchange(command));
    this.busy = next.catch(() => {});
    return next;
  }

  private async exchange(command: Record<string, unknown>): Promise<TorchReply> {
    const what = `torch worker (${this.label}), command '${String(command.cmd)}'`;
    if (this.exited) throw new TwnnError(`${what}: the worker ${this.exited}: ${this.stderr.trim()}`);
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
    const line = await this.lines.next();
    if (line.done) throw new TwnnError(`${what}: the worker ended without an answer${this.exited ? ` (${this.exited})` : ''}: ${this.stderr.trim()}`);
    const reply = JSON.parse(line.value) as TorchReply;
    if (reply.ok !== true) throw new TwnnError(`${what} failed: ${String(reply.error)}\n${String(reply.trace ?? '')}`);
    return reply;
  }

  /**
   * Freeze the worker (SIGSTOP) or let it go on (SIGCONT). An idle worker's
   * OpenMP threads keep spinning, so while the other side is timed its
   * workers are frozen (lab/bench/torch.ts `timedAlone`).
   */
  freeze(frozen: boolean): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
  }

  /** End the worker: close its stdin and wait for it (killing it after a few seconds). */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const done = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(timer);
  }
}

/**
 * The pause before each timed pass. Idle threads keep spinning for a while
 * after their work (OpenBLAS's for about 2^28 cycles, 0.1 s here; OpenMP's and
 * onnxruntime's for less) and would slow whichever side runs next.
 */
const SETTLE_MS = 200;

/**
 * Run `pass` with every torch worker but `running` frozen. Idle PyTorch
 * workers slow whatever runs beside them and the slowdown does not fade with
 * a pause: with them alive, twnn's ResNet inference at batch 64 took 158–346
 * ms a pass even 1 s after the last torch call, against 140–149 ms with their
 * OpenMP threads told to wait passively (which slows torch itself) or frozen.
 *
 * @example const ms = await timedAlone(workers, workers[0], () => timeTorchPass());
 */
export async function timedAlone<T>(workers: readonly TorchWorker[], running: TorchWorker | undefined, pass: () => Promise<T>): Promise<T> {
  const others = workers.filter((w) => w !== running);
  others.forEach((w) => w.freeze(true));
  try {
    await sleep(SETTLE_MS);
    return await pass();
  } finally {
    others.forEach((w) => w.freeze(false));
  }
}
