// `twnn bench solvers`: what each fixed-point setting costs and buys on a
// trained TWNN, measured in one run with the variants interleaved: forward
// sweeps per sample, inference time per batch, and one train.onnx step
// (forward sweeps, adjoint steps, wall time), with each region's spectral
// radius of dF/dS at the fixed point over the same samples, for plain iteration with the
// default (relative) adjoint stop, the old absolute stop, Anderson
// acceleration and limited-memory Broyden forward and backward, and the
// Jacobian penalty. Every variant
// is first checked to compute the same predictions as plain iteration.
import { batchRows, datasetSize, takeBatch, type Dataset } from '../../src/data/batches.js';
import { Tensor } from '../../src/ir/tensor.js';
import { buildInferenceGraph } from '../../src/lower/inference.js';
import { buildTrainGraph } from '../../src/lower/training.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { iteratorLimits, unsettledSamples, type RegionLimits } from '../../src/runtime/guard.js';
import { openSession, type TwnnSession } from '../../src/runtime/session.js';
import { iteratorRecordsOf } from '../../src/lower/fixed-point.js';
import type { RegionOverrides } from '../../src/twnn/module.js';
import type { ModelSpec } from '../../src/twnn/spec.js';
import { mean, median } from './stats.js';
import { firstStepFeeds } from '../../src/runtime/train-feeds.js';
import { DEFAULT_POWER_STEPS, buildSpectralGraph } from '../../src/lower/spectral.js';
import { spectralSummary, spectralText, type SpectralSummary } from '../../src/runtime/spectral.js';

/** One setting of every region, by the overrides that make it. */
export interface SolverVariant {
  id: string;
  label: string;
  overrides: RegionOverrides;
  /** Only a training-time difference (the adjoint's stop, the penalty): timed on the training step alone. */
  trainingOnly?: boolean;
}

const ANDERSON = { kind: 'anderson', history: 5, mixing: 1, regularization: 1e-6 } as const;
const BROYDEN = { kind: 'broyden', history: 8 } as const;

/** The variants `twnn bench solvers` compares, the first being the reference. */
export const SOLVER_VARIANTS: readonly SolverVariant[] = [
  { id: 'plain', label: 'plain iteration; adjoint stops at ‖Δw‖ ≤ tol·‖ḡ‖ (default)', overrides: {} },
  { id: 'plain-absolute', label: 'plain iteration; old absolute adjoint stop, max|Δw| ≤ tol', overrides: { backwardNorm: 'max' }, trainingOnly: true },
  { id: 'anderson', label: 'Anderson (m = 5) forward and adjoint', overrides: { solver: ANDERSON, backwardSolver: ANDERSON } },
  { id: 'broyden', label: 'Broyden (m = 8) forward and adjoint', overrides: { solver: BROYDEN, backwardSolver: BROYDEN } },
  { id: 'jacobian', label: 'plain iteration + Jacobian penalty γ = 1', overrides: { jacobianPenalty: 1 }, trainingOnly: true },
];

/**
 * What the fixed-point engine's sweeps cost (issues 11 and 21), plain iteration
 * throughout: active-row sweeps gathered every step (eager, the reference) or
 * in working sets (lazy compaction below 0.9 and 0.5 of a set), dense sweeps,
 * and each without hoisted invariants (the engine before issue 11, but for its
 * bookkeeping).
 */
export const ENGINE_VARIANTS: readonly SolverVariant[] = [
  { id: 'active-eager', label: 'active-row sweeps gathered every step (compactBelow 1), invariants hoisted', overrides: { compactBelow: 1 } },
  { id: 'active-lazy-0.9', label: 'active-row sweeps in working sets, gathered anew below 0.9 of a set (compactBelow 0.9)', overrides: { compactBelow: 0.9 } },
  { id: 'active-lazy-0.5', label: 'active-row sweeps in working sets, gathered anew below 0.5 of a set (compactBelow 0.5)', overrides: { compactBelow: 0.5 } },
  { id: 'dense', label: 'dense sweeps, invariants hoisted', overrides: { sweeps: 'dense' } },
  { id: 'active-inline', label: 'active-row sweeps gathered every step, invariants recomputed each step', overrides: { compactBelow: 1, hoistInvariants: false } },
  { id: 'dense-inline', label: 'dense sweeps, invariants recomputed each step', overrides: { sweeps: 'dense', hoistInvariants: false } },
];

export interface SolverBenchGraph {
  /** For the report, e.g. `graphs/mnist-resnet.ts`. */
  name: string;
  spec: ModelSpec;
  /** Trained weights (the paper run's model.onnx), by parameter name. */
  weights?: ReadonlyMap<string, Tensor>;
  /** Test data (inference) and the training batch is its first rows. */
  data: Dataset;
}

export interface SolverBenchOptions {
  graphs: readonly SolverBenchGraph[];
  /** Rows per inference run and of the training step. */
  batch: number;
  /** Test samples run through inference. */
  samples: number;
  /** Timed repetitions, interleaved across variants (the median is kept). */
  repeats: number;
  variants?: readonly SolverVariant[];
  log?: (line: string) => void;
}

export interface VariantResult {
  variant: string;
  label: string;
  inference?: {
    /** Samples run (every batch's rows). */
    rows: number;
    sweepsMean: number;
    sweepsMax: number;
    unsettled: number;
    msPerBatch: number;
    /** Fraction of samples whose argmax equals plain iteration's (classification), and max |Δy| relative to max |y|. */
    argmaxAgree: number;
    maxRelDiff: number;
  };
  training: { sweepsMean: number; adjointMean: number; msPerStep: number; loss: number; penalty?: number };
}

export interface SolverBenchResult {
  graph: string;
  batch: number;
  samples: number;
  repeats: number;
  /** Per region, the spectral radius of dF/dS at the fixed point over the same samples (spectral.onnx, src/lower/spectral.ts): what plain iteration's sweep counts follow. */
  spectral: SpectralSummary[];
  variants: VariantResult[];
}

/**
 * Measure every variant on every graph (see the head of this file).
 *
 * @example const results = await benchSolvers({ graphs: [{ name: 'graphs/mnist-mlp.ts', spec, weights, data }], batch: 64, samples: 512, repeats: 5 });
 */
export async function benchSolvers(options: SolverBenchOptions): Promise<SolverBenchResult[]> {
  const variants = options.variants ?? SOLVER_VARIANTS;
  const log = options.log ?? (() => {});
  const results: SolverBenchResult[] = [];
  for (const graph of options.graphs) {
    log(`bench solvers: ${graph.name}`);
    const n = Math.min(options.samples, datasetSize(graph.data));
    const batches = [...Array(Math.ceil(n / options.batch)).keys()].map((k) =>
      takeBatch(graph.data, batchRows(Uint32Array.from({ length: n }, (_, i) => i), k, options.batch)),
    );
    // Each variant's exports; its sessions are open only while it runs (several live sessions slow each other: docs/PERFORMANCE.md).
    const built = variants.map((v) => {
      const build = { ...(graph.weights ? { weights: graph.weights } : {}), regionOverrides: v.overrides };
      const model = v.trainingOnly ? undefined : buildInferenceGraph(graph.spec, build).graph;
      const t = buildTrainGraph(graph.spec, build);
      return {
        v,
        ...(model ? { model: serializeModel(model), regions: iteratorLimits(iteratorRecordsOf(model)) } : {}),
        train: serializeModel(t.graph),
        feeds: firstStepFeeds(t, batches[0]),
      };
    });
    type Built = (typeof built)[number];
    const withSessions = async (b: Built, use: (model: TwnnSession | undefined, train: TwnnSession) => Promise<void>) => {
      const model = b.model ? await openSession(b.model, { where: `${graph.name} (${b.v.id})` }) : undefined;
      try {
        const train = await openSession(b.train, { where: `${graph.name} train (${b.v.id})` });
        try {
          await use(model, train);
        } finally {
          await train.close();
        }
      } finally {
        await model?.close();
      }
    };
    // What each variant computes, once; then the timings, interleaved.
    const outputs = new Map<string, Record<string, Tensor>[]>();
    const steps = new Map<string, Record<string, Tensor>>();
    for (const b of built) {
      await withSessions(b, async (model, train) => {
        if (model) outputs.set(b.v.id, await runAll(model, batches));
        steps.set(b.v.id, await train.run(b.feeds));
      });
    }
    // Per variant, per batch: its times over the repeats (batches differ a lot: one slow sample makes a slow batch).
    const inferenceTimes = new Map<string, number[][]>(built.filter((b) => b.model).map((b) => [b.v.id, batches.map(() => [])]));
    const stepTimes = new Map<string, number[]>(built.map((b) => [b.v.id, []]));
    // Each repeat starts with the next variant, so none is always first (or last) after a pause.
    const rotated = <T>(items: readonly T[], r: number) => items.map((_, i) => items[(i + r) % items.length]);
    for (let r = 0; r < options.repeats; r++) {
      for (const b of rotated(built, r)) {
        await withSessions(b, async (model, train) => {
          if (model) {
            await model.run({ x: batches[0].x }); // a fresh session's first run is slower
            for (const [k, batch] of batches.entries()) {
              const start = performance.now();
              await model.run({ x: batch.x });
              inferenceTimes.get(b.v.id)![k].push(performance.now() - start);
            }
          }
          await train.run(b.feeds);
          const start = performance.now();
          await train.run(b.feeds);
          stepTimes.get(b.v.id)!.push(performance.now() - start);
        });
      }
      log(`  repeat ${r + 1}/${options.repeats}`);
    }
    const reference = outputs.get(variants[0].id)!;
    results.push({
      graph: graph.name,
      batch: options.batch,
      samples: n,
      repeats: options.repeats,
      spectral: await spectralAtFixedPoint(graph, n, options.batch, built.find((b) => b.regions)?.regions ?? []),
      variants: variants.map((v): VariantResult => {
        const step = steps.get(v.id)!;
        const out = outputs.get(v.id);
        return {
          variant: v.id,
          label: v.label,
          ...(out ? { inference: { ...sweepStats(out, built.find((b) => b.v.id === v.id)!.regions!), msPerBatch: mean(inferenceTimes.get(v.id)!.map(median)), ...agreement(out, reference) } } : {}),
          training: {
            sweepsMean: mean(step.iterations.toNumbers()),
            adjointMean: mean(step.iterations_backward.toNumbers()),
            msPerStep: median(stepTimes.get(v.id)!),
            loss: step.loss.get(0),
            ...(step.jacobian_penalty ? { penalty: step.jacobian_penalty.get(0) } : {}),
          },
        };
      }),
    });
  }
  return results;
}

/**
 * The results as markdown tables, one per graph, with ratios to the first variant.
 *
 * @example process.stdout.write(solverReport(results, 'twnn bench solvers'));
 */
export function solverReport(results: readonly SolverBenchResult[], command: string): string {
  const lines: string[] = [];
  for (const r of results) {
    const [ref] = r.variants;
    lines.push(`### ${r.graph}`, '');
    lines.push(
      `Inference: ${r.samples} test samples at batch ${r.batch}, time per batch the mean over the batches of each one's median over ${r.repeats} interleaved passes; ` +
        `training: one train.onnx step on the first ${r.batch}, the median of ${r.repeats} interleaved runs. Ratios are to the first row. A variant's sessions are open only while it runs.`,
      '',
    );
    if (r.spectral.length > 0) lines.push(...r.spectral.map((s) => `${spectralText(s)}, ${DEFAULT_POWER_STEPS} power steps.`), '');
    lines.push('| setting | sweeps/sample (mean, max) | unsettled | inference ms/batch | ratio | agrees with plain | step: sweeps | step: adjoint steps | step ms | ratio |');
    lines.push('|---|---|---|---|---|---|---|---|---|---|');
    for (const v of r.variants) {
      const inf = v.inference;
      const agree = inf ? (Number.isNaN(inf.argmaxAgree) ? `max rel. Δy ${inf.maxRelDiff.toExponential(1)}` : `${(inf.argmaxAgree * 100).toFixed(2)}% argmax, max rel. Δy ${inf.maxRelDiff.toExponential(1)}`) : '—';
      lines.push(
        `| ${v.label} | ${inf ? `${inf.sweepsMean.toFixed(2)}, ${inf.sweepsMax}` : '—'} | ${inf ? inf.unsettled : '—'} | ${inf ? inf.msPerBatch.toFixed(1) : '—'} | ` +
          `${inf && ref.inference ? (inf.msPerBatch / ref.inference.msPerBatch).toFixed(2) : '—'} | ${agree} | ${v.training.sweepsMean.toFixed(2)} | ` +
          `${v.training.adjointMean.toFixed(2)} | ${v.training.msPerStep.toFixed(1)} | ${(v.training.msPerStep / ref.training.msPerStep).toFixed(2)} |`,
      );
    }
    lines.push('');
  }
  lines.push(`Command: \`${command}\``, '');
  return lines.join('\n');
}

/** Each region's spectral radius at the fixed point on the first `samples` test rows, with the graph's weights (none without a region). */
async function spectralAtFixedPoint(graph: SolverBenchGraph, samples: number, batch: number, regions: readonly RegionLimits[]): Promise<SpectralSummary[]> {
  if (regions.length === 0) return [];
  const built = buildSpectralGraph(graph.spec, graph.weights ? { weights: graph.weights } : {});
  const session = await openSession(serializeModel(built.graph), { where: `${graph.name} (spectral)` });
  try {
    return await spectralSummary(session, { data: graph.data, samples, batch, weights: new Map(built.params.map((p) => [p.name, p.value])), regions: regions.map((r) => r.region) });
  } finally {
    await session.close();
  }
}

async function runAll(session: TwnnSession, batches: readonly { x: Tensor }[]): Promise<Record<string, Tensor>[]> {
  const out: Record<string, Tensor>[] = [];
  for (const b of batches) out.push(await session.run({ x: b.x }));
  return out;
}

/** Mean and max sweeps per sample, and the samples that ran out of sweeps unsettled in some region. */
function sweepStats(out: readonly Record<string, Tensor>[], regions: readonly RegionLimits[]): { rows: number; sweepsMean: number; sweepsMax: number; unsettled: number } {
  const sweeps = out.flatMap((o) => o.iterations.toNumbers());
  const unsettled = out.reduce((n, o) => n + new Set(unsettledSamples(o, regions).flatMap((u) => u.samples)).size, 0);
  return { rows: sweeps.length, sweepsMean: mean(sweeps), sweepsMax: sweeps.reduce((a, b) => Math.max(a, b), 0), unsettled };
}

/** How far a variant's `y` is from the reference's: argmax agreement (classifiers) and max |Δy| / max |y|. */
function agreement(out: readonly Record<string, Tensor>[], ref: readonly Record<string, Tensor>[]): { argmaxAgree: number; maxRelDiff: number } {
  let same = 0;
  let rows = 0;
  let diff = 0;
  let scale = 0;
  out.forEach((o, k) => {
    const a = o.y.toNumbers();
    const b = ref[k].y.toNumbers();
    const width = o.y.size / o.y.shape[0];
    for (let i = 0; i < a.length; i++) {
      diff = Math.max(diff, Math.abs(a[i] - b[i]));
      scale = Math.max(scale, Math.abs(b[i]));
    }
    for (let r = 0; r < o.y.shape[0]; r++) {
      const arg = (v: number[]) => v.slice(r * width, (r + 1) * width).reduce((best, x, i, all) => (x > all[best] ? i : best), 0);
      if (arg(a) === arg(b)) same++;
      rows++;
    }
  });
  const classifier = out[0].y.shape.length === 2 && out[0].y.shape[1] !== 1;
  return { argmaxAgree: classifier ? same / rows : NaN, maxRelDiff: diff / Math.max(scale, 1e-30) };
}
