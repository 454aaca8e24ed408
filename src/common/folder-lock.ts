// One writer per output folder (issue 13): two `twnn train` into one folder
// both finished with exit 0 and left a mix of their files. A writer holds
// `<folder>/.twnn.lock` (created exclusively, holding its pid, host and
// command); a second is refused while that pid lives. A lock whose process is
// gone (killed, crashed) is stale and taken over. Within one process the lock
// is re-entrant: `train` holds it around the `exportModel` it calls.
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { link, mkdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { TwnnError } from './errors.js';
import { fileError } from './files.js';

/** The lock file's name inside the folder it guards. */
export const LOCK_FILE = '.twnn.lock';

interface LockOwner {
  pid: number;
  host: string;
  command: string;
  started: string;
}

/** Folders this process holds, with how many nested holders each. */
const held = new Map<string, number>();
let exitHooked = false;

/**
 * Run `work` holding `dir`'s lock (creating the folder), or refuse at once,
 * naming the process that holds it, when another live twnn does.
 *
 * @example await withFolderLock('exported/sine', 'train', () => train(...));
 */
export async function withFolderLock<T>(dir: string, command: string, work: () => Promise<T>): Promise<T> {
  const release = await lockFolder(dir, command);
  try {
    return await work();
  } finally {
    await release();
  }
}

/**
 * Take `dir`'s lock and return its release. A TwnnError when another live
 * process holds it.
 *
 * @example const release = await lockFolder('exported/sine', 'build'); try { ... } finally { await release(); }
 */
export async function lockFolder(dir: string, command: string): Promise<() => Promise<void>> {
  const key = resolve(dir);
  const nested = held.get(key);
  if (nested !== undefined) {
    held.set(key, nested + 1);
    return async () => void held.set(key, held.get(key)! - 1);
  }
  // A folder this lock creates goes again if the work leaves it empty (a failed build writes nothing).
  const created = !existsSync(dir);
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw fileError('create the folder', dir, err);
  }
  const path = join(dir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, host: hostname(), command, started: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    // The lock appears whole or not at all: written beside it, then hard-linked into place, which
    // fails if a lock exists. (Created empty and then written, a rival could read it half-done and
    // take it for stale.)
    const draft = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      await writeFile(draft, `${JSON.stringify(me)}\n`);
      await link(draft, path);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError('lock', dir, err);
      const owner = readOwner(path);
      if (owner && owner.host !== me.host) {
        throw new TwnnError(`${dir}: locked by twnn ${owner.command} (pid ${owner.pid} on ${owner.host}, since ${owner.started}); if that run is over, remove ${path}`);
      }
      if (owner && isAlive(owner.pid)) {
        throw new TwnnError(`${dir}: another twnn ${owner.command} (pid ${owner.pid}, since ${owner.started}) is writing to this folder; wait for it to finish, or choose another output folder`);
      }
      // Stale: its process is gone (or the file is unreadable garbage). Take it over once.
      if (attempt > 0) throw new TwnnError(`${dir}: cannot take over the stale lock ${path}; remove it`);
      await rm(path, { force: true });
    } finally {
      await rm(draft, { force: true });
    }
  }
  held.set(key, 1);
  hookExit();
  return async () => {
    const count = held.get(key)! - 1;
    if (count > 0) return void held.set(key, count);
    held.delete(key);
    await rm(path, { force: true });
    if (created) await rmdir(dir).catch(() => undefined); // fails unless empty: then it stays
  };
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    return typeof owner.pid === 'number' && typeof owner.host === 'string' ? (owner as LockOwner) : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

/** Leave no lock behind on an ordinary exit (an error, process.exit); a killed process's lock goes stale instead. */
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const dir of held.keys()) {
      try {
        unlinkSync(join(dir, LOCK_FILE));
      } catch {
        // already gone
      }
    }
  });
}
