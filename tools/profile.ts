// Where a TWNN's time goes (as openSession runs it: input-weight convolutions
// on the NCHWc kernels unless TWNN_BLOCKED_CONV=0): onnxruntime's profiler over a few runs of its
// inference graph (one batch) or grad.onnx (one gradient step), kernel time per
// run summed by op type, Loop bodies' nodes included (the Loop's own event,
// which spans its body, is listed but not summed). Weights: the paper run's
// model.onnx under exported/paper/<name>/ where present, else the graph's
// initial values; data: the first rows of its test set.
//
//   node --import tsx tools/profile.ts mnist-resnet [--grad] [--batch 64] [--runs 5] [--sweeps dense] [--compact-below 0.5] [--threads 1]
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import type { Tensor } from '../src/ir/tensor.js';
import { buildInferenceGraph } from '../src/lower/inference.js';
import { buildGradGraph } from '../src/lower/training.js';
import { parseModel, readInitializers, readModelFile } from '../src/onnx/load.js';
import { cpuKernelBytes } from '../src/runtime/session.js';
import { serializeModel } from '../src/onnx/serialize.js';
import type { ModelSpec } from '../src/twnn/spec.js';
import { checkBatch } from './gradient-accuracy.js';

export interface OpProfile {
  op: string;
  /** Kernel milliseconds per run. */
  ms: number;
  calls: number;
}

export interface GraphProfile {
  /** Each profiled run's wall time (onnxruntime's `model_run`), ms. */
  runs: number[];
  /** Kernel time per run, every op but Loop, ms. */
  kernelMs: number;
  /** By op type, slowest first. */
  ops: OpProfile[];
}

/**
 * Profile `runs` runs of `model` with `feeds` (after one unprofiled warm-up).
 *
 * @example const p = await profileRuns(serializeModel(graph), feeds, 5); p.ops[0] // { op: 'Conv', ms: 78, calls: 323 }
 */
export async function profileRuns(model: Uint8Array, feeds: Record<string, ort.Tensor>, runs: number, options: ort.InferenceSession.SessionOptions = {}): Promise<GraphProfile> {
  const dir = mkdtempSync(join(tmpdir(), 'twnn-profile-'));
  try {
    // What openSession runs on the CPU: input-weight convolutions on the NCHWc kernels (TWNN_BLOCKED_CONV=0: as exported).
    const bytes = await cpuKernelBytes(parseModel(model, 'profiled model'), model, { kind: 'cpu' }, {});
    const session = await ort.InferenceSession.create(bytes, { ...options, enableProfiling: true, profileFilePrefix: join(dir, 'run') });
    for (let i = 0; i < runs + 1; i++) await session.run(feeds);
    session.endProfiling();
    await session.release();
    const file = readdirSync(dir).map((f) => join(dir, f))[0];
    const events = JSON.parse(readFileSync(file, 'utf8')) as { cat: string; name: string; dur: number; args: { op_name?: string } }[];
    const byOp = new Map<string, OpProfile>();
    let kernel = 0;
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args.op_name) continue;
      // The blocked convolutions openSession makes (src/onnx/blocked-conv.ts) apart from onnxruntime's own Convs.
      const op = e.args.op_name === 'Conv' && e.name.includes('twnn.nchwc/') ? 'Conv (blocked)' : e.args.op_name;
      const row = byOp.get(op) ?? { op, ms: 0, calls: 0 };
      row.ms += e.dur / 1000;
      row.calls += 1;
      byOp.set(row.op, row);
      if (row.op !== 'Loop') kernel += e.dur / 1000;
    }
    // The first model_run is the warm-up.
    const wall = events.filter((e) => e.name === 'model_run').map((e) => e.dur / 1000).slice(1);
    const scale = runs + 1;
    const ops = [...byOp.values()].map((r) => ({ op: r.op, ms: r.ms / scale, calls: Math.round(r.calls / scale) })).sort((a, b) => b.ms - a.ms);
    return { runs: wall, kernelMs: kernel / scale, ops };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function ortTensor(t: Tensor): ort.Tensor {
  if (t.dtype === 'int64') return new ort.Tensor('int64', BigInt64Array.from(t.toNumbers().map((v) => BigInt(v))), t.shape);
  return new ort.Tensor(t.dtype === 'float64' ? 'float64' : 'float32', t.dtype === 'float64' ? Float64Array.from(t.toNumbers()) : Float32Array.from(t.toNumbers()), t.shape);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      grad: { type: 'boolean', default: false },
      batch: { type: 'string', default: '64' },
      runs: { type: 'string', default: '5' },
      sweeps: { type: 'string', default: 'active' },
      'compact-below': { type: 'string' },
      threads: { type: 'string' },
    },
  });
  const name = positionals[0];
  if (!name) throw new Error('usage: tools/profile.ts <graph name, e.g. mnist-resnet> [--grad] [--batch 64] [--runs 5] [--sweeps active|dense] [--compact-below f] [--threads n]');
  const sweeps: 'active' | 'dense' = values.sweeps === 'dense' ? 'dense' : 'active';
  if (values.sweeps !== sweeps) throw new Error(`--sweeps must be active or dense, got ${values.sweeps}`);
  const spec = (await import(pathToFileURL(join(process.cwd(), 'graphs', `${name}.ts`)).href)).default as ModelSpec;
  const trained = join('exported/paper', name, 'model.onnx');
  const weights = existsSync(trained) ? readInitializers(await readModelFile(trained), trained) : undefined;
  const batch = await checkBatch(spec, 'float32', Number(values.batch));
  const compactBelow = values['compact-below'] === undefined ? undefined : Number(values['compact-below']);
  const build = { ...(weights ? { weights } : {}), regionOverrides: { sweeps, ...(compactBelow === undefined ? {} : { compactBelow }) } };
  const { graph, params } = values.grad ? buildGradGraph(spec, build) : buildInferenceGraph(spec, build);
  const feeds: Record<string, ort.Tensor> = { x: ortTensor(batch.x) };
  if (values.grad) {
    feeds.target = ortTensor(batch.target);
    for (const p of params) if (graph.inputs.some((v) => v.name === p.name)) feeds[p.name] = ortTensor(p.value);
  }
  const p = await profileRuns(serializeModel(graph), feeds, Number(values.runs), values.threads ? { intraOpNumThreads: Number(values.threads) } : {});
  const what = `${name} ${values.grad ? 'grad.onnx step' : 'inference'}, batch ${values.batch}, ${values.sweeps} sweeps${compactBelow === undefined ? '' : ` (compactBelow ${compactBelow})`}${weights ? `, weights ${trained}` : ', initial weights'}`;
  process.stdout.write(`${what}\nwall ms per run: ${p.runs.map((r) => r.toFixed(1)).join(' ')}; kernel ms per run (Loop excluded): ${p.kernelMs.toFixed(1)}\n`);
  for (const r of p.ops.slice(0, 20)) {
    const share = r.op === 'Loop' ? '' : ` ${((100 * r.ms) / p.kernelMs).toFixed(1)}%`;
    process.stdout.write(`${r.op.padEnd(24)} ${r.ms.toFixed(2).padStart(9)} ms ${String(r.calls).padStart(6)} calls${share}\n`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
