// Memory benchmark (docs/DESIGN.md §2: "Memory is independent of the number of
// iterations"): the peak resident memory of ONE training step (train.onnx) of a
// TWNN MLP whose region is forced to run exactly N sweeps (iterate.minIter =
// maxIter = N), for several N and backward modes. The implicit adjoint and
// phantom:k keep only the current state, so their peak must stay flat in N;
// unrolled stores every sweep's state, so its peak grows with N.
//
// Each configuration runs in a fresh child process (lab/bench/memory-child.ts):
// a process's peak RSS only ever rises, and a fresh one has seen nothing but
// the session and its feeds. The child resets the peak (5 > /proc/self/clear_refs)
// after creating the session, so `peak − baseline` is what the step itself added.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { SpecError, TwnnError } from '../../src/common/errors.js';
import { Tensor } from '../../src/ir/tensor.js';
import { buildTrainGraph } from '../../src/lower/training.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { dense } from '../../src/twnn/dense.js';
import { relu, tanh } from '../../src/twnn/activations.js';
import { parseBackward, region } from '../../src/twnn/region.js';
import { Rng } from '../../src/common/rng.js';
import { sequential } from '../../src/twnn/sequential.js';
import { defineModel, type ModelSpec } from '../../src/twnn/spec.js';
import type { ChildJob, ChildReport } from './memory-child.js';

/** A backward mode as regions spell it. */
export type BackwardName = 'implicit' | 'unrolled' | `phantom:${number}`;

/** The network's sizes: graphs/mnist-mlp.ts's by default (784 -> 256 -> region[3 x 256] -> 10). */
export interface MemoryNetShape {
  batch: number;
  inputSize: number;
  width: number;
  classes: number;
}

export interface MemoryBenchOptions extends Partial<MemoryNetShape> {
  /** Forced sweep counts (each at least 2: the plain sweep and one more). Default 10, 30, 100, 300. */
  sweeps?: readonly number[];
  /** Default implicit, phantom:5, unrolled. */
  backward?: readonly BackwardName[];
  /** onnxruntime's CPU memory arena (default false: freed buffers leave the arena, so the peak is the step's own). */
  arena?: boolean;
  /** Parameter and data seed (default 0). */
  seed?: number;
}

/** One configuration's measurement, sizes in KiB. */
export interface MemoryMeasurement {
  backward: BackwardName;
  sweeps: number;
  /** Forward sweeps the step reported (train.onnx's `iterations`): every sample's, deduplicated. */
  iterations: number[];
  /** Backward iterations it reported (`iterations_backward`), deduplicated. */
  iterationsBackward: number[];
  /** Resident set after session creation and feed setup, just before the step. */
  baselineKiB: number;
  /** Peak resident set during the step. */
  peakKiB: number;
  /** peakKiB − baselineKiB: what the step itself added. */
  increaseKiB: number;
  /** Peak while creating the session (before the reset). */
  creationPeakKiB: number;
  /** False where /proc/self/clear_refs could not reset the peak: then peakKiB may be the creation peak. */
  hwmReset: boolean;
  stepMs: number;
}

/** Where the numbers came from. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  onnxruntime: string;
}

export interface MemoryReport {
  shape: MemoryNetShape;
  arena: boolean;
  seed: number;
  machine: MachineInfo;
  results: MemoryMeasurement[];
}

export const MEMORY_DEFAULTS = {
  sweeps: [10, 30, 100, 300],
  backward: ['implicit', 'phantom:5', 'unrolled'] as BackwardName[],
  shape: { batch: 64, inputSize: 784, width: 256, classes: 10 } satisfies MemoryNetShape,
};

/**
 * glibc malloc settings of the measuring process: one arena, and every block
 * of 128 KiB or more mmap'd and unmapped on free (a fixed threshold turns off
 * glibc's adaptive one). Freed tensors then leave the resident set at once,
 * so RSS follows the live tensors instead of the allocator's caches; measured
 * here, this cut the spread of repeated peaks from up to 8 MiB to under 0.5 MiB.
 */
export const CHILD_MALLOC = { MALLOC_ARENA_MAX: '1', MALLOC_MMAP_THRESHOLD_: '131072' } as const;

/** The child script beside this module: `.ts` under tsx (tests, the CLI), `.js` when compiled. */
const CHILD = fileURLToPath(new URL(`./memory-child${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The benchmarked model: graphs/mnist-mlp.ts's architecture (a relu stem, a
 * region of three dense+tanh blocks with the wormhole 3 -> 1, a linear head)
 * at the given sizes, its region forced to exactly `sweeps` sweeps per sample
 * and differentiated by `backward`.
 *
 * @example const spec = memoryBenchSpec('unrolled', 100); // 100 sweeps, MNIST MLP sizes
 */
export function memoryBenchSpec(backward: BackwardName, sweeps: number, shape: MemoryNetShape = MEMORY_DEFAULTS.shape): ModelSpec {
  const { inputSize, width, classes } = shape;
  const block = () => sequential(dense(width, width), tanh());
  return defineModel({
    name: `memory-${backward.replace(':', '-')}-${sweeps}`,
    description: `memory benchmark: ${inputSize} -> ${width} relu -> region[3 x (${width} tanh)], wormhole 3->1, ${sweeps} forced sweeps -> ${classes}`,
    input: { shape: ['B', inputSize] },
    net: sequential({
      stem: sequential(dense(inputSize, width), relu()),
      region1: region({
        blocks: [block(), block(), block()],
        wormholes: [{ from: 3, to: 1, gateBias: -4 }],
        iterate: { minIter: sweeps, maxIter: sweeps },
        backward,
      }),
      head: dense(width, classes),
    }),
    task: { loss: 'cross_entropy' },
  });
}

/**
 * Measure one training step of `memoryBenchSpec(backward, sweeps)` in a fresh
 * child process: train.onnx with the initial parameters, zero Adam states,
 * a seeded batch of inputs and labels.
 *
 * @example const m = await measureSweepMemory('implicit', 300); // m.increaseKiB
 */
export async function measureSweepMemory(backward: BackwardName, sweeps: number, options: MemoryBenchOptions = {}): Promise<MemoryMeasurement> {
  const shape = resolveShape(options);
  const seed = options.seed ?? 0;
  checkSweeps([sweeps]);
  parseBackward(backward);
  const train = buildTrainGraph(memoryBenchSpec(backward, sweeps, shape), { dtype: 'float32', seed });
  const rng = new Rng(`twnn:bench:memory:${seed}`);
  const values = new Map<string, Tensor>([
    ['x', Tensor.fromNumbers('float32', [shape.batch, shape.inputSize], Array.from({ length: shape.batch * shape.inputSize }, () => rng.normal()))],
    ['target', Tensor.fromNumbers('int64', [shape.batch], Array.from({ length: shape.batch }, () => Math.floor(rng.next() * shape.classes)))],
    ['lr', Tensor.scalar(1e-3, 'float32')],
    ['step', Tensor.scalar(1, 'int64')],
    ...train.params.map((p) => [p.name, p.value] as [string, Tensor]),
  ]);
  const dir = await mkdtemp(join(tmpdir(), 'twnn-bench-memory-'));
  try {
    const feeds: ChildJob['feeds'] = [];
    for (const [i, input] of train.graph.inputs.entries()) {
      // Inputs without a value are optimizer states: zeros at the first step.
      const shapeOf = input.shape.map((d) => (typeof d === 'number' ? d : shape.batch));
      const t = values.get(input.name) ?? Tensor.zeros(input.dtype, shapeOf);
      if (t.dtype !== 'float32' && t.dtype !== 'float64' && t.dtype !== 'int64') throw new TwnnError(`bench memory: input '${input.name}' has dtype ${t.dtype}`);
      const file = `feed${i}.bin`;
      await writeFile(join(dir, file), new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      feeds.push({ name: input.name, type: t.dtype, dims: [...t.shape], file });
    }
    await writeFile(join(dir, 'model.onnx'), serializeModel(train.graph));
    const job: ChildJob = { arena: options.arena ?? false, feeds, counts: ['iterations', 'iterations_backward'] };
    await writeFile(join(dir, 'job.json'), JSON.stringify(job));
    const r = await runChild(dir, `${backward}, ${sweeps} sweeps`);
    return {
      backward,
      sweeps,
      iterations: distinct(r.counts.iterations),
      iterationsBackward: distinct(r.counts.iterations_backward),
      baselineKiB: r.baselineKiB,
      peakKiB: r.peakKiB,
      increaseKiB: r.peakKiB - r.baselineKiB,
      creationPeakKiB: r.creationPeakKiB,
      hwmReset: r.hwmReset,
      stepMs: r.stepMs,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Measure every (backward mode, sweep count) pair, one child process at a
 * time (never in parallel: they would share the cores and the memory).
 * `onResult` sees each measurement as it arrives.
 *
 * @example
 * const report = await runMemoryBench({ sweeps: [10, 300], backward: ['implicit', 'unrolled'] });
 * console.log(formatMemoryReport(report));
 */
export async function runMemoryBench(options: MemoryBenchOptions = {}, onResult?: (m: MemoryMeasurement) => void): Promise<MemoryReport> {
  const sweeps = options.sweeps ?? MEMORY_DEFAULTS.sweeps;
  const backward = options.backward ?? MEMORY_DEFAULTS.backward;
  checkSweeps(sweeps);
  if (backward.length === 0) throw new SpecError('bench memory: no backward modes given');
  for (const b of backward) parseBackward(b);
  const results: MemoryMeasurement[] = [];
  for (const b of backward) {
    for (const n of sweeps) {
      const m = await measureSweepMemory(b, n, options);
      results.push(m);
      onResult?.(m);
    }
  }
  return { shape: resolveShape(options), arena: options.arena ?? false, seed: options.seed ?? 0, machine: machineInfo(), results };
}

/** How one backward mode's memory moves from its fewest to its most sweeps. */
export interface MemoryGrowth {
  backward: BackwardName;
  fewest: MemoryMeasurement;
  most: MemoryMeasurement;
  /** most.peakKiB / fewest.peakKiB. */
  peakRatio: number;
  /** most.increaseKiB / fewest.increaseKiB. */
  increaseRatio: number;
}

/**
 * Per backward mode (in report order): its measurements at the fewest and the
 * most sweeps and the ratios between them — ratios within one run, on one machine.
 *
 * @example memoryGrowth(report).find((g) => g.backward === 'implicit')!.peakRatio // ≈ 1
 */
export function memoryGrowth(report: MemoryReport): MemoryGrowth[] {
  const modes = [...new Set(report.results.map((r) => r.backward))];
  return modes.map((backward) => {
    const rows = report.results.filter((r) => r.backward === backward).sort((a, b) => a.sweeps - b.sweeps);
    const fewest = rows[0];
    const most = rows[rows.length - 1];
    return { backward, fewest, most, peakRatio: most.peakKiB / fewest.peakKiB, increaseRatio: most.increaseKiB / Math.max(1, fewest.increaseKiB) };
  });
}

/**
 * The report as a text table (MiB), then per backward mode the growth from
 * its fewest to its most sweeps, then the machine and settings.
 *
 * @example process.stdout.write(formatMemoryReport(report));
 */
export function formatMemoryReport(report: MemoryReport): string {
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  const header = ['backward', 'sweeps', 'iterations', 'bwd iters', 'baseline MiB', 'peak MiB', 'increase MiB', 'step ms'];
  const rows = report.results.map((r) => [
    r.backward,
    String(r.sweeps),
    r.iterations.join('/'),
    r.iterationsBackward.join('/'),
    mib(r.baselineKiB),
    mib(r.peakKiB),
    mib(r.increaseKiB),
    r.stepMs.toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const growth = memoryGrowth(report).map(
    (g) =>
      `${g.backward}: ${g.fewest.sweeps} -> ${g.most.sweeps} sweeps: peak x${g.peakRatio.toFixed(3)} ` +
      `(${mib(g.fewest.peakKiB)} -> ${mib(g.most.peakKiB)} MiB), increase x${g.increaseRatio.toFixed(2)} ` +
      `(${mib(g.fewest.increaseKiB)} -> ${mib(g.most.increaseKiB)} MiB)`,
  );
  const { shape: s, machine: m } = report;
  const notReset = report.results.some((r) => !r.hwmReset);
  return [
    line(header),
    ...rows.map(line),
    '',
    ...growth,
    '',
    `model: ${s.inputSize} -> ${s.width} -> region[3 x ${s.width}], wormhole 3->1 -> ${s.classes}, batch ${s.batch}, float32, Adam; one train.onnx step per fresh process`,
    `onnxruntime CPU arena: ${report.arena ? 'on' : 'off'}; glibc malloc: ${Object.entries(CHILD_MALLOC).map(([k, v]) => `${k}=${v}`).join(' ')}; ` +
      `peak = VmHWM ${notReset ? '(NOT reset after session creation: includes it)' : 'reset after session creation'}`,
    `machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}, onnxruntime-node ${m.onnxruntime}`,
  ].join('\n') + '\n';
}

function resolveShape(options: MemoryBenchOptions): MemoryNetShape {
  const shape = { ...MEMORY_DEFAULTS.shape };
  for (const key of ['batch', 'inputSize', 'width', 'classes'] as const) {
    const v = options[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 1) throw new SpecError(`bench memory: ${key} must be a positive integer, got ${v}`);
    shape[key] = v;
  }
  return shape;
}

function checkSweeps(sweeps: readonly number[]): void {
  if (sweeps.length === 0) throw new SpecError('bench memory: no sweep counts given');
  for (const n of sweeps) {
    if (!Number.isSafeInteger(n) || n < 2) throw new SpecError(`bench memory: a sweep count must be an integer >= 2 (the plain sweep and one more), got ${n}`);
  }
}

function distinct(values: readonly number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

function machineInfo(): MachineInfo {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    onnxruntime: ort.env.versions.node ?? ort.env.versions.common,
  };
}

/** Run the child on a prepared job folder; its one JSON line is the report. */
function runChild(dir: string, label: string): Promise<ChildReport> {
  return new Promise((done, fail) => {
    const loader = CHILD.endsWith('.ts') ? ['--import', 'tsx'] : [];
    const child = spawn(process.execPath, ['--expose-gc', ...loader, CHILD, dir], {
      cwd: REPO,
      env: { ...process.env, ...CHILD_MALLOC },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) => fail(new TwnnError(`bench memory (${label}): cannot start ${process.execPath}: ${err.message}`)));
    child.on('close', (status) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      if (status !== 0 || !last.startsWith('{')) {
        fail(new TwnnError(`bench memory (${label}): the measuring process exited with ${status}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
        return;
      }
      done(JSON.parse(last) as ChildReport);
    });
  });
}
