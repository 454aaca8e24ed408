// Peak memory of one training step of a trained run's train.onnx, measured in
// a fresh child process by the memory benchmark's child (memory-child.ts):
// VmHWM after the step, with the mark reset just before it, against VmRSS
// before it, with onnxruntime's arena off and glibc's allocator set to return
// freed buffers at once (CHILD_MALLOC), so the peak is the step's own tensors.
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TwnnError } from '../../src/common/errors.js';
import type { Tensor } from '../../src/ir/tensor.js';
import { TRAIN_FILE } from '../../src/contract/files.js';
import { CHILD_MALLOC } from './memory.js';
import type { ChildJob, ChildReport } from './memory-child.js';
import { trainFeeds } from '../../src/runtime/train-feeds.js';
import type { StepGraph } from './step-graph.js';

/** What the child measured, in kB (/proc's kB are KiB). */
export interface StepMemory {
  /** Resident set size with the session open and the feeds in memory, before the step. */
  rssBeforeKb: number;
  /** The process's peak resident set size during the step. */
  peakKb: number;
  /** peakKb − rssBeforeKb: what the step itself needed on top. */
  stepKb: number;
  /** Mean forward sweeps per sample in the measured step (train.onnx's `iterations`). */
  sweeps: number;
}

const CHILD = fileURLToPath(new URL(`./memory-child${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

/**
 * Run one training step of the export in `dir` (its train.onnx, or
 * `graph.path` where that lies elsewhere, under `graph.renames`, fed model.onnx's weights — a
 * trained run's final ones — zero optimizer state, and the batch `x`,
 * `target`) in a child process and report its peak resident memory.
 *
 * @example const m = await measureStepMemory('exported/paper/mnist-mlp', x, target); // m.stepKb
 */
export async function measureStepMemory(dir: string, x: Tensor, target: Tensor, graph?: Pick<StepGraph, 'path' | 'renames'>): Promise<StepMemory> {
  const trainPath = graph?.path ?? join(dir, TRAIN_FILE);
  const values = await trainFeeds(dir, x, target, graph?.renames);
  const job = await mkdtemp(join(tmpdir(), 'twnn-step-memory-'));
  try {
    const feeds: ChildJob['feeds'] = [];
    for (const [i, [name, t]] of [...values].entries()) {
      if (t.dtype !== 'float32' && t.dtype !== 'float64' && t.dtype !== 'int64') throw new TwnnError(`${dir}: train.onnx input '${name}' has dtype ${t.dtype}`);
      const file = `feed${i}.bin`;
      await writeFile(join(job, file), new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      feeds.push({ name, type: t.dtype, dims: [...t.shape], file });
    }
    await copyFile(trainPath, join(job, 'model.onnx'));
    await writeFile(join(job, 'job.json'), JSON.stringify({ arena: false, feeds, counts: ['iterations'] } satisfies ChildJob));
    const r = await runChild(job, dir);
    if (!r.hwmReset) throw new TwnnError(`${dir}: the kernel did not let the child reset its peak RSS (/proc/self/clear_refs), so the step's peak cannot be told from the session's creation`);
    const its = r.counts.iterations ?? [];
    return { rssBeforeKb: r.baselineKiB, peakKb: r.peakKiB, stepKb: Math.max(0, r.peakKiB - r.baselineKiB), sweeps: its.reduce((a, b) => a + b, 0) / Math.max(1, its.length) };
  } finally {
    await rm(job, { recursive: true, force: true });
  }
}

function runChild(job: string, dir: string): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const loader = CHILD.endsWith('.ts') ? ['--import', 'tsx'] : [];
    const child = spawn(process.execPath, ['--expose-gc', ...loader, CHILD, job], { env: { ...process.env, ...CHILD_MALLOC }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new TwnnError(`peak memory of a training step of ${dir}: the child process failed (exit ${code}): ${stderr.trim().split('\n').pop() ?? ''}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as ChildReport);
      } catch {
        reject(new TwnnError(`peak memory of a training step of ${dir}: the child printed no report (${stdout.trim().slice(0, 200)})`));
      }
    });
  });
}
