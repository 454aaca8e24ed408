// Training in the browser (issues 12 and 26): `twnn web` serves a page that
// runs an exported TWNN's train.onnx in onnxruntime-web, in a real headless
// Chromium (Debian's, driven by playwright-core). The page trains the sine and
// the MNIST MLP TWNN; its losses must match onnxruntime-node's on the same
// feeds. Its controls work (pause stops the steps, reset restores the initial
// loss, the URL and the inputs set the options), the maxIter slider runs
// inference at that budget, and the charts vega-embed drew have axes with
// tick labels. Runs are a few dozen steps: enough to compare, not to converge.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sine from '../../graphs/sine.js';
import mnistMlp from '../../graphs/mnist-mlp.js';
import { exportModel } from '../../src/lower/artifacts.js';
import { MODEL_FILE, TRAIN_FILE } from '../../src/contract/files.js';
import { Tensor } from '../../src/ir/tensor.js';
import { openSession } from '../../src/runtime/session.js';
import { loadWebTask, stepBatch } from '../../src/web/plan.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';

const CHROMIUM = '/usr/bin/chromium';
const dir = mkdtempSync(join(tmpdir(), 'twnn-web-'));
const sineDir = join(dir, 'sine');
const mnistDir = join(dir, 'mnist-mlp');
let sineWeb: WebServer;
let mnistWeb: WebServer;
let browser: Browser;

/** What the page exposes as `window.twnnProgress`. */
interface Progress {
  kind: string;
  ready: boolean;
  step: number;
  running: boolean;
  done: boolean;
  error: string | null;
  losses: number[];
  forward: number[];
  adjoint: (number | null)[];
  generated: number[];
  testSweeps: number[];
  accuracy: number | null;
  evaluations: number;
}

beforeAll(async () => {
  // No skipping: CI installs Debian's chromium (.ci/run); without it this test must fail, saying so.
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (the browser test drives it)`);
  await exportModel(sine, sineDir);
  await exportModel(mnistMlp, mnistDir);
  sineWeb = await startWebServer({ dir: sineDir, port: 0, batch: 32 });
  mnistWeb = await startWebServer({ dir: mnistDir, port: 0, batch: 64 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await sineWeb?.close();
  await mnistWeb?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function open(web: WebServer, query: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${web.url}?${query}`);
  await until(page, 'p.ready || p.error');
  return { page, errors };
}

/** Wait until `condition` (an expression over `p`, the page's progress) holds or the page reports an error. */
async function until(page: Page, condition: string, timeout = 100_000): Promise<Progress> {
  await page.waitForFunction(`(() => { const p = window.twnnProgress; return p && ((${condition}) || p.error); })()`, undefined, { timeout, polling: 50 });
  const progress = await read(page);
  expect(progress.error).toBeNull();
  return progress;
}

function read(page: Page): Promise<Progress> {
  return page.evaluate(() => (window as unknown as { twnnProgress: Progress }).twnnProgress);
}

/** The same steps in onnxruntime-node: the first feeds, then each batch, feeding `<name>.new` back. */
async function nodeLosses(exportDir: string, steps: number, batch: number): Promise<number[]> {
  const task = await loadWebTask(exportDir);
  const session = await openSession(join(exportDir, TRAIN_FILE));
  try {
    const feeds: Record<string, Tensor> = Object.fromEntries(task.initial);
    const losses: number[] = [];
    for (let k = 0; k < steps; k++) {
      Object.assign(feeds, stepBatch(task, batch, k), { step: Tensor.fromNumbers('int64', [], [k + 1]) });
      const out = await session.run(feeds);
      for (const [name, t] of Object.entries(out)) if (name.endsWith('.new')) feeds[name.slice(0, -4)] = t;
      losses.push(out.loss.get(0));
    }
    return losses;
  } finally {
    await session.close();
  }
}

function worstRelative(a: readonly number[], b: readonly number[]): number {
  expect(a.length).toBe(b.length);
  return Math.max(...a.map((l, k) => Math.abs(l - b[k]) / Math.max(Math.abs(b[k]), 1e-12)));
}

/** Each axis of the chart in element `id`: its title and tick labels, read from the SVG vega-embed rendered (grid lines, axes of their own there, left out). */
async function axes(page: Page, id: string): Promise<{ title: string; labels: string[] }[]> {
  const groups = await page.$$eval(`#${id} svg g.role-axis`, (gs) =>
    gs.map((g) => ({
      title: g.querySelector('.role-axis-title text')?.textContent ?? '',
      labels: [...g.querySelectorAll('.role-axis-label text')].map((t) => t.textContent ?? '').filter((t) => t !== ''),
    })),
  );
  return groups.filter((a) => a.title !== '' || a.labels.length > 0);
}

function legend(page: Page, id: string): Promise<string[]> {
  return page.$$eval(`#${id} svg .role-legend-label text`, (texts) => texts.map((t) => t.textContent ?? ''));
}

describe('twnn web: the sine TWNN', () => {
  it('trains in headless Chromium, its losses matching onnxruntime-node step by step, with sweeps per step and per test sample', async () => {
    const steps = 40;
    const { page, errors } = await open(sineWeb, `steps=${steps}&drawEvery=20`);
    const progress = await until(page, 'p.done', 150_000);
    expect(errors).toEqual([]);
    expect(progress.step).toBe(steps);
    const reference = await nodeLosses(sineDir, steps, 32);
    const worst = worstRelative(progress.losses, reference);
    process.stderr.write(`sine, browser vs node: ${steps} steps, loss ${reference[0].toExponential(3)} -> ${reference[steps - 1].toExponential(3)}, worst relative difference ${worst.toExponential(2)}\n`);
    // Same float32 graph, two builds of ONNX Runtime (WASM and native CPU): equal up to kernel rounding.
    expect(worst).toBeLessThan(2e-4);
    expect(progress.losses.at(-1)!).toBeLessThan(progress.losses[0] / 5);
    // The TWNN's own signal: sweeps per step (forward at least one, an adjoint for every step), and per test sample.
    expect(progress.forward.every((f) => f >= 1)).toBe(true);
    expect(progress.adjoint.every((a) => a !== null && a >= 1)).toBe(true);
    expect(progress.testSweeps).toHaveLength(256);
    expect(progress.testSweeps.every((s) => Number.isInteger(s) && s >= 1 && s <= 300)).toBe(true);
    expect(progress.generated).toHaveLength(120);
    expect(progress.generated.every(Number.isFinite)).toBe(true);

    // The charts vega-embed drew: two axes each, titled, with tick labels; a legend at each line chart.
    for (const [id, titles] of Object.entries({ loss: ['step', 'loss'], sweeps: ['step', 'sweeps'], wave: ['t (samples after the window; 50 per period)', 'sin(2πt/50)'], histogram: ['sweeps', 'test samples'] })) {
      const found = await axes(page, id);
      expect(found.map((a) => a.title).sort(), id).toEqual([...titles].sort());
      for (const a of found) expect(a.labels.length, `${id}: ${a.title}`).toBeGreaterThanOrEqual(2);
    }
    // The log axis spans the losses: its labels are numbers from below the last loss to above the first.
    const lossLabels = (await axes(page, 'loss')).find((a) => a.title === 'loss')!.labels.map(Number);
    expect(Math.min(...lossLabels)).toBeLessThanOrEqual(progress.losses.at(-1)! * 10);
    expect(Math.max(...lossLabels)).toBeGreaterThanOrEqual(progress.losses[0] / 10);
    expect(await legend(page, 'loss')).toEqual(['train loss']);
    expect(await legend(page, 'sweeps')).toEqual(['forward', 'adjoint']);
    expect(await legend(page, 'wave')).toEqual(['true wave', 'generated']);
    // The generated wave solid, then the true wave dashed on top of it (drawn later): the solid line shows through the gaps.
    const dashes = await page.$$eval('#wave svg .role-mark path', (paths) => paths.map((p) => p.getAttribute('stroke-dasharray')));
    expect(dashes).toEqual(['1,0', '6,4']);
    await page.close();
  }, 240_000);

  it('pause stops the steps and start resumes them; reset restores the exported weights and so the initial loss; the inputs set the options and the URL', async () => {
    const { page } = await open(sineWeb, 'steps=1000&drawEvery=1000');
    await until(page, 'p.step >= 3');
    await page.click('#pause');
    const paused = await until(page, '!p.running');
    await page.waitForTimeout(1000);
    expect((await read(page)).step).toBe(paused.step);
    expect(await page.isDisabled('#pause')).toBe(true);
    await page.click('#start');
    await until(page, `p.step >= ${paused.step + 2}`);
    await page.click('#pause');
    const first = await until(page, '!p.running');

    await page.click('#reset');
    const reset = await until(page, `!p.running && p.step === 0 && p.evaluations > ${first.evaluations}`);
    expect(reset.losses).toEqual([]);
    await page.fill('#steps', '3');
    await page.press('#steps', 'Enter');
    await page.fill('#lr', '0.002');
    await page.press('#lr', 'Enter');
    expect(new URL(page.url()).search).toBe('?lr=0.002&batch=32&steps=3&maxIter=300');
    await page.click('#start');
    const again = await until(page, 'p.done');
    expect(again.step).toBe(3);
    // Step 1 runs before lr matters to the loss (Adam's first update comes after it): the same loss, to the bit.
    expect(again.losses[0]).toBe(first.losses[0]);
    expect(again.losses[1]).not.toBe(first.losses[1]);
    await page.close();
  }, 240_000);

  it('the maxIter slider runs inference at that budget: the sweeps and the wave are those of model.onnx with max_iter set', async () => {
    const { page } = await open(sineWeb, 'autostart=0&maxIter=3');
    const capped = await read(page);
    expect(Math.max(...capped.testSweeps)).toBeLessThanOrEqual(3);
    const session = await openSession(join(sineDir, MODEL_FILE), { budget: { maxIter: 3 } });
    const task = await loadWebTask(sineDir);
    try {
      const out = await session.run({ x: task.test.x });
      expect(capped.testSweeps).toEqual(out.iterations.toNumbers());
    } finally {
      await session.close();
    }
    // The slider back at the built maxIter (300): sweeps as model.onnx runs by default.
    await page.$eval('#maxIter', (el) => {
      (el as HTMLInputElement).value = '300';
      el.dispatchEvent(new Event('change'));
    });
    const full = await until(page, `p.evaluations > ${capped.evaluations}`);
    const defaults = await openSession(join(sineDir, MODEL_FILE));
    try {
      expect(full.testSweeps).toEqual((await defaults.run({ x: task.test.x })).iterations.toNumbers());
    } finally {
      await defaults.close();
    }
    // The cap mattered: at the built budget some samples take more than 3 sweeps.
    expect(Math.max(...full.testSweeps)).toBeGreaterThan(3);
    expect(new URL(page.url()).search).toContain('maxIter=300');
    await page.close();
  }, 120_000);

  it('a bad URL option is an error on the page naming it', async () => {
    const page = await browser.newPage();
    await page.goto(`${sineWeb.url}?batch=0`);
    await page.waitForFunction(() => (window as unknown as { twnnProgress: Progress }).twnnProgress.error);
    expect((await read(page)).error).toContain('URL query batch=0: expected a positive integer');
    expect(await page.textContent('#status')).toContain('URL query batch=0');
    await page.close();
  });
});

describe('twnn web: the MNIST MLP TWNN', () => {
  it('trains on real MNIST batches, its losses matching onnxruntime-node; shows test accuracy and test digits with predictions and sweeps', async () => {
    const steps = 20;
    const { page, errors } = await open(mnistWeb, `steps=${steps}&drawEvery=10&autostart=0`);
    const initial = await read(page);
    expect(initial.step).toBe(0);
    // Live updates change the data of the embedded views: the SVG elements drawn before training stay the same ones.
    await page.$$eval('#charts svg', (svgs) => svgs.forEach((svg) => svg.setAttribute('data-embedded', 'once')));
    await page.click('#start');
    const progress = await until(page, 'p.done', 200_000);
    expect(errors).toEqual([]);
    const reference = await nodeLosses(mnistDir, steps, 64);
    const worst = worstRelative(progress.losses, reference);
    process.stderr.write(`mnist-mlp, browser vs node: ${steps} steps, loss ${reference[0].toExponential(3)} -> ${reference[steps - 1].toExponential(3)}, worst relative difference ${worst.toExponential(2)}; test accuracy ${(100 * initial.accuracy!).toFixed(1)}% -> ${(100 * progress.accuracy!).toFixed(1)}%\n`);
    expect(worst).toBeLessThan(1e-4);
    expect(progress.accuracy!).toBeGreaterThan(initial.accuracy! + 0.2);
    expect(progress.testSweeps).toHaveLength(500);
    const captions = await page.$$eval('#digits figcaption', (cs) => cs.map((c) => c.textContent ?? ''));
    expect(captions).toHaveLength(8);
    for (const c of captions) expect(c).toMatch(/^label \d, predicted \d · \d+ sweeps$/);
    for (const id of ['loss', 'sweeps', 'accuracy', 'histogram']) {
      const found = await axes(page, id);
      expect(found, id).toHaveLength(2);
      for (const a of found) expect(a.labels.length, `${id}: ${a.title}`).toBeGreaterThanOrEqual(2);
    }
    expect((await axes(page, 'accuracy')).map((a) => a.title).sort()).toEqual(['accuracy %', 'step']);
    expect(await page.$$eval('#charts svg', (svgs) => svgs.map((svg) => svg.getAttribute('data-embedded')))).toEqual(['once', 'once', 'once', 'once']);
    // The loss line has a vertex per step: path data "M x,y L x,y ..." with one command per point.
    const lossPath = await page.$eval('#loss svg .role-mark path', (p) => p.getAttribute('d') ?? '');
    expect(lossPath.match(/[ML]/g)).toHaveLength(steps);
    await page.close();
  }, 300_000);
});
