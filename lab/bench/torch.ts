// `twnn bench torch`: twnn against a PyTorch reference of the same TWNN
// (python/twnn_torch.py: Debian's torch 1.13 with OpenBLAS),
// the same weights (read from the model.onnx twnn times) and the same data.
//
// First the two must compute the same thing: outputs, per-sample sweeps,
// gradients (grad.onnx), and a whole optimizer step (train.onnx: loss, sweeps,
// adjoint steps, new parameters); a disagreement is an error before anything
// is timed. Then each workload (inference at each batch size, one training
// step) is timed with twnn and torch interleaved in one run. Torch gets its
// best setting: its threads (torch.set_num_threads 1 or 2) × OpenBLAS's
// (OPENBLAS_NUM_THREADS=1 or its default, one worker process each), chosen per
// workload by a short tuning pass, for each of its two ways to sweep (dense:
// the whole batch every sweep; active: only the unsettled rows), and the
// faster of those two is the baseline.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { takeBatch, type Dataset } from '../../src/data/batches.js';
import { readNpy, writeNpy } from '../../src/data/npy.js';
import { TwnnError } from '../../src/common/errors.js';
import { Tensor } from '../../src/ir/tensor.js';
import { buildInferenceGraph } from '../../src/lower/inference.js';
import { buildGradGraph, buildTrainGraph, type TrainingGraph } from '../../src/lower/training.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { openSession, type TwnnSession } from '../../src/runtime/session.js';
import type { ModelSpec } from '../../src/twnn/spec.js';
import { mean, median } from './stats.js';
import { describeForTorch } from '../../src/runtime/torch/arch.js';
import { firstStepFeeds } from '../../src/runtime/train-feeds.js';
import { machineInfo, markCpu, type MachineInfo } from './torch-machine.js';
import { timedAlone, TorchWorker, type TorchReply } from './torch-worker.js';

/** A TWNN to compare, with its data and the issue's targets for it. */
export interface TorchBenchModel {
  /** Short name: `mlp`, `sine`, `resnet`. */
  id: string;
  title: string;
  /** The graph file, e.g. `graphs/mnist-mlp.ts`. */
  graph: string;
  spec: ModelSpec;
  /** Trained weights by parameter name; without them the spec's seed-0 initial values. */
  weights?: ReadonlyMap<string, Tensor>;
  /** Where the weights came from, for the report. */
  weightsFrom: string;
  /** The test split: inference rows and the training batch are its first rows. */
  data: Dataset;
  /** Ratio targets (twnn/torch): inference at the batch sizes listed (all when absent), and the training step. */
  targets: { inference?: number; inferenceBatches?: readonly number[]; training?: number };
  /** Test rows one timed inference pass runs, by batch size (before `rowScale`; at least one batch). */
  passRows: Readonly<Record<number, number>>;
}

export interface TorchBenchOptions {
  models: readonly TorchBenchModel[];
  /** Interleaved timed passes per workload and variant (medians, min, max). */
  repeats: number;
  inferenceBatches: readonly number[];
  trainBatch: number;
  /** Scales every model's `passRows` (rounded up to whole batches). */
  rowScale: number;
  /** Rows of the inference agreement check, and of the gradient check. */
  agreementRows: number;
  gradRows: number;
  /** Timed passes of each torch setting in the tuning (the fastest counts; settings slower than 1.5x their mode's best so far get one). */
  tuningPasses: number;
  /** torch.set_num_threads values tried. */
  torchThreads: readonly number[];
  /** OPENBLAS_NUM_THREADS values tried (undefined: OpenBLAS's default), one worker process each. */
  openblasThreads: readonly (number | undefined)[];
  /** Time even when the agreement check fails (the result lists the failures); otherwise that is an error before any timing. */
  keepGoing?: boolean;
  /** Check the agreement of every model and stop there: nothing is timed, the models' workloads are empty. */
  agreementOnly?: boolean;
  python?: string;
  script?: string;
  log?: (line: string) => void;
}

export type SweepMode = 'dense' | 'active';
export const SWEEP_MODES: readonly SweepMode[] = ['dense', 'active'];

/** A torch setting: which worker (OpenBLAS threads), torch's threads, how it sweeps. */
export interface TorchSetting {
  openblas: string;
  threads: number;
  mode: SweepMode;
}

/** Times of one variant, milliseconds per batch (inference) or per step. */
export interface Timing {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export interface WorkloadResult {
  id: string;
  kind: 'inference' | 'training';
  batch: number;
  /** Rows one pass runs. */
  rows: number;
  /** twnn's mean sweeps per sample on those rows (summed over the regions), and adjoint steps for a step. */
  sweeps: number;
  adjointSteps?: number;
  twnn: Timing;
  torch: Record<SweepMode, TorchSetting & { timing: Timing }>;
  /** Every torch setting's tuning time (the fastest of its passes), ms. */
  tuning: (TorchSetting & { ms: number })[];
  baseline: SweepMode;
  /** twnn's median over the baseline's: below 1, twnn is faster. */
  ratio: number;
  target?: number;
}

/** One agreement check: a measured difference against its limit. */
export interface AgreementCheck {
  what: string;
  mode: SweepMode;
  value: number;
  limit: number;
  ok: boolean;
  note?: string;
}

export interface ModelResult {
  id: string;
  title: string;
  graph: string;
  weightsFrom: string;
  parameters: number;
  agreement: AgreementCheck[];
  workloads: WorkloadResult[];
}

export type { MachineInfo } from './torch-machine.js';

export interface TorchBenchResult {
  machine: MachineInfo;
  models: ModelResult[];
  repeats: number;
  seconds: number;
  /** Failed agreement checks (timed anyway with `keepGoing`). */
  disagreements: string[];
}

/** Agreement limits (float32): outputs and losses relative to their largest entry, gradients per tensor, iteration mismatches as a share of the rows. */
export const AGREEMENT_LIMITS = { output: 1e-4, loss: 1e-3, gradient: 1e-3, countMismatch: 0.01, update: 1e-3 } as const;

/**
 * Check twnn against the torch reference on every model, then time them (see
 * the head of this file). Throws a TwnnError listing the failed checks when
 * they disagree, unless `keepGoing` (then the result lists them).
 *
 * @example const result = await benchTorch({ models, repeats: 5, ... });
 */
export async function benchTorch(options: TorchBenchOptions): Promise<TorchBenchResult> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'twnn-bench-torch-'));
  const starts = await Promise.allSettled(options.openblasThreads.map((n) => TorchWorker.start({ ...(n === undefined ? {} : { openblasThreads: n }), python: options.python, script: options.script })));
  const workers = starts.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const prepared: Prepared[] = [];
  try {
    const failedStart = starts.find((s) => s.status === 'rejected');
    if (failedStart) throw failedStart.reason;
    const hello = await workers[0].call({ cmd: 'hello' });
    const pids = workers.map((w) => w.pid);
    const start = markCpu(pids);
    log(`bench torch: torch ${String(hello.torch)}; ${cpus()[0]?.model ?? 'CPU'}, ${cpus().length} cores, load average ${start.load.toFixed(2)}`);
    for (const model of options.models) prepared.push(await prepare(model, options, workers, join(dir, model.id), log));
    // Every model must agree before any is timed.
    const failed: string[] = [];
    for (const p of prepared) {
      p.agreement = await withSessions(p, (s) => checkAgreement(p, s, options, log));
      for (const c of p.agreement.filter((a) => !a.ok)) failed.push(`${p.model.id}: ${c.what} (torch ${c.mode}): ${fmt(c.value)} > ${fmt(c.limit)}${c.note ? `; ${c.note}` : ''}`);
    }
    if (failed.length > 0 && !options.keepGoing) throw disagreement(failed, 'nothing timed');
    const checked = (p: Prepared): ModelResult => ({ id: p.model.id, title: p.model.title, graph: p.model.graph, weightsFrom: p.model.weightsFrom, parameters: p.parameters, agreement: p.agreement, workloads: [] });
    if (options.agreementOnly) return { machine: machineInfo(hello, start, pids), models: prepared.map(checked), repeats: 0, seconds: (performance.now() - started) / 1000, disagreements: failed };
    const models: ModelResult[] = [];
    for (const p of prepared) models.push(await withSessions(p, (s) => timeModel(p, s, options, log)));
    return { machine: machineInfo(hello, start, pids), models, repeats: options.repeats, seconds: (performance.now() - started) / 1000, disagreements: failed };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await rm(dir, { recursive: true, force: true });
  }
}

interface Prepared {
  model: TorchBenchModel;
  dir: string;
  /** twnn's exports, opened only while this model is checked or timed (`withSessions`). */
  files: Record<'model.onnx' | 'grad.onnx' | 'train.onnx', Uint8Array>;
  trainGraph: TrainingGraph;
  gradGraph: TrainingGraph;
  regions: string[];
  workers: TorchWorker[];
  parameters: number;
  agreement: AgreementCheck[];
}

/** twnn's sessions (inference, grad, train) and each torch worker's twin, from the same model.onnx. */
async function prepare(model: TorchBenchModel, options: TorchBenchOptions, workers: TorchWorker[], dir: string, log: (line: string) => void): Promise<Prepared> {
  log(`bench torch: ${model.graph}: building twnn's graphs and the torch twin (weights: ${model.weightsFrom})`);
  await mkdir(dir, { recursive: true });
  const build = model.weights ? { weights: model.weights } : {};
  const built = buildInferenceGraph(model.spec, build);
  const modelPath = join(dir, 'model.onnx');
  const bytes = serializeModel(built.graph);
  await writeFile(modelPath, bytes);
  const gradGraph = buildGradGraph(model.spec, build);
  const trainGraph = buildTrainGraph(model.spec, build);
  const files = { 'model.onnx': bytes, 'grad.onnx': serializeModel(gradGraph.graph), 'train.onnx': serializeModel(trainGraph.graph) };
  const rows = Math.max(options.agreementRows, options.trainBatch, options.gradRows, ...options.inferenceBatches.map((b) => passRowsOf(model, options, b)));
  const batch = takeBatch(model.data, [...Array(Math.min(rows, model.data.x.shape[0])).keys()]);
  await writeFile(join(dir, 'x.npy'), writeNpy(batch.x));
  await writeFile(join(dir, 'target.npy'), writeNpy(batch.target));
  const load = {
    cmd: 'load',
    key: model.id,
    model: modelPath,
    arch: describeForTorch(model.spec, built.graph, built.params),
    loss: trainGraph.loss,
    optimizer: trainGraph.optimizer,
    fpCorrection: trainGraph.fpCorrection ?? null,
  };
  let loaded: TorchReply = {};
  for (const w of workers) {
    loaded = await w.call(load);
    for (const key of ['x', 'target']) await w.call({ cmd: 'data', key: `${model.id}.${key}`, path: join(dir, `${key}.npy`) });
  }
  return { model, dir, files, trainGraph, gradGraph, regions: loaded.regions as string[], workers, parameters: loaded.parameters as number, agreement: [] };
}

/**
 * Open model `p`'s twnn sessions, run `use`, close them. One model's sessions
 * at a time: with every model's nine alive, the ResNet's runs took 2–3× as
 * long as alone (docs/PERFORMANCE.md, "Thread pools that pin").
 */
async function withSessions<T>(p: Prepared, use: (s: Sessions) => Promise<T>): Promise<T> {
  const where = (file: string) => `${p.model.graph} ${file}`;
  const opened: TwnnSession[] = [];
  try {
    const open = async (file: keyof Prepared['files']) => {
      const s = await openSession(p.files[file], { where: where(file) });
      opened.push(s);
      return s;
    };
    return await use({ inference: await open('model.onnx'), grad: await open('grad.onnx'), train: await open('train.onnx') });
  } finally {
    for (const s of opened) await s.close();
  }
}

/** A model's twnn sessions while it is checked or timed. */
interface Sessions {
  inference: TwnnSession;
  grad: TwnnSession;
  train: TwnnSession;
}

/**
 * The error for failed agreement checks, listing them.
 *
 * @example throw disagreement(result.disagreements, 'the report says which');
 */
export function disagreement(failed: readonly string[], consequence: string): TwnnError {
  return new TwnnError(`bench torch: twnn and the torch reference disagree (${consequence}): ${failed.join('; ')}`);
}

function passRowsOf(model: TorchBenchModel, options: TorchBenchOptions, batch: number): number {
  const rows = Math.max(batch, Math.round((model.passRows[batch] ?? batch) * options.rowScale));
  return Math.min(Math.ceil(rows / batch) * batch, Math.floor(model.data.x.shape[0] / batch) * batch);
}

/** A torch command on model `p`'s rows [0, count), writing its arrays under `out` when given. */
function torchCommand(p: Prepared, cmd: string, count: number, mode: SweepMode, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cmd, model: p.model.id, x: `${p.model.id}.x`, target: `${p.model.id}.target`, start: 0, count, mode, ...extra };
}

/** Run a torch command that writes arrays into a fresh folder; returns its reply and a reader of `<name>.npy`. */
async function torchArrays(p: Prepared, command: Record<string, unknown>, name: string): Promise<{ reply: TorchReply; read: (file: string) => Promise<Tensor> }> {
  const out = join(p.dir, name);
  await mkdir(out, { recursive: true });
  const reply = await p.workers[p.workers.length - 1].call({ ...command, out });
  return { reply, read: async (file) => readNpy(new Uint8Array(await readFile(join(out, `${file}.npy`))), join(out, `${file}.npy`)) };
}

/** Run twnn's inference over rows [0, rows) in batches; returns each output concatenated over the batches. */
async function twnnInference(p: Prepared, s: Sessions, rows: number, batch: number): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (let at = 0; at < rows; at += batch) {
    const { x } = takeBatch(p.model.data, [...Array(Math.min(batch, rows - at)).keys()].map((i) => at + i));
    const result = await s.inference.run({ x });
    for (const [name, t] of Object.entries(result)) (out[name] ??= []).push(...t.toNumbers());
  }
  return out;
}

/** The feeds of one train.onnx / grad.onnx run on rows [0, rows): the weights, zero optimizer state, lr and step 1. */
/** max |a − b| / max |b|: b the reference (twnn). */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new TwnnError(`bench torch: comparing ${a.length} values with ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Rows whose counts differ in any of the paired lists. */
function mismatchedRows(pairs: readonly [ArrayLike<number>, ArrayLike<number>][], rows: number): number[] {
  const bad: number[] = [];
  for (let r = 0; r < rows; r++) if (pairs.some(([a, b]) => a[r] !== b[r])) bad.push(r);
  return bad;
}

/** The mismatched rows as a check: their share of the rows against the limit, naming the first few. */
function countCheck(what: string, mode: SweepMode, bad: readonly number[], rows: number): AgreementCheck {
  const share = bad.length / rows;
  const limit = AGREEMENT_LIMITS.countMismatch;
  return { what: `${what}: rows with other counts`, mode, value: share, limit, ok: share <= limit, note: `${bad.length} of ${rows}${bad.length ? ` (rows ${bad.slice(0, 8).join(', ')}${bad.length > 8 ? ', ...' : ''})` : ''}` };
}

function check(what: string, mode: SweepMode, value: number, limit: number, note?: string): AgreementCheck {
  return { what, mode, value, limit, ok: value <= limit, ...(note ? { note } : {}) };
}

/** Outputs, per-region sweeps, gradients and a whole optimizer step of twnn against both torch modes. */
async function checkAgreement(p: Prepared, sessions: Sessions, options: TorchBenchOptions, log: (line: string) => void): Promise<AgreementCheck[]> {
  const { model } = p;
  const checks: AgreementCheck[] = [];
  const inferRows = Math.min(options.agreementRows, model.data.x.shape[0]);
  const inferBatch = Math.min(64, inferRows);
  log(`bench torch: ${model.graph}: agreement on ${inferRows} test rows, gradients on ${options.gradRows}, one step on ${options.trainBatch}`);
  const twnn = await twnnInference(p, sessions, inferRows, inferBatch);
  const regionKey = (r: string) => (p.regions.length > 1 ? `iterations.${r}` : 'iterations');
  const width = twnn.y.length / inferRows;
  for (const mode of SWEEP_MODES) {
    const { read } = await torchArrays(p, torchCommand(p, 'infer', inferRows, mode, { batch: inferBatch }), `infer-${mode}`);
    const y = (await read('y')).toNumbers();
    const counts = await Promise.all(p.regions.map(async (r) => [(await read(`iterations.${r}`)).toNumbers(), twnn[regionKey(r)]] as [number[], number[]]));
    const bad = mismatchedRows(counts, inferRows);
    const same = [...Array(inferRows).keys()].filter((r) => !bad.includes(r));
    const pick = (v: number[]) => same.flatMap((r) => v.slice(r * width, (r + 1) * width));
    checks.push(countCheck('inference sweeps per region', mode, bad, inferRows));
    checks.push(check(`inference y (${same.length} rows with equal sweeps)`, mode, relDiff(pick(y), pick(twnn.y)), AGREEMENT_LIMITS.output, bad.length ? `rows with other sweeps: ${fmt(relDiff(y, twnn.y))}` : undefined));
  }

  const gradFeeds = firstStepFeeds(p.gradGraph, takeBatch(p.model.data, [...Array(options.gradRows).keys()]));
  const grad = await sessions.grad.run(gradFeeds);
  const stepFeeds = firstStepFeeds(p.trainGraph, takeBatch(p.model.data, [...Array(options.trainBatch).keys()]));
  const step = await sessions.train.run(stepFeeds);
  for (const mode of SWEEP_MODES) {
    const g = await torchArrays(p, torchCommand(p, 'grad', options.gradRows, mode), `grad-${mode}`);
    checks.push(check(`grad.onnx loss (${options.gradRows} rows)`, mode, relDiff([g.reply.loss as number], [grad.loss.get(0)]), AGREEMENT_LIMITS.loss));
    checks.push(countCheck('grad.onnx sweeps and adjoint steps', mode, mismatchedRows(await countPairs(g.read, grad), options.gradRows), options.gradRows));
    let worst = { name: '', value: 0 };
    for (const name of [...p.gradGraph.trainable, 'x']) {
      const d = relDiff((await g.read(`grad.${name}`)).toNumbers(), grad[`grad.${name}`].toNumbers());
      if (d >= worst.value) worst = { name, value: d };
    }
    checks.push(check('grad.onnx gradients, worst tensor', mode, worst.value, AGREEMENT_LIMITS.gradient, `grad.${worst.name}`));

    const s = await torchArrays(p, torchCommand(p, 'step', options.trainBatch, mode), `step-${mode}`);
    checks.push(check(`train.onnx loss (${options.trainBatch} rows)`, mode, relDiff([s.reply.loss as number], [step.loss.get(0)]), AGREEMENT_LIMITS.loss));
    checks.push(countCheck('train.onnx sweeps and adjoint steps', mode, mismatchedRows(await countPairs(s.read, step), options.trainBatch), options.trainBatch));
    for (const [output, reply] of [['jacobian_penalty', 'jacobianPenalty'], ['skip_cost', 'skipCost'], ['fp_correction', 'fpCorrection']] as const) {
      const ours = step[output]?.toNumbers();
      if (ours) checks.push(check(`train.onnx ${output}`, mode, relDiff([s.reply[reply] ?? NaN].flat() as number[], ours), AGREEMENT_LIMITS.loss));
    }
    checks.push(updateCheck(p, mode, stepFeeds, step, await Promise.all(p.trainGraph.trainable.map(async (n) => [(await s.read(`${n}.new`)).toNumbers(), (await s.read(`grad.${n}`)).toNumbers()] as const))));
  }
  for (const c of checks) log(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.what} (torch ${c.mode}): ${fmt(c.value)} (limit ${fmt(c.limit)})${c.note ? `; ${c.note}` : ''}`);
  return checks;
}

/**
 * The optimizer step's parameter moves, twnn's against torch's, on the weights
 * whose gradient is at least 1% of its tensor's largest and 100·eps: there the
 * move does not hang on rounding (Adam's first step is lr·g/(|g| + eps), whose
 * sign flips with the rounding of a gradient near 0). Largest difference over
 * the largest move.
 */
function updateCheck(p: Prepared, mode: SweepMode, before: Record<string, Tensor>, step: Record<string, Tensor>, torch: readonly (readonly [number[], number[]])[]): AgreementCheck {
  const floor = 100 * (p.trainGraph.optimizer?.eps ?? 0);
  let diff = 0;
  let scale = 0;
  let checked = 0;
  let total = 0;
  p.trainGraph.trainable.forEach((name, k) => {
    const [theirs, grad] = torch[k];
    const old = before[name].toNumbers();
    const ours = step[`${name}.new`].toNumbers();
    const cut = Math.max(floor, 1e-2 * grad.reduce((m, g) => Math.max(m, Math.abs(g)), 0));
    total += old.length;
    for (let i = 0; i < old.length; i++) {
      if (Math.abs(grad[i]) < cut || cut === 0) continue;
      checked++;
      diff = Math.max(diff, Math.abs(ours[i] - theirs[i]));
      scale = Math.max(scale, Math.abs(theirs[i] - old[i]));
    }
  });
  const note = `${checked} of ${total} weights: those whose gradient is at least 1% of their tensor's largest and 100·eps`;
  return check('train.onnx parameter moves, largest difference / largest move', mode, scale === 0 ? diff : diff / scale, AGREEMENT_LIMITS.update, note);
}

/** twnn's and torch's per-sample forward sweeps and adjoint steps, as pairs. */
async function countPairs(read: (file: string) => Promise<Tensor>, twnn: Record<string, Tensor>): Promise<[number[], number[]][]> {
  return Promise.all(['iterations', 'iterations_backward'].map(async (k) => [(await read(k)).toNumbers(), twnn[k].toNumbers()] as [number[], number[]]));
}

/** A timed variant of a workload: one pass, in milliseconds. */
type Pass = () => Promise<number>;

/** Tune torch's threads per workload, then time twnn and torch's best dense and active settings, interleaved. */
async function timeModel(p: Prepared, sessions: Sessions, options: TorchBenchOptions, log: (line: string) => void): Promise<ModelResult> {
  const { model } = p;
  const workloads: { id: string; kind: 'inference' | 'training'; batch: number; rows: number }[] = [
    ...options.inferenceBatches.map((batch) => ({ id: `inference-${batch}`, kind: 'inference' as const, batch, rows: passRowsOf(model, options, batch) })),
    { id: `training-${options.trainBatch}`, kind: 'training', batch: options.trainBatch, rows: options.trainBatch },
  ];
  const results: WorkloadResult[] = [];
  const plans: { w: (typeof workloads)[number]; twnn: Pass; torch: Record<SweepMode, { setting: TorchSetting; pass: Pass }>; tuning: WorkloadResult['tuning']; sweeps: number; adjointSteps?: number }[] = [];
  for (const w of workloads) {
    const { twnn, sweeps, adjointSteps } = await twnnPass(p, sessions, w.kind, w.batch, w.rows);
    const tuning: WorkloadResult['tuning'] = [];
    const best = {} as Record<SweepMode, { setting: TorchSetting; pass: Pass; ms: number }>;
    for (const [k, worker] of p.workers.entries()) {
      for (const threads of options.torchThreads) {
        for (const mode of SWEEP_MODES) {
          const setting: TorchSetting = { openblas: worker.label, threads, mode };
          const pass = torchPass(p, k, w.kind, w.batch, w.rows, threads, mode);
          // Another pass only for a setting within 1.5x of its mode's best: a slow one (two threads on a busy machine) can take seconds a pass.
          let ms = await timedAlone(p.workers, worker, pass);
          for (let i = 1; i < options.tuningPasses && ms < 1.5 * (best[mode]?.ms ?? Infinity); i++) ms = Math.min(ms, await timedAlone(p.workers, worker, pass));
          tuning.push({ ...setting, ms });
          if (!best[mode] || ms < best[mode].ms) best[mode] = { setting, pass, ms };
        }
      }
    }
    log(`bench torch: ${model.id} ${w.id}: tuned torch: ${SWEEP_MODES.map((m) => `${m} ${describeSetting(best[m].setting)} ${best[m].ms.toFixed(2)} ms`).join(', ')}`);
    plans.push({ w, twnn, torch: best, tuning, sweeps, ...(adjointSteps !== undefined ? { adjointSteps } : {}) });
  }
  const times = plans.map(() => ({ twnn: [] as number[], dense: [] as number[], active: [] as number[] }));
  // Each repeat starts with the next variant, so none is always first after a pause or a switch of process.
  for (let r = 0; r < options.repeats; r++) {
    for (const [k, plan] of plans.entries()) {
      const workerOf = (s: TorchSetting) => p.workers.find((w) => w.label === s.openblas);
      const variants: [keyof (typeof times)[number], Pass, TorchWorker | undefined][] = [
        ['twnn', plan.twnn, undefined],
        ['dense', plan.torch.dense.pass, workerOf(plan.torch.dense.setting)],
        ['active', plan.torch.active.pass, workerOf(plan.torch.active.setting)],
      ];
      for (let v = 0; v < variants.length; v++) {
        const [name, pass, worker] = variants[(v + r) % variants.length];
        times[k][name].push(await timedAlone(p.workers, worker, pass));
      }
    }
    log(`bench torch: ${model.id}: repeat ${r + 1}/${options.repeats}`);
  }
  for (const [k, plan] of plans.entries()) {
    const torch = Object.fromEntries(SWEEP_MODES.map((m) => [m, { ...plan.torch[m].setting, timing: timing(times[k][m]) }])) as WorkloadResult['torch'];
    const baseline: SweepMode = torch.active.timing.median < torch.dense.timing.median ? 'active' : 'dense';
    const twnnTiming = timing(times[k].twnn);
    const target = plan.w.kind === 'training' ? model.targets.training : !model.targets.inferenceBatches || model.targets.inferenceBatches.includes(plan.w.batch) ? model.targets.inference : undefined;
    results.push({
      ...plan.w,
      sweeps: plan.sweeps,
      ...(plan.adjointSteps !== undefined ? { adjointSteps: plan.adjointSteps } : {}),
      twnn: twnnTiming,
      torch,
      tuning: plan.tuning,
      baseline,
      ratio: twnnTiming.median / torch[baseline].timing.median,
      ...(target !== undefined ? { target } : {}),
    });
  }
  return { id: model.id, title: model.title, graph: model.graph, weightsFrom: model.weightsFrom, parameters: p.parameters, agreement: p.agreement, workloads: results };
}

/** twnn's pass over a workload (timed runs of its session; feeds made beforehand) and the sweeps it makes, from one untimed warm-up pass. */
async function twnnPass(p: Prepared, sessions: Sessions, kind: 'inference' | 'training', batch: number, rows: number): Promise<{ twnn: Pass; sweeps: number; adjointSteps?: number }> {
  if (kind === 'training') {
    const feeds = firstStepFeeds(p.trainGraph, takeBatch(p.model.data, [...Array(batch).keys()]));
    const out = await sessions.train.run(feeds);
    const twnn: Pass = async () => {
      const start = performance.now();
      await sessions.train.run(feeds);
      return performance.now() - start;
    };
    return { twnn, sweeps: mean(out.iterations.toNumbers()), adjointSteps: mean(out.iterations_backward.toNumbers()) };
  }
  const batches = [...Array(rows / batch).keys()].map((k) => takeBatch(p.model.data, [...Array(batch).keys()].map((i) => k * batch + i)).x);
  const sweeps: number[] = [];
  for (const x of batches) sweeps.push(...(await sessions.inference.run({ x })).iterations.toNumbers());
  const twnn: Pass = async () => {
    let ms = 0;
    for (const x of batches) {
      const start = performance.now();
      await sessions.inference.run({ x });
      ms += performance.now() - start;
    }
    return ms / batches.length;
  };
  return { twnn, sweeps: mean(sweeps) };
}

/** A torch setting's pass over a workload: the worker times its own calls (no IPC in the numbers). */
function torchPass(p: Prepared, worker: number, kind: 'inference' | 'training', batch: number, rows: number, threads: number, mode: SweepMode): Pass {
  const command = torchCommand(p, kind === 'training' ? 'step' : 'infer', rows, mode, { batch, threads });
  return async () => {
    const reply = await p.workers[worker].call(command);
    return ((reply.seconds as number) * 1000) / (rows / batch);
  };
}

function timing(runs: number[]): Timing {
  return { median: median(runs), min: Math.min(...runs), max: Math.max(...runs), runs };
}

/** `2 threads, OpenBLAS default`. */
export function describeSetting(s: Omit<TorchSetting, 'mode'>): string {
  return `${s.threads} thread${s.threads === 1 ? '' : 's'}, ${s.openblas}`;
}

/** Numbers in the log and the report: 3 significant digits, exponent below 1e-3. */
export function fmt(v: number): string {
  if (v === 0) return '0';
  return Math.abs(v) < 1e-3 ? v.toExponential(1) : Number(v.toPrecision(3)).toString();
}
