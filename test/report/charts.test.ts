import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { TwnnError } from '../../src/common/errors.js';
import { histogram, lineChart, scatter, writeChart } from '../../src/report/charts.js';
import { svgToPng } from '../../src/report/png.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-charts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A decoded 8-bit RGB(A) PNG: every filter undone, so pixels can be looked at. */
interface Pixels {
  width: number;
  height: number;
  rgb(x: number, y: number): [number, number, number];
}

/** Decode a PNG by the spec (signature, IHDR, concatenated IDAT through zlib, per-row filters 0-4). */
function decodePng(png: Uint8Array): Pixels {
  expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Uint8Array[] = [];
  for (let at = 8; at < png.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    const body = png.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      expect(body[8], 'bit depth').toBe(8);
      channels = { 2: 3, 6: 4 }[body[9]] ?? 0;
      expect(channels, `colour type ${body[9]}`).toBeGreaterThan(0);
      expect(body[12], 'interlace').toBe(0);
    }
    if (type === 'IDAT') idat.push(body);
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  expect(raw.length).toBe(height * (stride + 1));
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    if (filter > 4) throw new Error(`row ${y}: PNG filter type ${filter} does not exist`);
    for (let i = 0; i < stride; i++) {
      const v = raw[y * (stride + 1) + 1 + i];
      const a = i >= channels ? out[y * stride + i - channels] : 0;
      const b = y > 0 ? out[(y - 1) * stride + i] : 0;
      const c = y > 0 && i >= channels ? out[(y - 1) * stride + i - channels] : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      out[y * stride + i] = (v + [0, a, b, (a + b) >> 1, paeth][filter]) & 0xff;
    }
  }
  return { width, height, rgb: (x, y) => [out[y * stride + x * channels], out[y * stride + x * channels + 1], out[y * stride + x * channels + 2]] };
}

/** Pixels in rows [y0, y1) for which `test` holds. */
function countPixels(p: Pixels, y0: number, y1: number, test: (r: number, g: number, b: number) => boolean): number {
  let n = 0;
  for (let y = y0; y < y1; y++) for (let x = 0; x < p.width; x++) if (test(...p.rgb(x, y))) n++;
  return n;
}

const dark = (r: number, g: number, b: number) => r + g + b < 150;
const notWhite = (r: number, g: number, b: number) => r < 250 || g < 250 || b < 250;
/** Vega's first category colour (#4c78a8, blue) and second (#f58518, orange), give or take anti-aliasing. */
const blue = (r: number, g: number, b: number) => Math.abs(r - 0x4c) < 20 && Math.abs(g - 0x78) < 20 && Math.abs(b - 0xa8) < 20;
const orange = (r: number, g: number, b: number) => Math.abs(r - 0xf5) < 20 && Math.abs(g - 0x85) < 20 && Math.abs(b - 0x18) < 20;

const t = Array.from({ length: 200 }, (_, i) => i);
const waves = [
  { name: 'true wave', x: t, y: t.map((i) => Math.sin(i / 8)) },
  { name: 'generated', x: t, y: t.map((i) => 0.9 * Math.cos(i / 8)) },
];

/** The `name: value` pairs Vega writes into each mark's aria-label, for marks that have `key` (d3's U+2212 minus made ASCII). */
function markLabels(svg: string, key: string): Record<string, string>[] {
  return [...svg.matchAll(/aria-label="([^"]*)"/g)]
    .map((m) => Object.fromEntries(m[1].replaceAll('\u2212', '-').split('; ').map((kv) => kv.split(': ') as [string, string])))
    .filter((o) => key in o);
}

describe('lineChart', () => {
  it('names the title, the axes and every series in its SVG, and is byte-identical for the same data', async () => {
    const options = { title: 'Sine check', xLabel: 'step t', yLabel: 'value', series: waves, width: 640, height: 320 };
    const svg = await lineChart(options);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('width="640" height="320"');
    for (const text of ['>Sine check</text>', '>step t</text>', '>value</text>', '>true wave</text>', '>generated</text>']) expect(svg).toContain(text);
    expect(await lineChart(options)).toBe(svg);
    // Different data, different picture: the determinism is not a constant.
    expect(await lineChart({ ...options, series: [waves[0]] })).not.toBe(svg);
  });

  it('renders to a PNG of the requested size with text in the title band and both series colours in the plot', async () => {
    const png = decodePng(svgToPng(await lineChart({ title: 'Sine check', xLabel: 't', yLabel: 'y', series: waves, width: 640, height: 320 })));
    expect([png.width, png.height]).toEqual([640, 320]);
    // Title text is drawn only if the bundled font loaded (resvg skips text it has no font for).
    expect(countPixels(png, 0, 24, dark)).toBeGreaterThan(50);
    expect(countPixels(png, 40, 300, blue)).toBeGreaterThan(300);
    expect(countPixels(png, 40, 300, orange)).toBeGreaterThan(300);
    expect(countPixels(png, 0, 320, notWhite)).toBeLessThan(640 * 320 * 0.5);
  });

  it('svgToPng scales to a requested width, keeping the aspect ratio', async () => {
    const png = decodePng(svgToPng(await lineChart({ title: 'Wide', xLabel: 't', yLabel: 'y', series: waves, width: 400, height: 200 }), { width: 1000 }));
    expect([png.width, png.height]).toEqual([1000, 500]);
  });

  it('a logarithmic y axis takes positive values only', async () => {
    const svg = await lineChart({ title: 'Loss', xLabel: 'step', yLabel: 'loss', logY: true, series: [{ name: 'train', x: [1, 2, 3], y: [1, 0.1, 0.01] }] });
    expect(svg).toMatch(/Y-axis titled 'loss' for a log scale/);
    await expect(lineChart({ title: 'Loss', xLabel: 's', yLabel: 'l', logY: true, series: [{ name: 'train', x: [1, 2], y: [1, 0] }] })).rejects.toThrow(
      "lineChart 'Loss', series 'train': y[1] = 0, but a logarithmic y axis needs positive values",
    );
  });

  it('a logarithmic x axis takes positive values only', async () => {
    const svg = await lineChart({ title: 'Budget', xLabel: 'maxIter', yLabel: 'accuracy', logX: true, series: [{ name: 'acc', x: [2, 10, 300], y: [98.9, 99.2, 99.2] }] });
    expect(svg).toMatch(/X-axis titled 'maxIter' for a log scale/);
    await expect(lineChart({ title: 'Budget', xLabel: 'm', yLabel: 'a', logX: true, series: [{ name: 'acc', x: [0, 2], y: [1, 2] }] })).rejects.toThrow(
      "lineChart 'Budget', series 'acc': x[0] = 0, but a logarithmic x axis needs positive values",
    );
  });

  it('dashed: the named series is drawn dashed, in the plot and in its legend swatch; a name that is not a series is an error', async () => {
    const options = { title: 'Waves', xLabel: 't', yLabel: 'y', series: waves };
    const plain = await lineChart(options);
    expect(plain).not.toContain('stroke-dasharray="6,4"');
    const dashed = await lineChart({ ...options, dashed: ['true wave'] });
    // One dashed line in the plot, one dashed swatch in the legend; the generated wave stays solid.
    expect(dashed.match(/stroke-dasharray="6,4"/g)).toHaveLength(2);
    await expect(lineChart({ ...options, dashed: ['truth'] })).rejects.toThrow(new TwnnError("lineChart 'Waves': dashed names 'truth', which is not a series (the series are 'true wave', 'generated')"));
  });

  it('rejects bad data with an error naming the chart and the series', async () => {
    const bad = (series: { name: string; x: number[]; y: number[] }[], title = 'Bad') => lineChart({ title, xLabel: 'x', yLabel: 'y', series });
    await expect(bad([{ name: 'a', x: [1, 2], y: [1] }])).rejects.toThrow(new TwnnError("lineChart 'Bad', series 'a': x has 2 values but y has 1"));
    await expect(bad([{ name: 'a', x: [1, 2], y: [1, NaN] }])).rejects.toThrow("lineChart 'Bad', series 'a': y[1] is NaN; chart data must be finite numbers");
    await expect(bad([])).rejects.toThrow("lineChart 'Bad': needs at least one series");
    await expect(bad([{ name: 'a', x: [], y: [] }])).rejects.toThrow("series 'a': has no points");
    await expect(bad([waves[0], waves[0]])).rejects.toThrow("two series are named 'true wave'");
    await expect(bad([waves[0]], '')).rejects.toThrow('lineChart: needs a non-empty title');
    await expect(lineChart({ title: 'Small', xLabel: 'x', yLabel: 'y', series: [waves[0]], width: 50 })).rejects.toThrow("chart 'Small': width must be an integer of at least 100 pixels, got 50");
  });
});

describe('histogram', () => {
  it('discrete: one bar per integer value with its count', async () => {
    const svg = await histogram({ title: 'Sweeps', xLabel: 'sweeps', values: [2, 2, 2, 3, 3, 7, 2], discrete: true });
    expect(svg).toContain('>Sweeps</text>');
    expect(svg).toContain('>count</text>');
    expect(markLabels(svg, 'count').map((m) => [m.sweeps, m.count])).toEqual([
      ['2', '4'],
      ['3', '2'],
      ['7', '1'],
    ]);
  });

  it('continuous: bins of binWidth on its multiples, empty bins kept, every value counted once', async () => {
    const values = [0.05, 0.15, 0.17, 0.42, 0.49, 0.5];
    const svg = await histogram({ title: 'Errors', xLabel: 'error', yLabel: 'windows', values, binWidth: 0.1 });
    expect(svg).toContain('>windows</text>');
    const bars = markLabels(svg, 'windows');
    expect(bars.map((b) => Number(b.windows))).toEqual([1, 2, 0, 0, 2, 1]);
    expect(Number(bars[0].end)).toBeCloseTo(0.1, 12);
  });

  it('without binWidth picks 10 to 20 bins of a 1-2-5 width and counts every value', async () => {
    const values = Array.from({ length: 1000 }, (_, i) => Math.sin(i * 12.9898) * 3);
    const bars = markLabels(await histogram({ title: 'Spread', xLabel: 'v', values: Float64Array.from(values) }), 'count');
    // Range 6 / 20 = 0.3, rounded up to 0.5: 12 bins from -3 to 3.
    expect(bars).toHaveLength(12);
    expect(Number(bars[0].end)).toBe(-2.5);
    expect(bars.reduce((s, b) => s + Number(b.count), 0)).toBe(1000);
  });

  it('renders to a PNG with filled bars', async () => {
    const png = decodePng(svgToPng(await histogram({ title: 'Sweeps', xLabel: 'sweeps', values: [2, 2, 3], discrete: true, width: 300, height: 200 })));
    expect([png.width, png.height]).toEqual([300, 200]);
    expect(countPixels(png, 30, 170, blue)).toBeGreaterThan(2000);
  });

  it('rejects bad values', async () => {
    await expect(histogram({ title: 'H', xLabel: 'x', values: [] })).rejects.toThrow("histogram 'H': has no values to count");
    await expect(histogram({ title: 'H', xLabel: 'x', values: [1, Infinity] })).rejects.toThrow("histogram 'H': values[1] is Infinity");
    await expect(histogram({ title: 'H', xLabel: 'x', values: [1, 2.5], discrete: true })).rejects.toThrow('discrete values must be integers, values[1] is 2.5');
    await expect(histogram({ title: 'H', xLabel: 'x', values: [1], binWidth: 0 })).rejects.toThrow('binWidth must be a positive number, got 0');
    await expect(histogram({ title: 'H', xLabel: 'x', values: [0, 1], binWidth: 1e-6 })).rejects.toThrow('into 1000001 bins (at most 10000)');
  });
});

describe('scatter', () => {
  it('draws every point and names each group in the legend', async () => {
    const points = Array.from({ length: 30 }, (_, i) => ({ x: Math.cos(i), y: Math.sin(i), group: i % 2 === 0 ? 'even' : 'odd' }));
    const svg = await scatter({ title: 'Points', xLabel: 'cos', yLabel: 'sin', points });
    expect(svg).toContain('>Points</text>');
    expect(svg).toContain('>even</text>');
    expect(svg).toContain('>odd</text>');
    expect(markLabels(svg, 'group')).toHaveLength(30);
  });

  it('ungrouped points have no legend; a point with a missing group among grouped ones is an error', async () => {
    const svg = await scatter({ title: 'Plain', xLabel: 'a', yLabel: 'b', points: [{ x: 0, y: 0 }, { x: 1, y: 2 }] });
    expect(svg).not.toContain('role-legend');
    await expect(scatter({ title: 'Mixed', xLabel: 'a', yLabel: 'b', points: [{ x: 0, y: 0, group: 'g' }, { x: 1, y: 1 }] })).rejects.toThrow(
      "scatter 'Mixed': point #1 has no group, but others do",
    );
    await expect(scatter({ title: 'NaN', xLabel: 'a', yLabel: 'b', points: [{ x: NaN, y: 0 }] })).rejects.toThrow("scatter 'NaN': point #0 is (NaN, 0)");
  });
});

describe('writeChart', () => {
  it('writes <path>.svg and <path>.png, leaving no temp files, and returns their paths', async () => {
    const svg = await lineChart({ title: 'Files', xLabel: 't', yLabel: 'y', series: waves });
    const files = await writeChart(join(dir, 'sub', 'wave'), svg);
    expect(files).toEqual({ svg: join(dir, 'sub', 'wave.svg'), png: join(dir, 'sub', 'wave.png') });
    expect(readFileSync(files.svg, 'utf8')).toBe(svg);
    const png = decodePng(new Uint8Array(readFileSync(files.png)));
    expect([png.width, png.height]).toEqual([800, 400]);
    expect(readdirSync(join(dir, 'sub')).sort()).toEqual(['wave.png', 'wave.svg']);
  });

  it('svgToPng rejects text that is not SVG', () => {
    expect(() => svgToPng('not an svg')).toThrow(/^svgToPng: not a valid SVG document/);
    expect(existsSync(join(dir, 'none.png'))).toBe(false);
  });
});
