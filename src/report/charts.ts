// Charts for task reports: Vega-Lite specs compiled to Vega and rendered to
// SVG headless in Node (`View.toSVG()` needs no canvas), then written as
// SVG + PNG. The same data always gives the same bytes: no timestamps, SVG
// definition ids restarted per chart, rows in the caller's order.
import { parse, resetSVGDefIds, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { TwnnError } from '../common/errors.js';
import { writeFileAtomic } from '../common/files.js';
import { chartName, frame, histogramSpec, lineSpec, type ChartSize } from './chart-specs.js';
import { svgToPng } from './png.js';

export type { ChartSize } from './chart-specs.js';

export interface LineSeries {
  name: string;
  x: readonly number[];
  y: readonly number[];
}

export interface LineChartOptions extends ChartSize {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly LineSeries[];
  /** A logarithmic y axis (loss curves); every y must then be positive. */
  logY?: boolean;
  /** A logarithmic x axis (budgets from 2 to 300); every x must then be positive. */
  logX?: boolean;
  /** Names of series drawn dashed (a reference line that another may cover). */
  dashed?: readonly string[];
}

export interface HistogramOptions extends ChartSize {
  title: string;
  xLabel: string;
  /** Default `count`. */
  yLabel?: string;
  values: ArrayLike<number>;
  /** Width of each bin (default: a 1-2-5 width giving 10 to 20 bins over the range; 1 when `discrete`). */
  binWidth?: number;
  /** Integer-valued data (iteration counts): one bar per integer, centred on it. */
  discrete?: boolean;
}

export interface ScatterPoint {
  x: number;
  y: number;
  /** Points of one group share a colour and a legend entry. */
  group?: string;
}

export interface ScatterOptions extends ChartSize {
  title: string;
  xLabel: string;
  yLabel: string;
  points: readonly ScatterPoint[];
}

/** Most bins a histogram gets when no binWidth is given (the 1-2-5 rounding gives at least half as many). */
const TARGET_BINS = 20;
/** More bins than pixels is a mistake in binWidth, not a chart. */
const MAX_BINS = 10000;
/** Vega's log level `Error`: its warnings would be noise on a CLI's stdout. */
const VEGA_LOG_ERROR = 1;

/**
 * A line chart of one or more series, each its own colour, in the order given.
 *
 * @example
 * const svg = await lineChart({
 *   title: 'Training loss', xLabel: 'step', yLabel: 'loss', logY: true,
 *   series: [{ name: 'train', x: [1, 2, 3], y: [0.9, 0.5, 0.3] }],
 * });
 */
export async function lineChart(options: LineChartOptions): Promise<string> {
  const where = chartName('lineChart', options.title);
  if (!Array.isArray(options.series) || options.series.length === 0) throw new TwnnError(`${where}: needs at least one series`);
  const series: readonly LineSeries[] = options.series;
  const names = series.map((s, i) => {
    if (typeof s?.name !== 'string' || s.name === '') throw new TwnnError(`${where}: series #${i + 1} needs a non-empty name`);
    return s.name;
  });
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) throw new TwnnError(`${where}: two series are named '${duplicate}'`);
  const stray = (options.dashed ?? []).find((n) => !names.includes(n));
  if (stray !== undefined) throw new TwnnError(`${where}: dashed names '${stray}', which is not a series (the series are ${names.map((n) => `'${n}'`).join(', ')})`);
  const rows: { series: string; x: number; y: number }[] = [];
  for (const s of series) {
    const at = `${where}, series '${s.name}'`;
    if (s.x.length !== s.y.length) throw new TwnnError(`${at}: x has ${s.x.length} values but y has ${s.y.length}`);
    if (s.x.length === 0) throw new TwnnError(`${at}: has no points`);
    checkFinite(at, 'x', s.x);
    checkFinite(at, 'y', s.y);
    for (const axis of ['x', 'y'] as const) {
      if (!(axis === 'x' ? options.logX : options.logY)) continue;
      const k = s[axis].findIndex((v) => v <= 0);
      if (k >= 0) throw new TwnnError(`${at}: ${axis}[${k}] = ${s[axis][k]}, but a logarithmic ${axis} axis needs positive values`);
    }
    for (let i = 0; i < s.x.length; i++) rows.push({ series: s.name, x: s.x[i], y: s.y[i] });
  }
  return render(where, lineSpec({ ...options, series: names }, { values: rows }));
}

/**
 * A histogram: counts of `values` per bin. `discrete` puts one bar on each
 * integer (sweeps per sample); otherwise bins of `binWidth` aligned to its
 * multiples.
 *
 * @example
 * const svg = await histogram({ title: 'Sweeps per sample', xLabel: 'sweeps', values: [2, 2, 3, 5], discrete: true });
 */
export async function histogram(options: HistogramOptions): Promise<string> {
  const where = chartName('histogram', options.title);
  if (typeof options.values?.length !== 'number') throw new TwnnError(`${where}: values must be an array of numbers`);
  const values = Array.from(options.values);
  if (values.length === 0) throw new TwnnError(`${where}: has no values to count`);
  checkFinite(where, 'values', values);
  if (options.binWidth !== undefined && !(Number.isFinite(options.binWidth) && options.binWidth > 0)) {
    throw new TwnnError(`${where}: binWidth must be a positive number, got ${options.binWidth}`);
  }
  if (options.discrete) {
    const k = values.findIndex((v) => !Number.isInteger(v));
    if (k >= 0) throw new TwnnError(`${where}: discrete values must be integers, values[${k}] is ${values[k]}`);
  }
  const bins = options.discrete ? integerBins(values, options.binWidth ?? 1) : rangeBins(where, values, options.binWidth);
  // Integer bars get a bar's width of room on either side, so two or three of them do not fill the plot.
  const margin = options.discrete ? bins[0].end - bins[0].start : 0;
  return render(where, histogramSpec({ ...options, domain: [bins[0].start - margin, bins[bins.length - 1].end + margin] }, { values: bins }));
}

/**
 * A scatter plot; points with a `group` are coloured by it.
 *
 * @example
 * const svg = await scatter({ title: 'Embedding', xLabel: 'pc1', yLabel: 'pc2', points: [{ x: 0, y: 1, group: '7' }] });
 */
export async function scatter(options: ScatterOptions): Promise<string> {
  const where = chartName('scatter', options.title);
  if (!Array.isArray(options.points) || options.points.length === 0) throw new TwnnError(`${where}: needs at least one point`);
  const points: readonly ScatterPoint[] = options.points;
  const grouped = points.some((p) => p.group !== undefined);
  points.forEach((p, i) => {
    if (!Number.isFinite(p?.x) || !Number.isFinite(p?.y)) throw new TwnnError(`${where}: point #${i} is (${p?.x}, ${p?.y}); x and y must be finite numbers`);
    if (grouped && typeof p.group !== 'string') throw new TwnnError(`${where}: point #${i} has no group, but others do; give every point a group or none`);
  });
  const groups = grouped ? [...new Set(points.map((p) => p.group as string))] : [];
  return render(where, {
    ...frame(options),
    data: { values: points.map((p) => ({ x: p.x, y: p.y, group: p.group ?? '' })) },
    mark: { type: 'point', filled: true, size: 16, opacity: 0.7 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: options.xLabel, scale: { zero: false } },
      y: { field: 'y', type: 'quantitative', title: options.yLabel, scale: { zero: false } },
      ...(grouped ? { color: { field: 'group', type: 'nominal', title: null, scale: { domain: groups }, sort: groups } } : {}),
    },
  });
}

/**
 * Write a chart as `<path>.svg` and `<path>.png` (each atomically: temp file
 * + rename) and return both paths.
 *
 * @example
 * const files = await writeChart('exported/sine/sine', svg); // { svg: 'exported/sine/sine.svg', png: 'exported/sine/sine.png' }
 */
export async function writeChart(pathWithoutExtension: string, svg: string): Promise<{ svg: string; png: string }> {
  const files = { svg: `${pathWithoutExtension}.svg`, png: `${pathWithoutExtension}.png` };
  const png = svgToPng(svg);
  await writeFileAtomic(files.svg, svg);
  await writeFileAtomic(files.png, png);
  return files;
}

async function render(where: string, spec: TopLevelSpec): Promise<string> {
  let view: View;
  try {
    view = new View(parse(compile(spec).spec), { renderer: 'none', logLevel: VEGA_LOG_ERROR });
  } catch (err) {
    throw new TwnnError(`${where}: Vega could not build the chart (${(err as Error).message})`);
  }
  try {
    // Clip-path and gradient ids come from a process-wide counter: restart it so the same chart gets the same ids.
    resetSVGDefIds();
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function checkFinite(where: string, name: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    if (typeof values[i] !== 'number' || !Number.isFinite(values[i])) throw new TwnnError(`${where}: ${name}[${i}] is ${values[i]}; chart data must be finite numbers`);
  }
}

/** One bar per integer value (or per `width` integers), centred on it. */
function integerBins(values: readonly number[], width: number): { start: number; end: number; count: number }[] {
  const counts = new Map<number, number>();
  for (const v of values) {
    const k = Math.floor(v / width) * width;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts.keys()].sort((a, b) => a - b).map((k) => ({ start: k - 0.5, end: k + width - 0.5, count: counts.get(k)! }));
}

/** Bins of `width` (default: a 1-2-5 step giving 10 to 20 bins) on its multiples, empty bins included. */
function rangeBins(where: string, values: readonly number[], width?: number): { start: number; end: number; count: number }[] {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const w = width ?? niceStep((max - min) / TARGET_BINS || Math.abs(min) / TARGET_BINS || 1);
  const first = Math.floor(min / w);
  const n = Math.floor(max / w) - first + 1;
  if (n > MAX_BINS) throw new TwnnError(`${where}: binWidth ${w} cuts the range [${min}, ${max}] into ${n} bins (at most ${MAX_BINS})`);
  const counts = new Array<number>(n).fill(0);
  for (const v of values) counts[Math.min(n - 1, Math.max(0, Math.floor(v / w) - first))] += 1;
  return counts.map((count, i) => ({ start: (first + i) * w, end: (first + i + 1) * w, count }));
}

/** The 1, 2 or 5 times a power of ten nearest above `raw`. */
function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw));
  const m = raw / power;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * power;
}
