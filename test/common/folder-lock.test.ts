// One writer per output folder (issue 13, item 4): a live holder's lock
// refuses a second writer, naming its pid and command; a dead holder's lock is
// stale and taken over; one process may nest (train around its export).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE, lockFolder, withFolderLock } from '../../src/common/folder-lock.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-lock-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const folder = (name: string) => join(root, name);
const owner = (pid: number, host = hostname()) => JSON.stringify({ pid, host, command: 'train', started: '2026-12-03T17:00:00.000Z' });

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
      writeFileSync(join(dir, LOCK_FILE), owner(holder.pid!));
      await expect(lockFolder(dir, 'train')).rejects.toThrow(`${dir}: another twnn train (pid ${holder.pid}, since 2026-12-03T17:00:00.000Z) is writing to this folder`);
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
});
