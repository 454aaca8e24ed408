// `twnn web` as a user meets it: --help names the tasks the page trains, and
// an export of another task is a one-line error, before anything is served.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectUserError, twnn, REPO } from './run-cli.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-cli-web-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('twnn web', () => {
  it('--help states the supported tasks and the URL options', async () => {
    const r = await twnn(['web', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Supported tasks');
    expect(r.stdout).toMatch(/\n  sine: sine wave generation/);
    expect(r.stdout).toMatch(/\n  mnist: MNIST with layout 'flat'/);
    expect(r.stdout).toContain('?lr=0.001&batch=32&steps=300&maxIter=300');
    expect(r.stdout).toContain('--draw-every <n>');
  });

  it('a --batch above what the page fetches is a one-line error', async () => {
    expectUserError(await twnn(['web', 'exported/sine', '--batch', '5000']), /--batch expects an integer from 1 to 4096/);
  });

  it('a committed model without train.onnx is a one-line error saying how to build one', async () => {
    const r = await twnn(['web', join(REPO, 'exported/paper/mnist-mlp'), '--port', '0']);
    expectUserError(r, /exported\/paper\/mnist-mlp: no train\.onnx, which the page trains .*twnn build graphs\/<model>\.ts -o <dir>/);
  });
});
