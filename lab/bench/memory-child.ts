// The fresh process of one memory measurement (lab/bench/memory.ts spawns it):
// open a session on `<job>/model.onnx`, read the feeds, note the resident set,
// reset the peak, run once, read the peak. It imports onnxruntime-node and
// node:fs only, so nothing but the session and its feeds shares the process.
//
// Usage: node --expose-gc --import tsx lab/bench/memory-child.ts <job folder>
// Prints one JSON line (a ChildReport, below) on stdout.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

/** job.json, written by the parent. */
export interface ChildJob {
  /** onnxruntime's CPU memory arena (false: every buffer goes back to malloc when freed). */
  arena: boolean;
  /** Each feed's raw little-endian bytes lie in `<job>/<file>`. */
  feeds: { name: string; type: 'float32' | 'float64' | 'int64'; dims: number[]; file: string }[];
  /** int64 outputs whose per-sample values are reported (counts). */
  counts: string[];
}

/** What the child prints, sizes in KiB as /proc/self/status gives them. */
export interface ChildReport {
  /** VmHWM after session creation and feed setup (before the reset). */
  creationPeakKiB: number;
  /** VmRSS just before the step. */
  baselineKiB: number;
  /** VmHWM after the step. */
  peakKiB: number;
  /** Whether writing 5 to /proc/self/clear_refs reset the peak before the step (else peakKiB includes creation). */
  hwmReset: boolean;
  stepMs: number;
  /** Per-sample values of the job's count outputs. */
  counts: Record<string, number[]>;
}

function memory(): { rss: number; hwm: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

function feedTensor(dir: string, f: ChildJob['feeds'][number]): ort.Tensor {
  const bytes = readFileSync(join(dir, f.file));
  // Copy into an aligned buffer: a Buffer's byteOffset need not be a multiple of 8.
  const raw = new Uint8Array(bytes).buffer;
  const data = f.type === 'float32' ? new Float32Array(raw) : f.type === 'float64' ? new Float64Array(raw) : new BigInt64Array(raw);
  return new ort.Tensor(f.type, data, f.dims);
}

async function main(dir: string): Promise<void> {
  const job = JSON.parse(readFileSync(join(dir, 'job.json'), 'utf8')) as ChildJob;
  const session = await ort.InferenceSession.create(join(dir, 'model.onnx'), {
    executionProviders: ['cpu'],
    enableCpuMemArena: job.arena,
  });
  const feeds = Object.fromEntries(job.feeds.map((f) => [f.name, feedTensor(dir, f)]));
  // Garbage from reading the feeds must not be collected during the step (the parent passes --expose-gc).
  (globalThis as { gc?: () => void }).gc?.();
  const created = memory();
  let hwmReset = true;
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    hwmReset = false;
  }
  const before = memory();
  const start = performance.now();
  const out = await session.run(feeds);
  const stepMs = performance.now() - start;
  const after = memory();
  const counts = Object.fromEntries(job.counts.map((name) => [name, Array.from(out[name].data as BigInt64Array, Number)]));
  const report: ChildReport = { creationPeakKiB: created.hwm, baselineKiB: before.rss, peakKiB: after.hwm, hwmReset, stepMs, counts };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  await session.release();
}

await main(process.argv[2]);
