// How exact grad.onnx is, per TWNN graph: the implicit gradient against central
// differences of grad.onnx's own loss (random directions over all parameters
// jointly, and over x), as shipped and with tight tolerances, and the implicit
// gradient against exact unrolled backprop at convergence. The numbers in the
// issue-10 note and docs/RESULTS.md come from here; test/lower/graph-gradients.test.ts
// asserts the targets with the same functions.
//
//   node --import tsx tools/gradient-accuracy.ts [graphs/sine.ts ...] [--batch 16] [--weights DIR]
//
// Without graph arguments it checks every graph in graphs/ that has a region.
// Float64 where onnxruntime's CPU kernels allow (no convolutions), else float32.
import { existsSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { batchRows, takeBatch, type Dataset } from '../src/data/batches.js';
import { loadTaskData } from '../src/data/datasets.js';
import { Tensor, type DType } from '../src/ir/index.js';
import { buildGradGraph } from '../src/lower/training.js';
import { readInitializers, readModelFile } from '../src/onnx/load.js';
import { serializeModel } from '../src/onnx/serialize.js';
import { openSession } from '../src/runtime/session.js';
import type { ModelSpec } from '../src/twnn/spec.js';
import type { RegionOverrides } from '../src/twnn/module.js';
import { Rng } from '../src/common/rng.js';

/** One gradient check's setting. */
export interface CheckSetting {
  spec: ModelSpec;
  dtype: DType;
  /** Trained weights (default: the spec's initial values). */
  weights?: ReadonlyMap<string, Tensor>;
  overrides?: RegionOverrides;
  /** The batch: rows of the task's test split, or seeded noise when it has none here. */
  batch: { x: Tensor; target: Tensor };
}

/** ⟨grad, v⟩ against the central difference along v. */
export interface DirectionalCheck {
  analytic: number;
  numeric: number;
  /** |analytic − numeric| / |numeric| */
  relError: number;
}

export interface CentralDifferenceResult {
  params: DirectionalCheck;
  x: DirectionalCheck;
  /** Mean forward sweeps and adjoint steps per sample. */
  sweeps: number;
  adjointSteps: number;
}

/**
 * grad.onnx's gradient against central differences of its own loss, along one
 * seeded random direction over every parameter at once and one over x.
 *
 * @example const r = await centralDifferenceCheck({ spec: sine, dtype: 'float64', batch }); r.params.relError
 */
export async function centralDifferenceCheck(setting: CheckSetting, eps = { params: 1e-6, x: 1e-5 }): Promise<CentralDifferenceResult> {
  const { graph, params, trainable } = buildGradGraph(setting.spec, { dtype: setting.dtype, ...(setting.weights ? { weights: setting.weights } : {}), ...(setting.overrides ? { regionOverrides: setting.overrides } : {}) });
  const session = await openSession(serializeModel(graph), { where: `${setting.spec.name} grad.onnx` });
  try {
    const rng = new Rng('twnn:gradient-accuracy');
    const normal = (n: number) => Array.from({ length: n }, () => rng.normal());
    const trained = params.filter((p) => trainable.includes(p.name));
    const vParams = trained.map((p) => normal(p.value.size));
    const vx = normal(setting.batch.x.size);
    const values = new Map(params.map((p) => [p.name, p.value]));
    const feeds = (t: number, s: number): Record<string, Tensor> => ({
      x: moved(setting.batch.x, vx, s, setting.dtype),
      target: setting.batch.target,
      ...Object.fromEntries(params.filter((p) => graph.inputs.some((v) => v.name === p.name)).map((p) => {
        const k = trained.indexOf(p);
        return [p.name, k < 0 ? values.get(p.name)! : moved(p.value, vParams[k], t, setting.dtype)];
      })),
    });
    const at = await session.run(feeds(0, 0));
    const loss = async (t: number, s: number) => (await session.run(feeds(t, s))).loss.get(0);
    const analyticParams = trained.reduce((acc, p, k) => acc + dot(at[`grad.${p.name}`].toNumbers(), vParams[k]), 0);
    const analyticX = dot(at['grad.x'].toNumbers(), vx);
    const numericParams = ((await loss(eps.params, 0)) - (await loss(-eps.params, 0))) / (2 * eps.params);
    const numericX = ((await loss(0, eps.x)) - (await loss(0, -eps.x))) / (2 * eps.x);
    const check = (analytic: number, numeric: number): DirectionalCheck => ({ analytic, numeric, relError: Math.abs(analytic - numeric) / Math.abs(numeric) });
    return { params: check(analyticParams, numericParams), x: check(analyticX, numericX), sweeps: await meanCount(session, feeds(0, 0), 'iterations'), adjointSteps: await meanCount(session, feeds(0, 0), 'iterations_backward') };
  } finally {
    await session.close();
  }
}

/** Gradients from one grad.onnx run, with its mean counts. */
export interface GradientRun {
  grads: Record<string, number[]>;
  sweeps: number;
  adjointSteps: number;
  /** Samples that ran out of sweeps in some region. */
  unsettled: number;
}

/**
 * Run grad.onnx built with `overrides` on the setting's batch.
 *
 * @example const exact = await gradientsAt(setting, { tol: 1e-12, backwardTol: 1e-12 });
 */
export async function gradientsAt(setting: CheckSetting, overrides: RegionOverrides = {}): Promise<GradientRun> {
  const { graph, params } = buildGradGraph(setting.spec, { dtype: setting.dtype, ...(setting.weights ? { weights: setting.weights } : {}), regionOverrides: { ...setting.overrides, ...overrides } });
  const session = await openSession(serializeModel(graph), { where: `${setting.spec.name} grad.onnx` });
  try {
    const feeds = { x: setting.batch.x, target: setting.batch.target, ...Object.fromEntries(params.filter((p) => graph.inputs.some((v) => v.name === p.name)).map((p) => [p.name, p.value])) };
    const out = await session.run(feeds);
    const grads = Object.fromEntries(Object.keys(out).filter((k) => k.startsWith('grad.')).map((k) => [k, out[k].toNumbers()]));
    return { grads, sweeps: meanOf(out.iterations), adjointSteps: meanOf(out.iterations_backward), unsettled: out.unsettled.toNumbers().filter((n) => n > 0).length };
  } finally {
    await session.close();
  }
}

/**
 * How far gradients `a` are from `b`: the largest over tensors of
 * max|a − b| / max|b|, and which tensor that is.
 *
 * @example gradientError(shipped.grads, exact.grads).error // 3e-5
 */
export function gradientError(a: Record<string, number[]>, b: Record<string, number[]>): { error: number; worst: string } {
  let error = 0;
  let worst = '';
  for (const name of Object.keys(b)) {
    let scale = 1e-30;
    let diff = 0;
    for (let i = 0; i < b[name].length; i++) {
      scale = Math.max(scale, Math.abs(b[name][i]));
      diff = Math.max(diff, Math.abs(a[name][i] - b[name][i]));
    }
    if (diff / scale >= error) [error, worst] = [diff / scale, name];
  }
  return { error, worst };
}

/**
 * The first `batch` rows of the spec's test data (seeded noise and labels
 * where its data set is not on this machine, e.g. CIFAR-10).
 *
 * @example const batch = await checkBatch(spec, 'float64', 16);
 */
export async function checkBatch(spec: ModelSpec, dtype: 'float32' | 'float64', batch: number): Promise<{ x: Tensor; target: Tensor }> {
  const data = spec.task?.data;
  let set: Dataset | undefined;
  if (data) {
    try {
      set = await loadTaskData(data, 'test', dtype);
    } catch {
      set = undefined;
    }
  }
  if (set) return takeBatch(set, batchRows(Uint32Array.from({ length: batch }, (_, i) => i), 0, batch));
  const rng = new Rng('twnn:gradient-accuracy:data');
  const shape = spec.input.shape.map((d) => (typeof d === 'number' ? d : batch));
  const x = Tensor.fromNumbers(dtype, shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()));
  return { x, target: Tensor.fromNumbers('int64', [batch], Array.from({ length: batch }, (_, i) => i % 10)) };
}

function moved(base: Tensor, v: readonly number[], by: number, dtype: DType): Tensor {
  if (by === 0) return base.dtype === dtype ? base : Tensor.fromNumbers(dtype, base.shape, base.toNumbers());
  return Tensor.fromNumbers(dtype, base.shape, base.toNumbers().map((b, i) => b + by * v[i]));
}

function dot(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function meanOf(t: Tensor | undefined): number {
  if (!t) return NaN;
  const v = t.toNumbers();
  return v.reduce((a, b) => a + b, 0) / v.length;
}

async function meanCount(session: Awaited<ReturnType<typeof openSession>>, feeds: Record<string, Tensor>, name: string): Promise<number> {
  return meanOf((await session.run(feeds))[name]);
}

/** Whether a spec's network has a fixed-point region (its grad graph has a Loop). */
function hasRegion(spec: ModelSpec): boolean {
  return buildGradGraph(spec, {}).graph.nodes.some((n) => n.opType === 'Loop');
}

/** Conv networks have no float64 kernels on the CPU: check them in float32. */
function dtypeFor(spec: ModelSpec): 'float32' | 'float64' {
  try {
    buildGradGraph(spec, { dtype: 'float64' });
    return 'float64';
  } catch {
    return 'float32';
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { batch: { type: 'string', default: '16' }, weights: { type: 'string' } } });
  const batchSize = Number(values.batch);
  const files = positionals.length > 0 ? positionals : readdirSync('graphs').filter((f) => f.endsWith('.ts')).sort().map((f) => join('graphs', f));
  const fmt = (v: number) => v.toExponential(1);
  const cd: string[] = [];
  const exactness: string[] = [];
  for (const file of files) {
    const spec = (await import(pathToFileURL(resolve(file)).href)).default as ModelSpec;
    if (!hasRegion(spec)) continue;
    const dtype = dtypeFor(spec);
    const trained = join(values.weights ?? 'exported/paper', basename(file, '.ts'), 'model.onnx');
    const weights = existsSync(trained) ? readInitializers(await readModelFile(trained), trained) : undefined;
    const batch = await checkBatch(spec, dtype, batchSize);
    const setting: CheckSetting = { spec, dtype, batch, ...(weights ? { weights } : {}) };
    const label = `${file}${weights ? ' (trained)' : ''}, ${dtype}`;
    // Float64 reaches 1e-12; float32 settles near its rounding, so 1e-6 is as converged as it gets.
    const tight = dtype === 'float64' ? 1e-12 : 1e-6;
    const settings: [string, RegionOverrides][] = [
      ['as shipped', {}],
      ['as shipped, old absolute adjoint stop', { backwardNorm: 'max' }],
      [`tol ${tight} both ways`, { tol: tight, backwardTol: tight }],
    ];
    if (dtype === 'float64') {
      for (const [name, overrides] of settings) {
        const r = await centralDifferenceCheck({ ...setting, overrides });
        cd.push(`| ${label} | ${name} | ${r.sweeps.toFixed(1)} | ${r.adjointSteps.toFixed(1)} | ${fmt(r.params.relError)} | ${fmt(r.x.relError)} |`);
      }
    }
    const exactImplicit = await gradientsAt(setting, { tol: tight, backwardTol: tight });
    const exactUnrolled = await gradientsAt(setting, { tol: tight, backwardTol: tight, backward: { mode: 'unrolled' } });
    const agreement = gradientError(exactImplicit.grads, exactUnrolled.grads);
    for (const [name, overrides] of settings.slice(0, 2)) {
      const r = await gradientsAt(setting, overrides);
      const e = gradientError(r.grads, exactUnrolled.grads);
      exactness.push(`| ${label} | ${name} | ${r.sweeps.toFixed(1)} | ${r.adjointSteps.toFixed(1)} | ${fmt(e.error)} (${e.worst}) |`);
    }
    exactness.push(`| ${label} | implicit at tol ${tight} both ways | ${exactImplicit.sweeps.toFixed(1)} | ${exactImplicit.adjointSteps.toFixed(1)} | ${fmt(agreement.error)} (${agreement.worst}) |`);
  }
  console.log(`Batch ${batchSize}: the first rows of each task's test split (seeded noise where its data is not here).\n`);
  console.log('Central differences of grad.onnx\'s own loss (float64), one random direction over all parameters and one over x:\n');
  console.log('| graph | setting | sweeps | adjoint steps | rel. error (params) | rel. error (x) |');
  console.log('|---|---|---|---|---|---|');
  for (const line of cd) console.log(line);
  console.log('\nAgainst exact unrolled backprop at convergence (largest over tensors of max|Δ| / max|exact|):\n');
  console.log('| graph | gradient | sweeps | adjoint steps | error vs exact |');
  console.log('|---|---|---|---|---|');
  for (const line of exactness) console.log(line);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
