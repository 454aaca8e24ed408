// The Vega-Lite specs of twnn's charts, as plain data: the report renders them
// to SVG in Node (charts.ts) and `twnn web`'s page embeds the same specs with
// vega-embed, streaming rows into their named data as it trains. One spec per
// kind of chart, so a loss curve or a sweeps histogram looks the same in a
// report and in the browser. Nothing here checks data: the callers that hold
// data (charts.ts) check it; the page only appends rows the model computed.
import type { TopLevelSpec } from 'vega-lite';
import { TwnnError } from '../common/errors.js';

/** The family every chart's text is set in (png.ts ships it as a font file). */
export const CHART_FONT_FAMILY = 'DejaVu Sans';

/** Picture size in pixels (the whole SVG, title and legend included). */
export interface ChartSize {
  /** Default 800. */
  width?: number;
  /** Default 400. */
  height?: number;
}

/** Where a chart's rows come from: given inline, or a named source a live view fills (`view.change(name, ...)`). */
export type ChartData = { values: readonly object[] } | { name: string };

/** A line chart's frame: rows are `{ series, x, y }`. */
export interface LineSpecOptions extends ChartSize {
  title: string;
  xLabel: string;
  yLabel: string;
  /** The series' names, in legend and colour order. */
  series: readonly string[];
  /** A logarithmic y axis (loss curves). */
  logY?: boolean;
  /** A logarithmic x axis (budgets from 2 to 300). */
  logX?: boolean;
  /** Series drawn dashed (a reference such as the true wave), so a line drawn over it leaves it visible. */
  dashed?: readonly string[];
}

/** A histogram's frame: rows are `{ start, end, count }`, one a bar. */
export interface HistogramSpecOptions extends ChartSize {
  title: string;
  xLabel: string;
  /** Default `count`. */
  yLabel?: string;
  /** Integer-valued data (iteration counts): integer ticks on x. */
  discrete?: boolean;
  /** The x domain; without it, the bars' own extent (a live chart whose data changes). */
  domain?: readonly [number, number];
}

const DEFAULT_WIDTH = 800;
const DEFAULT_HEIGHT = 400;

/**
 * The spec of a line chart, one colour per series in the order given.
 *
 * @example
 * const spec = lineSpec({ title: 'Loss', xLabel: 'step', yLabel: 'loss', logY: true, series: ['train'] }, { name: 'loss' });
 */
export function lineSpec(options: LineSpecOptions, data: ChartData): TopLevelSpec {
  const names = [...options.series];
  const dashed = options.dashed ?? [];
  const mark = { type: 'line', strokeWidth: 1.5, clip: true } as const;
  const encoding = {
    x: { field: 'x', type: 'quantitative', title: options.xLabel, scale: options.logX ? { type: 'log', nice: false } : { zero: false, nice: false } },
    y: { field: 'y', type: 'quantitative', title: options.yLabel, scale: options.logY ? { type: 'log' } : { zero: false } },
    color: { field: 'series', type: 'nominal', title: null, scale: { domain: names }, sort: names, legend: { orient: 'top', direction: 'horizontal' } },
    // Same field and title as colour: Vega-Lite merges the two into one legend whose swatches are dashed too.
    ...(dashed.length > 0 ? { strokeDash: { field: 'series', type: 'nominal', title: null, scale: { domain: names, range: names.map((n) => (dashed.includes(n) ? [6, 4] : [1, 0])) }, sort: names } } : {}),
  };
  if (dashed.length === 0) return { ...frame(options), data: data as TopLevelSpec['data'], mark, encoding } as TopLevelSpec;
  // Two layers, the dashed references last: drawn on top, they leave the line they match visible through their gaps.
  const only = (keep: boolean) => ({ filter: { field: 'series', oneOf: names.filter((n) => dashed.includes(n) === keep) } });
  return {
    ...frame(options),
    data: data as TopLevelSpec['data'],
    encoding,
    layer: [{ transform: [only(false)], mark }, { transform: [only(true)], mark }],
  } as TopLevelSpec;
}

/**
 * The spec of a histogram whose rows are bars `{ start, end, count }`.
 *
 * @example
 * const spec = histogramSpec({ title: 'Sweeps per sample', xLabel: 'sweeps', discrete: true }, { values: [{ start: 1.5, end: 2.5, count: 7 }] });
 */
export function histogramSpec(options: HistogramSpecOptions, data: ChartData): TopLevelSpec {
  return {
    ...frame(options),
    data: data as TopLevelSpec['data'],
    mark: { type: 'bar', stroke: 'white', strokeWidth: 0.5 },
    encoding: {
      x: {
        field: 'start',
        type: 'quantitative',
        title: options.xLabel,
        // Without a domain, a few pixels of room either side so two or three bars do not fill the plot.
        scale: options.domain ? { domain: [...options.domain], nice: false } : { nice: false, zero: false, padding: 40 },
        ...(options.discrete ? { axis: { tickMinStep: 1, format: 'd' } } : {}),
      },
      x2: { field: 'end' },
      // A bar with an x range draws from y2 to y: anchor it at zero explicitly.
      y: { field: 'count', type: 'quantitative', title: options.yLabel ?? 'count', scale: { zero: true }, axis: { tickMinStep: 1, format: 'd' } },
      y2: { datum: 0 },
    },
  } as TopLevelSpec;
}

/**
 * The parts every chart shares: size, title, font, white background.
 *
 * @example const spec = { ...frame({ title: 'Embedding', width: 400 }), mark: 'point' };
 */
export function frame(options: ChartSize & { title: string }) {
  const width = options.width ?? DEFAULT_WIDTH;
  const height = options.height ?? DEFAULT_HEIGHT;
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v < 100) throw new TwnnError(`${chartName('chart', options.title)}: ${name} must be an integer of at least 100 pixels, got ${v}`);
  }
  return {
    title: { text: options.title, fontSize: 15 },
    width,
    height,
    // `fit` with `padding`: the whole picture, axes and legend included, is width x height.
    autosize: { type: 'fit' as const, contains: 'padding' as const },
    background: 'white',
    config: { font: CHART_FONT_FAMILY, axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 12 } },
  };
}

/**
 * A chart's name for error messages: its kind and title.
 *
 * @example chartName('lineChart', 'Loss') // "lineChart 'Loss'"
 */
export function chartName(kind: string, title: unknown): string {
  if (typeof title !== 'string' || title === '') throw new TwnnError(`${kind}: needs a non-empty title`);
  return `${kind} '${title}'`;
}
