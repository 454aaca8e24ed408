// The page's charts: src/report's Vega-Lite specs (the same ones the task
// reports render to SVG), each reading a named data source that the page
// fills as it trains, row by row through Vega changesets, so a chart is
// embedded once and never redrawn from scratch.
import type { TopLevelSpec } from 'vega-lite';
import { histogramSpec, lineSpec } from '../report/chart-specs.js';
import type { WebTaskKind } from './tasks.js';

/** The names of the series the page writes rows for; the page script uses the same strings. */
export const SERIES = {
  loss: 'train loss',
  forward: 'forward',
  adjoint: 'adjoint',
  truth: 'true wave',
  generated: 'generated',
  accuracy: 'test accuracy',
} as const;

const SIZE = { width: 460, height: 280 };

/**
 * The charts of the page for `kind`, by element id; each spec's data is the
 * named source of the same id.
 *
 * @example const specs = pageCharts('sine', 256); // { loss, sweeps, histogram, wave }
 */
export function pageCharts(kind: WebTaskKind, testRows: number): Record<string, TopLevelSpec> {
  const charts: Record<string, TopLevelSpec> = {
    loss: lineSpec({ ...SIZE, title: 'Training loss (log scale)', xLabel: 'step', yLabel: 'loss', logY: true, series: [SERIES.loss] }, { name: 'loss' }),
    sweeps: lineSpec({ ...SIZE, title: 'Sweeps per training step (batch mean)', xLabel: 'step', yLabel: 'sweeps', series: [SERIES.forward, SERIES.adjoint] }, { name: 'sweeps' }),
    histogram: histogramSpec({ ...SIZE, title: `Sweeps per test sample (${testRows} test samples)`, xLabel: 'sweeps', yLabel: 'test samples', discrete: true }, { name: 'histogram' }),
  };
  if (kind === 'sine') {
    charts.wave = lineSpec(
      { ...SIZE, title: 'Wave generated from a test window', xLabel: 't (samples after the window; 50 per period)', yLabel: 'sin(2πt/50)', series: [SERIES.truth, SERIES.generated], dashed: [SERIES.truth] },
      { name: 'wave' },
    );
  } else {
    charts.accuracy = lineSpec({ ...SIZE, title: `Test accuracy (${testRows} test digits)`, xLabel: 'step', yLabel: 'accuracy %', series: [SERIES.accuracy] }, { name: 'accuracy' });
  }
  // A live chart's axes grow as rows arrive: `resize` lays it out again on each update, so labels are never cut.
  for (const spec of Object.values(charts)) Object.assign(spec, { autosize: { type: 'fit', contains: 'padding', resize: true } });
  return charts;
}
