// Regenerates the README's picture of `twnn web`: builds graphs/sine.ts (or
// graphs/mnist-mlp.ts) into a temporary folder, serves it, lets Debian's
// headless Chromium train it on the page, and saves a screenshot of the whole
// page once the run is done.
//
//   npx tsx tools/web-screenshot.ts                              # docs/figures/web-sine.png, 300 steps
//   npx tsx tools/web-screenshot.ts --task mnist --steps 100     # docs/figures/web-mnist.png
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { TwnnError } from '../src/common/errors.js';
import { exportModel } from '../src/lower/artifacts.js';
import { startWebServer } from '../src/web/server.js';

const REPO = resolve(import.meta.dirname, '..');
/** Debian's chromium, as the browser test finds it. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Train `task`'s graph on the page for `steps` steps and write a screenshot
 * of the whole page to `out`.
 *
 * @example await webScreenshot({ task: 'sine', steps: 300, out: 'docs/figures/web-sine.png' });
 */
export async function webScreenshot(options: { task: 'sine' | 'mnist'; steps: number; out: string }): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new TwnnError(`${CHROMIUM} is missing: apt-get install chromium`);
  const graph = options.task === 'sine' ? 'sine' : 'mnist-mlp';
  const dir = mkdtempSync(join(tmpdir(), 'twnn-web-shot-'));
  const spec = (await import(join(REPO, 'graphs', `${graph}.ts`))).default;
  await exportModel(spec, join(dir, graph));
  const web = await startWebServer({ dir: join(dir, graph), port: 0, batch: options.task === 'sine' ? 32 : 64 });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1060, height: 900 } });
    await page.goto(`${web.url}?steps=${options.steps}`);
    await page.waitForFunction(() => {
      const p = (window as unknown as { twnnProgress?: { done: boolean; error: string | null } }).twnnProgress;
      return p?.done || p?.error;
    }, undefined, { timeout: 600_000 });
    const error = await page.evaluate(() => (window as unknown as { twnnProgress: { error: string | null } }).twnnProgress.error);
    if (error) throw new TwnnError(`the page failed: ${error}`);
    // Replace the temporary folder's name in the page's text with what a user would type.
    await page.evaluate((name) => {
      const about = document.getElementById('about')!;
      about.textContent = about.textContent!.replace(/^[^:]*:/, `exported/${name}:`);
    }, graph);
    await page.screenshot({ path: options.out, fullPage: true });
  } finally {
    await browser.close();
    await web.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { task: { type: 'string', default: 'sine' }, steps: { type: 'string' }, out: { type: 'string' } } });
  const task = values.task === 'mnist' ? 'mnist' : values.task === 'sine' ? 'sine' : undefined;
  if (!task) throw new TwnnError(`--task ${values.task}: expected sine or mnist`);
  const steps = Number(values.steps ?? (task === 'sine' ? 300 : 100));
  if (!Number.isInteger(steps) || steps < 1) throw new TwnnError(`--steps ${values.steps}: expected a positive integer`);
  const out = values.out ?? join(REPO, 'docs', 'figures', `web-${task}.png`);
  await webScreenshot({ task, steps, out });
  process.stdout.write(`wrote ${out}\n`);
}
