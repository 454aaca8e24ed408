// One writer per output folder (issue 13, item 4): a live holder's lock
// refuses a second writer, naming its pid and command; a dead holder's lock is
// stale and taken over; one process may nest (train around its export).
// Issue 23, item 10: a stale lock is taken over by one of two racing takers,
// never both; pid 0, a negative pid and a pid reused by a later process are
// not owners; a FIFO where the lock goes is refused, not read forever.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE, lockFolder, withFolderLock } from '../../src/common/folder-lock.js';
import { REPO } from '../cli/run-cli.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-lock-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const folder = (name: string) => join(root, name);
const owner = (pid: number, host = hostname(), started = '2026-12-03T17:00:00.000Z') => JSON.stringify({ pid, host, command: 'train', started });

describe('output folder lock', () => {
  it('is held while the work runs and removed after, even when it fails', async () => {
    const dir = folder('plain');
    await withFolderLock(dir, 'build', async () => {
      expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid, command: 'build' });
    });
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    await expect(withFolderLock(dir, 'build', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('refuses a second writer while the holder lives, naming it', async () => {
    const dir = folder('live');
    mkdirSync(dir);
    const holder = spawn('sleep', ['30']);
    try {
      // Taken once the holder runs: a lock older than its process would be a reused pid's.
      await new Promise((r) => setTimeout(r, 1100));
      const since = new Date().toISOString();
      writeFileSync(join(dir, LOCK_FILE), owner(holder.pid!, hostname(), since));
      await expect(lockFolder(dir, 'train')).rejects.toThrow(`${dir}: another twnn train (pid ${holder.pid}, since ${since}) is writing to this folder`);
      await expect(lockFolder(dir, 'train')).rejects.toThrow(`(if no twnn runs there, remove ${join(dir, LOCK_FILE)})`);
    } finally {
      holder.kill();
    }
  });

  it('takes over a stale lock whose process is gone, and a garbled one', async () => {
    const dir = folder('stale');
    mkdirSync(dir);
    const gone = spawnSync('true').pid!; // exited already
    writeFileSync(join(dir, LOCK_FILE), owner(gone));
    const release = await lockFolder(dir, 'train');
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    await release();
    writeFileSync(join(dir, LOCK_FILE), 'not json');
    await (await lockFolder(dir, 'train'))();
  });

  it('names another host\'s lock instead of guessing whether it lives', async () => {
    const dir = folder('remote');
    mkdirSync(dir);
    writeFileSync(join(dir, LOCK_FILE), owner(1, 'elsewhere'));
    await expect(lockFolder(dir, 'train')).rejects.toThrow(/locked by twnn train \(pid 1 on elsewhere, .*if that run is over, remove/);
  });

  it('nests within one process (train holds it around its export)', async () => {
    const dir = folder('nested');
    await withFolderLock(dir, 'train', async () => {
      await withFolderLock(dir, 'build', async () => expect(existsSync(join(dir, LOCK_FILE))).toBe(true));
      expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
    });
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('takes over a lock naming pid 0, a negative pid, or a pid a later process reuses', async () => {
    for (const pid of [0, -1]) {
      const dir = folder(`pid${pid}`);
      mkdirSync(dir);
      writeFileSync(join(dir, LOCK_FILE), owner(pid));
      await (await lockFolder(dir, 'train'))();
    }
    const dir = folder('reused');
    mkdirSync(dir);
    const later = spawn('sleep', ['30']); // alive, but started long after the lock's 2026-12-03
    try {
      writeFileSync(join(dir, LOCK_FILE), owner(later.pid!));
      const release = await lockFolder(dir, 'train');
      expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
      await release();
    } finally {
      later.kill();
    }
  });

  it('refuses a FIFO where the lock goes at once, instead of blocking on it', async () => {
    const dir = folder('fifo');
    mkdirSync(dir);
    expect(spawnSync('mkfifo', [join(dir, LOCK_FILE)]).status).toBe(0);
    await expect(lockFolder(dir, 'build')).rejects.toThrow(`${join(dir, LOCK_FILE)}: not a regular file (a named pipe); it is not twnn's lock: remove it`);
  });

  it('lets one of two processes that take over a stale lock at the same moment have it, never both', async () => {
    const script = join(root, 'taker.mts'); // .mts: an ES module (top-level await) outside the package
    writeFileSync(script, [
      `import { lockFolder } from ${JSON.stringify(join(REPO, 'src/common/folder-lock.ts'))};`,
      'const [dir, at] = process.argv.slice(2);',
      'while (Date.now() < Number(at)) {} // start together, to the millisecond',
      "try { await lockFolder(dir, 'train'); console.log('got'); await new Promise((r) => setTimeout(r, 1500)); }",
      "catch (err) { console.log(`refused: ${(err as Error).message}`); }",
    ].join('\n'));
    const gone = spawnSync('true').pid!;
    for (let trial = 0; trial < 6; trial++) {
      const dir = folder(`race${trial}`);
      mkdirSync(dir);
      writeFileSync(join(dir, LOCK_FILE), owner(gone));
      const at = String(Date.now() + 2500);
      const outcomes = await Promise.all([0, 1].map(() => new Promise<string>((done) => {
        const child = spawn(process.execPath, ['--import', 'tsx', script, dir, at], { cwd: REPO });
        let out = '';
        child.stdout.on('data', (d) => (out += String(d)));
        child.on('close', () => done(out.trim()));
      })));
      expect(outcomes.filter((o) => o === 'got'), outcomes.join(' | ')).toHaveLength(1);
      expect(outcomes.find((o) => o !== 'got')).toMatch(/^refused: .*another twnn train \(pid \d+/);
    }
  }, 120_000);
});

