// The report's figures, drawn with src/report/charts.ts and written as SVG + PNG.
import { join } from 'node:path';
import { histogram, lineChart, scatter, writeChart, type ScatterPoint } from '../../src/report/charts.js';
import type { PaperReport, RunReport } from './paper-types.js';
import { movingAverage } from './training-summary.js';

/** A written figure: `key` names it for the report, `path` is without extension. */
export interface Figure {
  key: string;
  title: string;
  path: string;
}

/** Steps averaged in the drawn loss curves (the per-step loss of one mini-batch is noisy). */
export const LOSS_WINDOW = 50;
/** Sweep counts with fewer samples than this are left out of the per-count rates (too few to estimate a rate). */
export const MIN_BUCKET = 10;
/** Correctly classified samples drawn in the confidence scatter, at most (every k-th; all misclassified ones are drawn). */
export const SCATTER_CORRECT = 2000;

/**
 * Draw every figure the report refers to into `dir`: a loss chart per family,
 * and per TWNN its sweep histogram, sweeps against confidence, and error rate
 * and confidence by sweep count.
 *
 * @example const figures = await drawFigures(report, 'docs/figures');
 */
export async function drawFigures(report: PaperReport, dir: string): Promise<Figure[]> {
  const figures: Figure[] = [];
  const write = async (key: string, title: string, svg: Promise<string>) => {
    const path = join(dir, key);
    await writeChart(path, await svg);
    figures.push({ key, title, path });
  };
  const families = [...new Set(report.runs.map((r) => r.run.family))];
  for (const family of families) {
    const trained = report.runs.filter((r) => r.run.family === family && r.training && r.training.loss.x.length > 0);
    if (trained.length === 0) continue;
    const title = `${family}: training loss (moving average of ${LOSS_WINDOW} steps)`;
    await write(`loss-${slug(family)}`, title, lineChart({
      title,
      xLabel: 'epoch',
      yLabel: 'cross-entropy',
      logY: true,
      series: trained.map((r) => ({ name: r.run.label, x: r.training!.loss.x, y: movingAverage(r.training!.loss.y, LOSS_WINDOW) })),
    }));
  }
  for (const r of report.runs) {
    if (!r.depth || !r.perSample) continue;
    await depthFigures(r, write);
  }
  return figures;
}

async function depthFigures(r: RunReport, write: (key: string, title: string, svg: Promise<string>) => Promise<void>): Promise<void> {
  const { id, label } = r.run;
  const ps = r.perSample!;
  const sweepsTitle = `${label}: forward sweeps per test sample`;
  await write(`sweeps-${id}`, sweepsTitle, histogram({ title: sweepsTitle, xLabel: 'sweeps (summed over regions)', yLabel: 'test samples', values: ps.sweeps, discrete: true }));

  const correctCount = ps.correct.reduce((a, b) => a + b, 0);
  const every = Math.max(1, Math.ceil(correctCount / SCATTER_CORRECT));
  const points: ScatterPoint[] = [];
  let seen = 0;
  for (let i = 0; i < ps.samples; i++) {
    if (ps.correct[i] === 0) points.push({ x: ps.sweeps[i], y: ps.confidence[i], group: 'misclassified' });
    else if (seen++ % every === 0) points.push({ x: ps.sweeps[i], y: ps.confidence[i], group: 'correct' });
  }
  const scatterTitle = `${label}: sweeps against confidence (all misclassified samples${every > 1 ? `, every ${every}th correct one` : ', all correct ones'})`;
  await write(`confidence-${id}`, scatterTitle, scatter({ title: scatterTitle, xLabel: 'sweeps (summed over regions)', yLabel: 'largest softmax probability', points }));

  const buckets = r.depth!.buckets.filter((b) => b.samples >= MIN_BUCKET);
  if (buckets.length > 0) {
    const byTitle = `${label}: error rate and confidence by sweep count (counts with >= ${MIN_BUCKET} samples)`;
    const x = buckets.map((b) => b.sweeps);
    await write(`by-sweeps-${id}`, byTitle, lineChart({
      title: byTitle,
      xLabel: 'sweeps (summed over regions)',
      yLabel: 'percent',
      series: [
        { name: 'error %', x, y: buckets.map((b) => 100 * b.errorRate) },
        { name: 'confidence %', x, y: buckets.map((b) => 100 * b.confidence) },
      ],
    }));
  }
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'family';
}
