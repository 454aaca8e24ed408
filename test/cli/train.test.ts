import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readMetrics } from '../../src/runtime/metrics.js';
import { expectUserError, twnn } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-cli-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const out = join(dir, 'sine');

/** The number after `label` in the CLI's output. */
function numberAfter(text: string, label: RegExp): number {
  const m = new RegExp(`${label.source}\\s*(-?[0-9.e+-]+)`).exec(text);
  if (!m) throw new Error(`no ${label} in:\n${text}`);
  return Number(m[1]);
}

describe('twnn train and twnn eval on graphs/sine-mlp.ts', () => {
  let trainStdout = '';

  it('trains for a limited number of steps, writing metrics, checkpoint and model.onnx, and its loss falls', async () => {
    const r = await twnn(['train', 'graphs/sine-mlp.ts', '--epochs', '1', '--limit-steps', '40', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    trainStdout = r.stdout;
    expect(r.stdout).toContain('training sine-mlp: 1 epoch of 125 steps (batch 64, 7987 train / 1997 test examples), adam lr 0.001, seed 0');
    expect(r.stdout).toContain('trained sine-mlp: 40 steps (0.32 epochs)');
    for (const f of ['model.onnx', 'train.onnx', 'manifest.json', 'metrics.jsonl', 'checkpoint.twnn']) {
      expect(existsSync(join(out, f)), f).toBe(true);
      expect(r.stdout).toContain(join(out, f));
    }
    // Without a terminal the progress is a few plain lines, not a spinner's redraws.
    expect(r.stdout.split('\n').length).toBeLessThan(20);
    expect(r.stdout).not.toContain('\u001b[');
    const steps = readMetrics(join(out, 'metrics.jsonl')).filter((m) => m.kind === 'step');
    expect(steps).toHaveLength(40);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(steps.slice(-5).map((s) => s.loss))).toBeLessThan(mean(steps.slice(0, 5).map((s) => s.loss)) / 4);
    expect(numberAfter(r.stdout, /test: loss/)).toBeLessThan(steps[0].loss);
  });

  it('twnn eval reports the test loss the trainer reported, from model.onnx and its manifest', async () => {
    const r = await twnn(['eval', join(out, 'model.onnx')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('on sine/test (mse): loss');
    expect(r.stdout).toContain('on 1997 examples');
    expect(numberAfter(r.stdout, /\(mse\): loss/)).toBe(numberAfter(trainStdout, /test: loss/));
    expect(r.stdout).toContain('iterations: mean 1.00, max 1');
  });

  it('twnn eval --data sine --split train evaluates the training windows', async () => {
    const r = await twnn(['eval', join(out, 'model.onnx'), '--data', 'sine', '--split', 'train', '--batch', '1000']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('on sine/train (mse): loss');
    expect(r.stdout).toContain('on 7987 examples');
  });

  it('--resume continues the run from its checkpoint', async () => {
    const r = await twnn(['train', 'graphs/sine-mlp.ts', '--out', out, '--resume', '--limit-steps', '50']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('resuming after step 40');
    expect(r.stdout).toContain('trained sine-mlp: 50 steps');
    expect(readMetrics(join(out, 'metrics.jsonl')).filter((m) => m.kind === 'step').map((m) => m.step)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('an edited checkpoint header is refused in one line, and model.onnx keeps the trained weights (issue 23, items 8 and 12)', async () => {
    const evalLoss = async () => numberAfter((await twnn(['eval', join(out, 'model.onnx')])).stdout, /\(mse\): loss/);
    const before = await evalLoss();
    const path = join(out, 'checkpoint.twnn');
    const bytes = readFileSync(path);
    const length = bytes.readUInt32LE(8);
    const header = JSON.parse(bytes.subarray(12, 12 + length).toString('utf8'));
    header.position.step = 1_000_000_000;
    const text = Buffer.from(JSON.stringify(header));
    const lengthBytes = Buffer.alloc(4);
    lengthBytes.writeUInt32LE(text.length);
    writeFileSync(path, Buffer.concat([bytes.subarray(0, 8), lengthBytes, text, bytes.subarray(12 + length)]));
    const r = await twnn(['train', 'graphs/sine-mlp.ts', '--out', out, '--resume']);
    expectUserError(r, /checkpoint\.twnn: not a usable twnn checkpoint: the header or the data does not match its sha256 \(edited or corrupted\)/);
    expect(r.stdout).not.toContain('1000000000');
    expect(await evalLoss()).toBe(before);
    writeFileSync(path, bytes);
  });

  it('lr 1000 trains with two warnings on stderr: the lr, then the growing loss (issue 23, item 13)', async () => {
    const r = await twnn(['train', 'graphs/sine-mlp.ts', '--lr', '1000', '--limit-steps', '8', '--out', join(dir, 'lr1000')]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe('twnn: warning: lr 1000 is far above the usual range for adam (warned above 0.1): the loss may grow instead of falling');
    expect(lines[1]).toMatch(/^twnn: warning: the loss grew from \S+ to \S+ \(mean of steps 1-5\): training is diverging; try a smaller --lr$/);
  });

  it('--device cuda without the CUDA EP is the one-line error, before any export', async () => {
    const fresh = join(dir, 'cuda');
    const r = await twnn(['train', 'graphs/sine-mlp.ts', '--device', 'cuda', '--out', fresh]);
    expectUserError(r, /--device cuda:0: onnxruntime-node's CUDA execution provider is not installed .*npm run cuda:install/);
    expect(existsSync(fresh)).toBe(false);
  });

  it('usage and input errors are one line', async () => {
    expectUserError(await twnn(['train', 'graphs/sine-mlp.ts', '--optimizer', 'rmsprop']), /--optimizer <name>' argument 'rmsprop' is invalid.*sgd, adam, adamw/);
    expectUserError(await twnn(['train', 'graphs/sine-mlp.ts', '--lr', '-1']), /--lr expects a positive number/);
    expectUserError(await twnn(['train', 'graphs/sine-mlp.ts', '--out', join(dir, 'none'), '--resume']), /checkpoint\.twnn: cannot read checkpoint \(no such file; train without --resume first\)/);
    expectUserError(await twnn(['eval', 'test/fixtures/conv-net.onnx']), /there is no manifest\.json beside it; say which data set with --data mnist\|fashion-mnist\|sine/);
  });

  it.each([
    ['train', '<graph>', ['--epochs <n>', '--batch <n>', '--lr <x>', '--optimizer <name>', '--seed <n>', '--device <device>', '--out <dir>', '--resume', '--checkpoint-every <n>', '--limit-steps <n>']],
    ['eval', '<model>', ['--data <name>', '--split <split>', '--batch <n>', '--device <device>', 'mnist', 'fashion-mnist', 'sine']],
  ])('%s --help describes the command and its flags', async (cmd, arg, flags) => {
    const r = await twnn([cmd, '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`Usage: twnn ${cmd} [options] ${arg}`);
    for (const flag of flags) expect(r.stdout).toContain(flag);
  });
});
