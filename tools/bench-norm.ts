// GroupNorm's two float32 lowerings (src/twnn/group-norm.ts) on the TWNN ResNet
// (graphs/mnist-resnet.ts with the paper run's trained weights): inference time
// per batch and train.onnx time per step, the fused InstanceNormalization kernel
// against the composite of elementwise ops, timed interleaved in one process
// (each repeat starts with the other lowering), medians. Also what each computes:
// argmax agreement, the largest output difference, sweeps per sample, and the
// step's loss, forward sweeps and adjoint steps. With --profile, instead:
// profiled runs of each graph (onnxruntime's profiler), their kernel time per
// run summed by op type, Loop bodies' nodes included (the Loop's own event,
// which spans its body, is left out).
//
//   node --import tsx tools/bench-norm.ts [--batches 4] [--repeats 9] [--out report.md]
//   node --import tsx tools/bench-norm.ts --profile
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { mnistResnet } from '../graphs/mnist-resnet.js';
import { mean, median } from '../lab/bench/stats.js';
import { trainFeeds } from '../src/runtime/train-feeds.js';
import { loadTaskData } from '../src/data/datasets.js';
import { batchRows, takeBatch } from '../src/data/batches.js';
import type { Graph } from '../src/ir/index.js';
import type { Tensor } from '../src/ir/tensor.js';
import { buildInferenceGraph } from '../src/lower/inference.js';
import { buildTrainGraph } from '../src/lower/training.js';
import { readInitializers, readModelFile } from '../src/onnx/load.js';
import { serializeModel } from '../src/onnx/serialize.js';
import { toOrtTensor } from '../src/runtime/ort-tensor.js';
import { openSession, type TwnnSession } from '../src/runtime/session.js';

const LOWERINGS = ['fused', 'composite'] as const;
type Lowering = (typeof LOWERINGS)[number];

export interface NormBenchOptions {
  /** The paper run whose trained weights and manifest are used (default exported/paper/mnist-resnet). */
  run?: string;
  /** Rows per batch (default 64, the training batch). */
  batch?: number;
  /** Test batches run through inference; the training step uses the first (default 4). */
  batches?: number;
  /** Timed repeats, interleaved (default 9). */
  repeats?: number;
  log?: (line: string) => void;
}

export interface NormBenchRow {
  lowering: Lowering;
  /** Nodes in the inference graph's main graph and Loop bodies, and how many are InstanceNormalization. */
  inferenceNodes: number;
  instanceNorms: number;
  /** Mean over the batches of each batch's median time. */
  inferenceMsPerBatch: number;
  sweepsPerSample: number;
  /** Median time of one train.onnx step. */
  stepMs: number;
  stepLoss: number;
  stepSweeps: number;
  stepAdjointSteps: number;
}

export interface NormBenchResult {
  rows: NormBenchRow[];
  batch: number;
  batches: number;
  repeats: number;
  /** Fraction of test samples whose argmax is the same under both lowerings. */
  argmaxAgree: number;
  /** max |y_fused − y_composite| over max |y|. */
  maxRelDiff: number;
}

/**
 * Build the ResNet's inference and training graphs with each GroupNorm lowering
 * and time them interleaved.
 *
 * @example const result = await benchNorm({ batches: 2, repeats: 3 }); // result.rows[0].stepMs
 */
export async function benchNorm(options: NormBenchOptions = {}): Promise<NormBenchResult> {
  const repeats = options.repeats ?? 9;
  const log = options.log ?? (() => {});
  const { batch, batches, stepFeeds, graphs } = await prepare(options);
  const sessions = new Map<Lowering, { inference: TwnnSession; train: TwnnSession; nodes: number; instanceNorms: number }>();
  try {
    for (const [lowering, { inference, train }] of graphs) {
      const types = opTypes(inference);
      sessions.set(lowering, {
        inference: await openSession(serializeModel(inference), { where: `inference (${lowering})` }),
        train: await openSession(serializeModel(train), { where: `train (${lowering})` }),
        nodes: types.length,
        instanceNorms: types.filter((t) => t === 'InstanceNormalization').length,
      });
    }
    // What each computes, once (also the warm-up).
    const outputs = new Map<Lowering, Record<string, Tensor>[]>();
    const steps = new Map<Lowering, Record<string, Tensor>>();
    for (const [lowering, s] of sessions) {
      const out: Record<string, Tensor>[] = [];
      for (const b of batches) out.push(await s.inference.run({ x: b.x }));
      outputs.set(lowering, out);
      steps.set(lowering, await s.train.run(stepFeeds));
    }
    const inferenceTimes = new Map(LOWERINGS.map((l) => [l, batches.map((): number[] => [])]));
    const stepTimes = new Map(LOWERINGS.map((l): [Lowering, number[]] => [l, []]));
    for (let r = 0; r < repeats; r++) {
      const order = r % 2 === 0 ? LOWERINGS : [...LOWERINGS].reverse();
      for (const lowering of order) {
        for (const [k, b] of batches.entries()) inferenceTimes.get(lowering)![k].push(await timed(() => sessions.get(lowering)!.inference.run({ x: b.x })));
      }
      for (const lowering of order) stepTimes.get(lowering)!.push(await timed(() => sessions.get(lowering)!.train.run(stepFeeds)));
      log(`repeat ${r + 1}/${repeats}`);
    }
    const rows = LOWERINGS.map((lowering): NormBenchRow => {
      const s = sessions.get(lowering)!;
      const step = steps.get(lowering)!;
      return {
        lowering,
        inferenceNodes: s.nodes,
        instanceNorms: s.instanceNorms,
        inferenceMsPerBatch: mean(inferenceTimes.get(lowering)!.map(median)),
        sweepsPerSample: mean(outputs.get(lowering)!.flatMap((o) => o.iterations.toNumbers())),
        stepMs: median(stepTimes.get(lowering)!),
        stepLoss: step.loss.get(0),
        stepSweeps: mean(step.iterations.toNumbers()),
        stepAdjointSteps: mean(step.iterations_backward.toNumbers()),
      };
    });
    return { rows, batch, batches: batches.length, repeats, ...agreement(outputs.get('fused')!, outputs.get('composite')!) };
  } finally {
    for (const s of sessions.values()) {
      await s.inference.close();
      await s.train.close();
    }
  }
}

/** The trained weights, test batches, the first batch's train feeds, and both lowerings' inference and training graphs. */
async function prepare(options: NormBenchOptions) {
  const run = options.run ?? 'exported/paper/mnist-resnet';
  const batch = options.batch ?? 64;
  const spec = mnistResnet();
  const modelPath = join(run, 'model.onnx');
  const weights = readInitializers(await readModelFile(modelPath), modelPath);
  const data = await loadTaskData(spec.task!.data!, 'test');
  const all = Uint32Array.from({ length: (options.batches ?? 4) * batch }, (_, i) => i);
  const batches = [...Array(options.batches ?? 4).keys()].map((k) => takeBatch(data, batchRows(all, k, batch)));
  const stepFeeds = Object.fromEntries(await trainFeeds(run, batches[0].x, batches[0].target));
  const graphs = new Map(
    LOWERINGS.map((lowering) => [
      lowering,
      {
        inference: buildInferenceGraph(spec, { weights, groupNorm: lowering }).graph,
        train: buildTrainGraph(spec, { weights, groupNorm: lowering }).graph,
      },
    ]),
  );
  return { batch, batches, stepFeeds, graphs };
}

/** Kernel time of one run, in ms, in total and by op type (largest first). */
export interface KernelProfile {
  graph: string;
  lowering: Lowering;
  /** Profiled runs the times are the mean of. */
  runs: number;
  totalMs: number;
  byOp: [string, number][];
}

/**
 * `repeats` profiled runs (default 3, after an unprofiled warm-up) of each
 * lowering's inference graph on the first batch and of its train step:
 * onnxruntime's per-node kernel times, summed, per run.
 *
 * @example const profiles = await profileNorm(); // profiles[0].byOp[0] // ['Conv', 95.1]
 */
export async function profileNorm(options: NormBenchOptions = {}): Promise<KernelProfile[]> {
  const repeats = options.repeats ?? 3;
  const { batches, stepFeeds, graphs } = await prepare({ ...options, batches: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'twnn-norm-profile-'));
  const profiles: KernelProfile[] = [];
  try {
    for (const [lowering, built] of graphs) {
      for (const [graph, g, feeds] of [['inference', built.inference, { x: batches[0].x }], ['train', built.train, stepFeeds]] as const) {
        const bytes = serializeModel(g);
        const ortFeeds = Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, toOrtTensor(t)]));
        await (await ort.InferenceSession.create(bytes)).run(ortFeeds);
        const session = await ort.InferenceSession.create(bytes, { enableProfiling: true, profileFilePrefix: join(dir, `${graph}-${lowering}`) });
        for (let r = 0; r < repeats; r++) await session.run(ortFeeds);
        session.endProfiling();
        await session.release();
        const { totalMs, byOp } = kernelTimes(dir, `${graph}-${lowering}`);
        profiles.push({ graph, lowering, runs: repeats, totalMs: totalMs / repeats, byOp: byOp.map(([op, ms]) => [op, ms / repeats]) });
        options.log?.(`profiled ${graph} (${lowering})`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return profiles;
}

/** Sum the `kernel_time` events of the profile file under `dir` whose name starts with `prefix`; the total leaves out Loop and If, which span their bodies' nodes. */
function kernelTimes(dir: string, prefix: string): { totalMs: number; byOp: [string, number][] } {
  const file = readdirSync(dir).find((f) => f.startsWith(prefix));
  if (!file) throw new Error(`no onnxruntime profile ${prefix}* in ${dir}`);
  const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
  const byOp = new Map<string, number>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args?.op_name) continue;
    byOp.set(e.args.op_name, (byOp.get(e.args.op_name) ?? 0) + e.dur / 1000);
  }
  const sorted = [...byOp].sort((a, b) => b[1] - a[1]);
  return { totalMs: sorted.reduce((acc, [op, ms]) => (op === 'Loop' || op === 'If' ? acc : acc + ms), 0), byOp: sorted };
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

/** Op types of every node of `g` and its subgraphs. */
function opTypes(g: Graph): string[] {
  return g.nodes.flatMap((n) => [n.opType, ...n.subgraphs().flatMap(opTypes)]);
}

// lab/bench/solvers.ts has the same comparison, unexported; its owner could export it for this tool.
function agreement(a: readonly Record<string, Tensor>[], b: readonly Record<string, Tensor>[]): { argmaxAgree: number; maxRelDiff: number } {
  const [ya, yb] = [a, b].map((outs) => outs.flatMap((o) => o.y.toNumbers()));
  const classes = a[0].y.shape[1];
  const argmax = (y: number[], r: number) => y.slice(r * classes, (r + 1) * classes).reduce((best, v, i, row) => (v > row[best] ? i : best), 0);
  const rows = ya.length / classes;
  const same = [...Array(rows).keys()].filter((r) => argmax(ya, r) === argmax(yb, r)).length;
  const maxAbs = (values: number[]) => values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  return { argmaxAgree: same / rows, maxRelDiff: maxAbs(ya.map((v, i) => v - yb[i])) / maxAbs(ya) };
}

/**
 * The result as a markdown table, with ratios fused / composite.
 *
 * @example process.stdout.write(normReport(await benchNorm(), 'node --import tsx tools/bench-norm.ts'));
 */
export function normReport(r: NormBenchResult, command: string): string {
  const [fused, composite] = r.rows;
  const lines = [
    `GroupNorm lowering on graphs/mnist-resnet.ts (trained weights): inference over ${r.batches} test batches of ${r.batch} (mean of each batch's median), ` +
      `one train.onnx step on the first batch (median), ${r.repeats} interleaved repeats.`,
    '',
    '| lowering | nodes (InstanceNormalization) | sweeps/sample | inference ms/batch | step ms | step loss | step sweeps | step adjoint steps |',
    '|---|---|---|---|---|---|---|---|',
    ...r.rows.map(
      (row) =>
        `| ${row.lowering} | ${row.inferenceNodes} (${row.instanceNorms}) | ${row.sweepsPerSample.toFixed(2)} | ${row.inferenceMsPerBatch.toFixed(1)} | ${row.stepMs.toFixed(1)} | ` +
        `${row.stepLoss.toFixed(5)} | ${row.stepSweeps.toFixed(2)} | ${row.stepAdjointSteps.toFixed(2)} |`,
    ),
    '',
    `fused / composite: inference ${(fused.inferenceMsPerBatch / composite.inferenceMsPerBatch).toFixed(3)}, step ${(fused.stepMs / composite.stepMs).toFixed(3)}; ` +
      `argmax agreement ${(r.argmaxAgree * 100).toFixed(2)}%, max relative |Δy| ${r.maxRelDiff.toExponential(1)}.`,
    '',
    `Command: \`${command}\``,
    '',
  ];
  return lines.join('\n');
}

/**
 * Kernel profiles as a markdown table: total and the op types that GroupNorm's lowerings emit, per graph and lowering.
 *
 * @example process.stdout.write(profileReport(await profileNorm(), 'node --import tsx tools/bench-norm.ts --profile'));
 */
export function profileReport(profiles: readonly KernelProfile[], command: string): string {
  const ops = ['InstanceNormalization', 'ReduceMean', 'Sub', 'Mul', 'Div', 'Add', 'Sqrt', 'Expand', 'Conv', 'FusedConv', 'ConvTranspose'];
  const ms = (p: KernelProfile, op: string) => (p.byOp.find(([name]) => name === op)?.[1] ?? 0).toFixed(1);
  return [
    `Kernel time per run (onnxruntime profiler, ms, the mean of ${profiles[0]?.runs} profiled runs after a warm-up; total without Loop and If, ` +
      'which span their bodies) of inference on the first test batch of 64 and of one train step on it:',
    '',
    `| graph | lowering | total | ${ops.join(' | ')} |`,
    `|---|---|---|${ops.map(() => '---').join('|')}|`,
    ...profiles.map((p) => `| ${p.graph} | ${p.lowering} | ${p.totalMs.toFixed(1)} | ${ops.map((op) => ms(p, op)).join(' | ')} |`),
    '',
    `Command: \`${command}\``,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { batches: { type: 'string', default: '4' }, repeats: { type: 'string', default: '9' }, out: { type: 'string' }, profile: { type: 'boolean', default: false } },
  });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const report = values.profile
    ? profileReport(await profileNorm({ log }), 'node --import tsx tools/bench-norm.ts --profile')
    : normReport(
        await benchNorm({ batches: Number(values.batches), repeats: Number(values.repeats), log }),
        `node --import tsx tools/bench-norm.ts --batches ${values.batches} --repeats ${values.repeats}`,
      );
  process.stdout.write(report);
  if (values.out) writeFileSync(values.out, report);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
