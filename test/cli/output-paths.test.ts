// The CLI's files under contention and on odd paths (issue 13, items 4, 6, 7):
// a second `twnn train` into a folder another is writing is refused at once;
// `run -o` writes through a symbolic link and a FIFO instead of replacing them;
// a FIFO given as the model is refused, not read forever; a read-only or full
// output names the path and the cause.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../src/data/npy.js';
import { LOCK_FILE } from '../../src/common/folder-lock.js';
import { expectUserError, REPO, TWNN, twnn } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-paths-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const model = join(dir, 'sine', 'model.onnx');
const x = join(dir, 'x.json');

beforeAll(async () => {
  const r = await twnn(['build', join(REPO, 'graphs/sine.ts'), '--out', join(dir, 'sine')]);
  expect(r.status, r.stderr).toBe(0);
  writeFileSync(x, JSON.stringify([Array.from({ length: 16 }, (_, i) => Math.sin(i / 3))]));
});

describe('one writer per output folder', () => {
  it('refuses a second train while the first runs; once the first is killed, its stale lock is taken over', async () => {
    const out = join(dir, 'contended');
    const first = spawn(process.execPath, [TWNN, 'train', join(REPO, 'graphs/sine.ts'), '--out', out, '--epochs', '50'], { stdio: 'ignore' });
    const exited = new Promise((r) => first.on('exit', r));
    const lock = join(out, LOCK_FILE);
    try {
      for (let i = 0; i < 400 && !existsSync(lock); i++) await new Promise((r) => setTimeout(r, 50));
      expect(JSON.parse(readFileSync(lock, 'utf8'))).toMatchObject({ pid: first.pid, command: 'train' });
      const second = await twnn(['train', join(REPO, 'graphs/sine.ts'), '--out', out, '--epochs', '1']);
      expectUserError(second, `${out}: another twnn train (pid ${first.pid}, since `);
    } finally {
      first.kill('SIGKILL');
      await exited;
    }
    // SIGKILL ran no cleanup: the lock is left behind, stale.
    expect(existsSync(lock)).toBe(true);
    const third = await twnn(['build', join(REPO, 'graphs/sine.ts'), '--out', out]);
    expect(third.status, third.stderr).toBe(0);
    expect(existsSync(lock)).toBe(false);
  });
});

describe('run -o on paths that are not plain files', () => {
  it('writes through a symbolic link, which stays a link', async () => {
    const target = join(dir, 'y-target.npy');
    const link = join(dir, 'y-link.npy');
    symlinkSync(target, link);
    const r = await twnn(['run', model, '--input', x, '-o', link]);
    expect(r.status, r.stderr).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readNpy(readFileSync(target), target).shape).toEqual([1, 1]);
  });

  it('writes through a FIFO, which stays a FIFO', async () => {
    const fifo = join(dir, 'y.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const reader = spawn('cat', [fifo]);
    const chunks: Buffer[] = [];
    reader.stdout.on('data', (d: Buffer) => chunks.push(d));
    const closed = new Promise((r) => reader.on('close', r));
    const r = await twnn(['run', model, '--input', x, '-o', fifo]);
    await closed;
    expect(r.status, r.stderr).toBe(0);
    expect(statSync(fifo).isFIFO()).toBe(true);
    expect(readNpy(new Uint8Array(Buffer.concat(chunks)), fifo).shape).toEqual([1, 1]);
  });

  it('refuses a directory', async () => {
    expectUserError(await twnn(['run', model, '--input', x, '-o', dir]), `cannot write ${dir}: is a directory`);
  });

  it('names the path and the cause on a full device', async () => {
    expectUserError(await twnn(['run', model, '--input', x, '-o', '/dev/full']), 'cannot write /dev/full: no space left on the device (ENOSPC)');
  });
});

describe('a model that is not a regular file', () => {
  it('is refused at once, not read forever', async () => {
    const fifo = join(dir, 'model.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    for (const command of [['run', fifo, '--input', x], ['inspect', fifo], ['eval', fifo]]) {
      expectUserError(await twnn(command), `${fifo}: cannot read ONNX file (not a regular file: a FIFO)`);
    }
  });
});
