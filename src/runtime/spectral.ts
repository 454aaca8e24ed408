// Running spectral.onnx (src/lower/spectral.ts) over samples of a data set
// with given weights: what `twnn eval` prints and `twnn train --spectral`
// writes into metrics.jsonl, per region.
import { TwnnError } from '../common/errors.js';
import { Tensor } from '../ir/tensor.js';
import { datasetSize, takeBatch, type Dataset } from '../data/batches.js';
import { DEFAULT_POWER_STEPS } from '../lower/spectral.js';
import type { TwnnSession } from './session.js';

/** One region's spectral radius estimates over the samples measured. */
export interface SpectralSummary {
  region: string;
  samples: number;
  /** Mean and maximum of the per-sample estimates (finite ones; NaN when there is none). */
  mean: number;
  max: number;
  /** Samples whose estimate is above 1: there plain iteration moves away from the point it stopped at. */
  above1: number;
  /** Samples whose estimate is NaN or infinite (a diverged state). */
  nonFinite: number;
}

/** What `spectralSummary` runs on. */
export interface SpectralRun {
  /** The first `samples` rows of it (all when it has fewer). */
  data: Dataset;
  samples: number;
  /** Rows per run. */
  batch: number;
  /** Each parameter and buffer by name (model.onnx's initializers, or a trainer's current tensors). */
  weights: ReadonlyMap<string, Tensor>;
  /** The regions, in model order: a single `spectral_radius` output is the only region's. */
  regions: readonly string[];
  /** Default DEFAULT_POWER_STEPS (src/lower/spectral.ts says how the error falls with them). */
  powerSteps?: number;
}

/**
 * Run a spectral.onnx session over the first `run.samples` rows of
 * `run.data`: per region, the mean and maximum estimate of ρ(∂F/∂S) at the
 * fixed point, and how many samples are above 1.
 *
 * @example const [r] = await spectralSummary(session, { data: test, samples: 1000, batch: 256, weights: readInitializers(model), regions: ['region1'] }); r.max
 */
export async function spectralSummary(session: TwnnSession, run: SpectralRun): Promise<SpectralSummary[]> {
  const powerSteps = run.powerSteps ?? DEFAULT_POWER_STEPS;
  const fixed: Record<string, Tensor> = { power_steps: Tensor.fromNumbers('int64', [], [powerSteps]) };
  for (const name of session.inputNames) {
    if (name === 'x' || name === 'power_steps') continue;
    const w = run.weights.get(name);
    if (!w) throw new TwnnError(`${session.where}: input '${name}' names no weight of the model (spectral.onnx from another export?)`);
    fixed[name] = w;
  }
  const outputs = outputNames(session, run.regions);
  const values = outputs.map(() => [] as number[]);
  const n = Math.min(run.samples, datasetSize(run.data));
  for (let start = 0; start < n; start += run.batch) {
    const rows = Array.from({ length: Math.min(run.batch, n - start) }, (_, k) => start + k);
    const out = await session.run({ ...fixed, x: takeBatch(run.data, rows).x });
    outputs.forEach(([, name], i) => values[i].push(...out[name].toNumbers()));
  }
  return outputs.map(([region], i) => summarise(region, values[i]));
}

/** [region, output name] pairs: `spectral_radius.<region>` where the graph has them, else the one output. */
function outputNames(session: TwnnSession, regions: readonly string[]): [string, string][] {
  const perRegion = regions.filter((r) => session.outputNames.includes(`spectral_radius.${r}`));
  if (perRegion.length > 0) return perRegion.map((r) => [r, `spectral_radius.${r}`]);
  if (!session.outputNames.includes('spectral_radius')) throw new TwnnError(`${session.where}: no output 'spectral_radius' (its outputs are ${session.outputNames.join(', ')})`);
  return [[regions.length === 1 ? regions[0] : 'all regions', 'spectral_radius']];
}

function summarise(region: string, values: readonly number[]): SpectralSummary {
  const finite = values.filter(Number.isFinite);
  return {
    region,
    samples: values.length,
    mean: finite.length > 0 ? finite.reduce((a, b) => a + b, 0) / finite.length : NaN,
    max: finite.length > 0 ? finite.reduce((a, b) => Math.max(a, b), -Infinity) : NaN,
    above1: finite.filter((v) => v > 1).length,
    nonFinite: values.length - finite.length,
  };
}

/**
 * One line for a region's summary, as eval prints it.
 *
 * @example spectralText(r) // "spectral radius of region1's dF/dS at the fixed point (1000 samples): mean 0.412, max 0.873"
 */
export function spectralText(s: SpectralSummary): string {
  const notes = [s.above1 > 0 ? `${s.above1} above 1` : '', s.nonFinite > 0 ? `${s.nonFinite} not finite` : ''].filter(Boolean);
  return `spectral radius of ${s.region}'s dF/dS at the fixed point (${s.samples} samples): mean ${s.mean.toFixed(3)}, max ${s.max.toFixed(3)}${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`;
}
