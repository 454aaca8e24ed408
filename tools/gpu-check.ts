// The pieces of tools/gpu-check.sh that need more than a shell: the input batch
// for the CUDA-vs-CPU comparison, the difference statistics, the training
// speed read from metrics.jsonl, the K-step benchmark (train.onnx K=1 against
// train_steps.onnx K=16) and the summary table. Each subcommand writes its
// result as JSON into a results folder; `summary` prints them all.
//
//   node --import tsx tools/gpu-check.ts input MODEL OUT.npy [--batch 256]
//   node --import tsx tools/gpu-check.ts diff REF.npy OTHER.npy --label L --results DIR
//   node --import tsx tools/gpu-check.ts train-stats --label L --out TRAIN_DIR --log LOG --results DIR
//   node --import tsx tools/gpu-check.ts ksteps EXPORT_DIR --results DIR [--device cuda] [--k 16] [--repeats 8] [--batch 64]
//   node --import tsx tools/gpu-check.ts summary DIR
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { batchRows, takeBatch, type Dataset } from '../src/data/batches.js';
import { loadTaskData } from '../src/data/datasets.js';
import { readNpy, writeNpy } from '../src/data/npy.js';
import { TwnnError } from '../src/common/errors.js';
import { allocate, Tensor } from '../src/ir/tensor.js';
import { MANIFEST_FILE, MODEL_FILE, TRAIN_FILE, TRAIN_STEPS_FILE } from '../src/contract/files.js';
import type { Manifest } from '../src/contract/manifest.js';
import { readManifestSync } from '../src/contract/read-manifest.js';
import { readInitializers, readModelFile } from '../src/onnx/load.js';
import { readMetrics } from '../src/runtime/metrics.js';
import { openSession, type TwnnSession } from '../src/runtime/session.js';
import { Rng } from '../src/common/rng.js';

/** How far one output is from a reference. */
export interface DiffStats {
  /** max |other − ref| */
  maxAbs: number;
  /** maxAbs / max |ref|: the error on the scale of the output. */
  maxRel: number;
  meanAbs: number;
  /** For [B, classes] outputs: the fraction of rows whose argmax agrees. */
  argmaxAgree?: number;
  /** Elements of `other` that are NaN or infinite. */
  nonFinite: number;
}

/**
 * Compare `other` with `ref` (same shape), elementwise.
 *
 * @example diffStats(cpuY, cudaY).maxAbs // 9e-4 with TF32 on
 */
export function diffStats(ref: Tensor, other: Tensor): DiffStats {
  if (ref.shape.join(',') !== other.shape.join(',')) throw new TwnnError(`cannot compare outputs of shapes [${ref.shape.join(',')}] and [${other.shape.join(',')}]`);
  const a = ref.toNumbers();
  const b = other.toNumbers();
  let maxAbs = 0;
  let sumAbs = 0;
  let scale = 0;
  let nonFinite = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(b[i])) {
      nonFinite++;
      continue;
    }
    const d = Math.abs(a[i] - b[i]);
    maxAbs = Math.max(maxAbs, d);
    sumAbs += d;
    scale = Math.max(scale, Math.abs(a[i]));
  }
  const stats: DiffStats = { maxAbs, maxRel: scale > 0 ? maxAbs / scale : maxAbs, meanAbs: a.length ? sumAbs / a.length : 0, nonFinite };
  if (ref.shape.length === 2 && ref.shape[1] > 1) {
    const [rows, cols] = ref.shape;
    let agree = 0;
    for (let r = 0; r < rows; r++) if (argmax(a, r * cols, cols) === argmax(b, r * cols, cols)) agree++;
    stats.argmaxAgree = agree / rows;
  }
  return stats;
}

function argmax(v: readonly number[], start: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (v[start + i] > v[start + best]) best = i;
  return best;
}

/**
 * An input batch `x` for `model`: the first `batch` MNIST test images when x
 * is [B,1,28,28] or [B,784] (real data, so classification agreement means
 * something), else seeded normal noise of x's shape with B = `batch`.
 *
 * @example const { x, source } = await modelInput('exported/mnist-resnet/model.onnx', 256);
 */
export async function modelInput(model: string, batch: number): Promise<{ x: Tensor; source: string }> {
  const session = await openSession(model, { device: 'cpu' });
  const info = session.input('x');
  await session.close();
  if (!info?.shape) throw new TwnnError(`${model}: no input 'x' with a declared shape`);
  const dtype = info.type === 'float64' ? 'float64' : 'float32';
  const shape = info.shape.map((d, i) => (typeof d === 'number' ? d : i === 0 ? batch : NaN));
  if (shape.some(Number.isNaN)) throw new TwnnError(`${model}: input x has a symbolic dimension other than the batch: [${info.shape.join(',')}]`);
  const flat = shape.length === 2 && shape[1] === 784;
  const image = shape.length === 4 && shape[1] === 1 && shape[2] === 28 && shape[3] === 28;
  if (flat || image) {
    const test = await loadTaskData({ kind: 'mnist', layout: flat ? 'flat' : 'image' }, 'test', dtype);
    const rows = Uint32Array.from({ length: shape[0] }, (_, i) => i);
    return { x: takeBatch(test, rows).x, source: `the first ${shape[0]} MNIST test images` };
  }
  const rng = new Rng('twnn:gpu-check:input');
  const n = shape.reduce((p, d) => p * d, 1);
  return { x: Tensor.fromNumbers(dtype, shape, Array.from({ length: n }, () => rng.normal())), source: `seeded normal noise [${shape.join(',')}]` };
}

/** Training speed of one `twnn train` run. */
export interface TrainStats {
  steps: number;
  batch: number;
  batchesPerEpoch: number;
  /** Median seconds per step, leaving out the first `warmup` steps (session and CUDA start-up). */
  medianStepSeconds: number;
  samplesPerSecond: number;
  /** batchesPerEpoch × the median step: one full epoch's training time at this speed. */
  projectedEpochSeconds: number;
  /** What `twnn train` itself printed as "time per epoch" (its mean over all steps run), in seconds. */
  trainerEpochSeconds?: number;
  finalLoss?: number;
  test?: string;
}

/**
 * Read a run's speed from its metrics.jsonl and its printed log (the
 * "training ...: 1 epoch of N steps (batch B" start line and the summary).
 *
 * @example trainStats(readFileSync('train-cuda/metrics.jsonl', 'utf8'), readFileSync('train-cuda.log', 'utf8'))
 */
export function trainStats(metricsText: string, log: string, warmup = 3): TrainStats {
  const steps = metricsText
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { kind: string; samples_per_s?: number; loss?: number })
    .filter((r) => r.kind === 'step');
  const start = /of (\d+) steps \(batch (\d+)/.exec(log);
  if (!start) throw new TwnnError("the train log has no 'N steps (batch B' start line");
  const batchesPerEpoch = Number(start[1]);
  const batch = Number(start[2]);
  if (steps.length === 0) throw new TwnnError('metrics.jsonl has no step records');
  const seconds = steps.slice(steps.length > warmup ? warmup : 0).map((r) => batch / (r.samples_per_s ?? NaN));
  const median = medianOf(seconds);
  const perEpoch = /time per epoch (\d+(?:\.\d+)?)(s|m\d+s|h\d+m)/.exec(log);
  const test = /\n\s+test: (.*)/.exec(log)?.[1];
  return {
    steps: steps.length,
    batch,
    batchesPerEpoch,
    medianStepSeconds: median,
    samplesPerSecond: batch / median,
    projectedEpochSeconds: batchesPerEpoch * median,
    ...(perEpoch ? { trainerEpochSeconds: durationSeconds(perEpoch[0].slice('time per epoch '.length)) } : {}),
    ...(steps.at(-1)?.loss !== undefined ? { finalLoss: steps.at(-1)!.loss } : {}),
    ...(test ? { test } : {}),
  };
}

/** '12.3s', '2m05s', '1h02m' in seconds. */
function durationSeconds(text: string): number {
  const h = /^(\d+)h(\d+)m$/.exec(text);
  if (h) return Number(h[1]) * 3600 + Number(h[2]) * 60;
  const m = /^(\d+)m(\d+)s$/.exec(text);
  if (m) return Number(m[1]) * 60 + Number(m[2]);
  return Number(text.replace(/s$/, ''));
}

function medianOf(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** What the K-step benchmark measured. */
export interface KStepResult {
  device: string;
  k: number;
  batch: number;
  /** Optimizer steps timed per mode. */
  steps: number;
  singleSamplesPerSecond: number;
  stackedSamplesPerSecond: number;
  /** stacked / single. */
  speedup: number;
  /** max |loss| difference between the first K single steps and the first stacked run (same start, same batches). */
  lossMaxAbsDiff: number;
  /** max |parameter| difference after those K steps, over all parameters. */
  paramMaxAbsDiff: number;
}

/**
 * Time `train.onnx` one step per run against `train_steps.onnx` K steps per
 * run, on `device`, from the same start (model.onnx's weights, zero optimizer
 * state) over the same batches of the task's training data; and check that
 * K single steps and one K-step run end in the same place.
 *
 * @example const r = await kStepBenchmark('exported/mnist-resnet', { device: 'cuda', k: 16, repeats: 8, batch: 64 });
 */
export async function kStepBenchmark(exportDir: string, options: { device: string; k: number; repeats: number; batch: number }): Promise<KStepResult> {
  const { device, k, repeats, batch } = options;
  const manifest = readManifestSync(join(exportDir, MANIFEST_FILE));
  const initial = readInitializers(await readModelFile(join(exportDir, MODEL_FILE)), join(exportDir, MODEL_FILE));
  const single = await openSession(join(exportDir, TRAIN_FILE), { device });
  const stacked = await openSession(join(exportDir, TRAIN_STEPS_FILE), { device });
  try {
    const data = await trainingData(manifest, single, batch);
    const lrType = single.input('lr')?.type === 'float64' ? 'float64' : 'float32';
    const lr = Tensor.scalar(1e-3, lrType);
    const carriedNames = single.inputNames.filter((n) => !['x', 'target', 'lr', 'step'].includes(n));
    const start = (): Map<string, Tensor> =>
      new Map(carriedNames.map((n) => [n, initial.get(n) ?? Tensor.zeros(single.input(n)!.type as 'float32', staticShape(single, n))]));
    const batches = Array.from({ length: k }, (_, i) => takeBatch(data, batchRows(Uint32Array.from({ length: data.x.shape[0] }, (_, j) => j), i, batch)));
    const step = (n: number) => Tensor.fromNumbers('int64', [], [n]);

    // Correctness: K single steps vs one stacked run, from the same start.
    let state = start();
    const singleLosses: number[] = [];
    for (let i = 0; i < k; i++) {
      const out = await single.run({ x: batches[i].x, target: batches[i].target, lr, step: step(i + 1), ...Object.fromEntries(state) });
      singleLosses.push(out.loss.get(0));
      state = new Map(carriedNames.map((n) => [n, out[`${n}.new`]]));
    }
    const xs = stack(batches.map((b) => b.x));
    const targets = stack(batches.map((b) => b.target));
    const stackedOut = await stacked.run({ x: xs, target: targets, lr, step: step(1), ...Object.fromEntries(start()) });
    const stackedLosses = stackedOut.loss.toNumbers();
    const lossMaxAbsDiff = Math.max(...singleLosses.map((l, i) => Math.abs(l - stackedLosses[i])));
    let paramMaxAbsDiff = 0;
    for (const n of carriedNames) paramMaxAbsDiff = Math.max(paramMaxAbsDiff, diffStats(state.get(n)!, stackedOut[`${n}.new`]).maxAbs);

    // Speed: the same number of optimizer steps each way, after the warm-up runs above.
    let current = start();
    const t0 = performance.now();
    for (let r = 0; r < repeats; r++) {
      for (let i = 0; i < k; i++) {
        const out = await single.run({ x: batches[i].x, target: batches[i].target, lr, step: step(r * k + i + 1), ...Object.fromEntries(current) });
        current = new Map(carriedNames.map((n) => [n, out[`${n}.new`]]));
      }
    }
    const singleSeconds = (performance.now() - t0) / 1000;
    current = start();
    const t1 = performance.now();
    for (let r = 0; r < repeats; r++) {
      const out = await stacked.run({ x: xs, target: targets, lr, step: step(r * k + 1), ...Object.fromEntries(current) });
      current = new Map(carriedNames.map((n) => [n, out[`${n}.new`]]));
    }
    const stackedSeconds = (performance.now() - t1) / 1000;
    const samples = repeats * k * batch;
    return {
      device,
      k,
      batch,
      steps: repeats * k,
      singleSamplesPerSecond: samples / singleSeconds,
      stackedSamplesPerSecond: samples / stackedSeconds,
      speedup: singleSeconds / stackedSeconds,
      lossMaxAbsDiff,
      paramMaxAbsDiff,
    };
  } finally {
    await single.close();
    await stacked.close();
  }
}

/** The task's training split, or seeded noise shaped like train.onnx's x and target when the manifest names no data set. */
async function trainingData(manifest: Manifest, session: TwnnSession, batch: number): Promise<Dataset> {
  const dtype = session.input('x')?.type === 'float64' ? 'float64' : 'float32';
  if (manifest.task?.data) return loadTaskData(manifest.task.data, 'train', dtype);
  const rng = new Rng('twnn:gpu-check:train');
  const rows = batch * 64;
  const shapeOf = (name: string) => session.input(name)!.shape!.map((d, i) => (i === 0 ? rows : Number(d)));
  const noise = (name: string, type: string) => {
    const shape = shapeOf(name);
    const n = shape.reduce((p, d) => p * d, 1);
    return type === 'int64' ? Tensor.fromNumbers('int64', shape, Array.from({ length: n }, () => Math.floor(rng.uniform(0, 2)))) : Tensor.fromNumbers(dtype, shape, Array.from({ length: n }, () => rng.normal()));
  };
  return { name: 'noise', x: noise('x', dtype), target: noise('target', session.input('target')!.type) };
}

function staticShape(session: TwnnSession, name: string): number[] {
  const shape = session.input(name)?.shape;
  if (!shape || shape.some((d) => typeof d !== 'number')) throw new TwnnError(`train.onnx input '${name}' has no static shape`);
  return shape as number[];
}

/** Stack same-shaped tensors along a new leading axis. @example stack([a, b]).shape // [2, ...a.shape] */
export function stack(tensors: readonly Tensor[]): Tensor {
  const first = tensors[0];
  const data = allocate(first.dtype, first.size * tensors.length);
  tensors.forEach((t, i) => (data as { set(a: ArrayLike<number | bigint>, o: number): void }).set(t.data as ArrayLike<number | bigint>, i * first.size));
  return new Tensor(first.dtype, [tensors.length, ...first.shape], data);
}

/** One results file: a step's name and what it found. */
type Results = Record<string, unknown>;

/**
 * The summary table of every result in `dir` (written by the other
 * subcommands and by gpu-check.sh), the last thing the check prints.
 *
 * @example console.log(formatSummary(readResults('/tmp/gpu-check/results')));
 */
export function formatSummary(results: Results): string {
  const lines: string[] = ['', '=================== twnn GPU check: summary ==================='];
  const info = results.info as { gpu?: string; node?: string; ort?: string; date?: string } | undefined;
  if (info) lines.push(`device      ${info.gpu ?? '?'}`, `software    node ${info.node ?? '?'}, onnxruntime-node ${info.ort ?? '?'}; ${info.date ?? ''}`);
  if (typeof results.doctor === 'string') lines.push(`doctor      ${results.doctor}`);
  const e = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '   -   ' : n.toExponential(1).padStart(7));
  const input = results.input as { model?: string; source?: string } | undefined;
  const diffs = Object.entries(results).filter(([key]) => key.startsWith('diff:'));
  if (input || diffs.length) {
    lines.push(`inference   vs the CPU EP on ${input?.source ?? '?'}:`);
    if (diffs.length === 0) lines.push('  no run on the GPU succeeded (see the steps line and the logs)');
    for (const [key, v] of diffs) {
      const d = v as DiffStats;
      const agree = d.argmaxAgree !== undefined ? `  argmax agrees ${(d.argmaxAgree * 100).toFixed(2)}%` : '';
      lines.push(`  ${key.slice(5).padEnd(44)} max|Δ| ${e(d.maxAbs)}  rel ${e(d.maxRel)}  mean|Δ| ${e(d.meanAbs)}${agree}${d.nonFinite ? `  ${d.nonFinite} non-finite!` : ''}`);
    }
  }
  const trains = Object.entries(results).filter(([key]) => key.startsWith('train:'));
  if (trains.length) {
    const graph = (results.graph as string | undefined) ?? '?';
    lines.push(`training    ${graph}, one epoch's time at the measured speed (median step after warm-up):`);
    for (const [key, v] of trains) {
      const t = v as TrainStats;
      lines.push(
        `  ${key.slice(6).padEnd(6)} ${(t.medianStepSeconds * 1000).toFixed(2).padStart(8)} ms/step  ${Math.round(t.samplesPerSecond).toString().padStart(7)} samples/s  ` +
          `epoch (${t.batchesPerEpoch} steps of ${t.batch}) ≈ ${t.projectedEpochSeconds.toFixed(1)} s` +
          `${t.trainerEpochSeconds !== undefined ? ` (trainer's mean: ${t.trainerEpochSeconds.toFixed(1)} s)` : ''}  [${t.steps} steps run${t.test ? `; test ${t.test}` : ''}]`,
      );
    }
    const cpu = results['train:cpu'] as TrainStats | undefined;
    const cuda = results['train:cuda'] as TrainStats | undefined;
    if (cpu && cuda) lines.push(`  cuda vs cpu: ${(cpu.medianStepSeconds / cuda.medianStepSeconds).toFixed(2)}× per step`);
  }
  const ksteps = Object.entries(results).filter(([key]) => key.startsWith('ksteps:'));
  if (ksteps.length) lines.push('k-step      train.onnx (one step per run) vs train_steps.onnx (K steps per run), same start and batches:');
  for (const [, v] of ksteps) {
    const k = v as KStepResult;
    lines.push(
      `  ${k.device.padEnd(6)} batch ${k.batch}, ${k.steps} steps each: K=1 ${Math.round(k.singleSamplesPerSecond)} samples/s, ` +
        `K=${k.k} ${Math.round(k.stackedSamplesPerSecond)} samples/s: ${k.speedup.toFixed(2)}×; ` +
        `K single steps vs one K-step run: loss max|Δ| ${e(k.lossMaxAbsDiff).trim()}, parameters max|Δ| ${e(k.paramMaxAbsDiff).trim()}`,
    );
  }
  const steps = results.steps as { name: string; status: number; seconds: number }[] | undefined;
  if (steps) {
    lines.push(`steps       ${steps.map((s) => `${s.name} ${s.status === 0 ? 'ok' : s.status === 124 ? 'TIMEOUT' : s.status < 0 ? 'skipped' : `FAILED(${s.status})`} ${s.seconds}s`).join(', ')}`);
  }
  lines.push('===============================================================');
  return lines.join('\n');
}

/** Every `<name>.json` in `dir`, by name (a `:` in a name is written as `__`). @example readResults('/tmp/twnn-gpu-check/results')['ksteps:cuda'] */
export function readResults(dir: string): Results {
  const results: Results = {};
  if (!existsSync(dir)) return results;
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.json')) continue;
    results[f.slice(0, -5).replace('__', ':')] = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  }
  return results;
}

function writeResult(dir: string, name: string, value: unknown): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name.replace(':', '__')}.json`), `${JSON.stringify(value, null, 1)}\n`);
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      batch: { type: 'string', default: '256' },
      label: { type: 'string' },
      results: { type: 'string' },
      out: { type: 'string' },
      log: { type: 'string' },
      device: { type: 'string', default: 'cuda' },
      k: { type: 'string', default: '16' },
      repeats: { type: 'string', default: '8' },
    },
  });
  const results = values.results ?? '';
  switch (command) {
    case 'input': {
      const [model, out] = positionals;
      const { x, source } = await modelInput(model, Number(values.batch));
      writeFileSync(out, writeNpy(x));
      if (results) writeResult(results, 'input', { model, source, shape: x.shape });
      console.log(`input: ${source} -> ${out}`);
      return 0;
    }
    case 'diff': {
      const [refPath, otherPath] = positionals;
      const stats = diffStats(readNpy(readFileSync(refPath), refPath), readNpy(readFileSync(otherPath), otherPath));
      writeResult(results, `diff:${values.label}`, stats);
      console.log(`${values.label}: ${JSON.stringify(stats)}`);
      return 0;
    }
    case 'train-stats': {
      const stats = trainStats(readFileSync(join(values.out!, 'metrics.jsonl'), 'utf8'), readFileSync(values.log!, 'utf8'));
      writeResult(results, `train:${values.label}`, stats);
      console.log(`${values.label}: ${JSON.stringify(stats)}`);
      return 0;
    }
    case 'ksteps': {
      const r = await kStepBenchmark(positionals[0], { device: values.device!, k: Number(values.k), repeats: Number(values.repeats), batch: Number(values.batch) });
      writeResult(results, `ksteps:${r.device}`, r);
      console.log(`ksteps: ${JSON.stringify(r)}`);
      return 0;
    }
    case 'summary':
      console.log(formatSummary(readResults(positionals[0])));
      return 0;
    default:
      console.error(`gpu-check.ts: unknown subcommand '${command}' (input, diff, train-stats, ksteps, summary)`);
      return 2;
  }
}

/** A TwnnError (no CUDA EP, a bad model) is one line and exit 2, as in the CLI; anything else is a bug, with its stack. */
async function mainReportingErrors(argv: readonly string[]): Promise<number> {
  try {
    return await main(argv);
  } catch (err) {
    if (!(err instanceof TwnnError)) throw err;
    console.error(`gpu-check.ts: error: ${err.message.replace(/\s+/g, ' ').trim()}`);
    return 2;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) process.exitCode = await mainReportingErrors(process.argv.slice(2));
