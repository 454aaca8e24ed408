// Training in the browser (issue 12, part 5): `twnn web` serves a page that
// runs an exported sine TWNN's train.onnx in onnxruntime-web, in a real
// headless Chromium (Debian's, driven by playwright-core). The page trains 300
// steps; its losses must match onnxruntime-node's on the same feeds, and fall.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sine from '../../graphs/sine.js';
import { exportModel } from '../../src/lower/artifacts.js';
import { TRAIN_FILE } from '../../src/contract/files.js';
import { Tensor } from '../../src/ir/tensor.js';
import { openSession } from '../../src/runtime/session.js';
import { trainingPlan } from '../../src/web/plan.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';

const CHROMIUM = '/usr/bin/chromium';
const STEPS = 300;
const BATCH = 32;
const dir = mkdtempSync(join(tmpdir(), 'twnn-web-'));
let web: WebServer;
let browser: Browser;

beforeAll(async () => {
  // No skipping: CI installs Debian's chromium (.ci/run); without it this test must fail, saying so.
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (the browser test drives it)`);
  await exportModel(sine, join(dir, 'sine'));
  web = await startWebServer({ dir: join(dir, 'sine'), port: 0, steps: STEPS, batch: BATCH, drawEvery: 100 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await web?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The same steps in onnxruntime-node: first feeds, then each batch, feeding `<name>.new` back. */
async function nodeLosses(): Promise<number[]> {
  const plan = await trainingPlan(join(dir, 'sine'), { steps: STEPS, batch: BATCH });
  const session = await openSession(join(dir, 'sine', TRAIN_FILE));
  try {
    const feeds = Object.fromEntries(plan.initial);
    const losses: number[] = [];
    for (let k = 0; k < STEPS; k++) {
      if (k > 0) Object.assign(feeds, plan.batches[k], { step: Tensor.fromNumbers('int64', [], [k + 1]) });
      const out = await session.run(feeds);
      for (const [name, t] of Object.entries(out)) if (name.endsWith('.new')) feeds[name.slice(0, -4)] = t;
      losses.push(out.loss.get(0));
    }
    return losses;
  } finally {
    await session.close();
  }
}

describe('twnn web', () => {
  it('trains the sine TWNN in headless Chromium, its losses matching onnxruntime-node step by step', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(web.url);
    await page.waitForFunction(() => (window as unknown as { twnnProgress?: { done: boolean; error: string | null } }).twnnProgress?.done || (window as unknown as { twnnProgress?: { error: string | null } }).twnnProgress?.error, undefined, { timeout: 150_000 });
    const progress = await page.evaluate(() => (window as unknown as { twnnProgress: { losses: number[]; generated: number[]; error: string | null; step: number } }).twnnProgress);
    expect(progress.error, errors.join('\n')).toBeNull();
    expect(progress.step).toBe(STEPS);
    expect(progress.generated.length).toBeGreaterThan(0);
    expect(progress.generated.every(Number.isFinite)).toBe(true);

    const reference = await nodeLosses();
    const worst = Math.max(...progress.losses.map((l, k) => Math.abs(l - reference[k]) / Math.max(Math.abs(reference[k]), 1e-12)));
    process.stderr.write(`browser vs node: ${STEPS} steps, loss ${reference[0].toExponential(3)} -> ${reference[STEPS - 1].toExponential(3)}, worst relative difference ${worst.toExponential(2)}\n`);
    // Same float32 graph, two builds of ONNX Runtime (WASM and native CPU): equal up to kernel rounding,
    // which 300 Adam steps carry forward without amplifying.
    expect(worst).toBeLessThan(2e-4);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(progress.losses.slice(-20))).toBeLessThan(mean(progress.losses.slice(0, 20)) / 5);
    await page.screenshot({ path: join(dir, 'page.png') });
  }, 240_000);
});
