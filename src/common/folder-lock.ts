// One writer per output folder (issue 13): two `twnn train` into one folder
// both finished with exit 0 and left a mix of their files. A writer holds
// `<folder>/.twnn.lock` (created exclusively, holding its pid, host and
// command); a second is refused while that pid lives. A lock whose process is
// gone (killed, crashed), or whose pid now belongs to a process started after
// the lock was taken, is stale and taken over, one taker at a time (issue 23,
// item 10: two takers in the same millisecond both got the lock). Within one
// process the lock is re-entrant: `train` holds it around the `exportModel` it calls.
import { existsSync, lstatSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { link, rm, rmdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { TwnnError } from './errors.js';
import { fileError, makeFolder } from './files.js';

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
    await makeFolder(dir);
  } catch (err) {
    throw fileError('create the folder', dir, err);
  }
  const path = join(dir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, host: hostname(), command, started: new Date().toISOString() };
  const draft = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    // The lock appears whole or not at all: written beside it, then hard-linked into place, which
    // fails if a lock exists. (Created empty and then written, a rival could read it half-done and
    // take it for stale.)
    await writeFile(draft, `${JSON.stringify(me)}\n`);
    for (let attempt = 0; ; attempt++) {
      try {
        await link(draft, path);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError('lock', dir, err);
      }
      const text = lockText(path);
      const owner = parseOwner(text);
      if (owner && owner.host !== me.host) {
        throw new TwnnError(`${dir}: locked by twnn ${owner.command} (pid ${owner.pid} on ${owner.host}, since ${owner.started}); if that run is over, remove ${path}`);
      }
      if (owner && isAlive(owner)) {
        throw new TwnnError(
          `${dir}: another twnn ${owner.command} (pid ${owner.pid}, since ${owner.started}) is writing to this folder; wait for it to finish, ` +
            `or choose another output folder (if no twnn runs there, remove ${path})`,
        );
      }
      // Stale: its process is gone (or the file is unreadable garbage). Take it over, one taker at a time.
      if (attempt >= TAKEOVER_TRIES) throw new TwnnError(`${dir}: cannot take over the stale lock ${path}; remove it`);
      await takeOver(path, draft, text);
    }
  } finally {
    await rm(draft, { force: true });
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

/** How often a taker retries while another takes a stale lock over (50 ms apart). */
const TAKEOVER_TRIES = 100;
/** A takeover marker older than this was left by a taker that died mid-way. */
const TAKEOVER_STALE_MS = 10_000;

/**
 * Replace the stale lock (whose text was `judged`) with ours, holding
 * `<lock>.takeover` so that two takers cannot both remove and link: the
 * second finds a live lock, not the stale one, and is refused.
 */
async function takeOver(path: string, draft: string, judged: string): Promise<void> {
  const marker = `${path}.takeover`;
  try {
    await link(draft, marker);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    if (Date.now() - (mtimeOf(marker) ?? Date.now()) > TAKEOVER_STALE_MS) await rm(marker, { force: true });
    await new Promise((r) => setTimeout(r, 50));
    return; // the caller tries again: the lock is the new owner's, or still stale
  }
  try {
    // Only the lock judged stale goes: one linked meanwhile is a live owner's.
    if (lockText(path) === judged) await rm(path, { force: true });
  } finally {
    await rm(marker, { force: true });
  }
}

/** The lock file's text ('' when gone); not a regular file (a FIFO would block the read) is an error. */
function lockText(path: string): string {
  let kind;
  try {
    kind = lstatSync(path);
  } catch {
    return '';
  }
  if (!kind.isFile()) {
    throw new TwnnError(`${path}: not a regular file (${kind.isFIFO() ? 'a named pipe' : kind.isDirectory() ? 'a folder' : 'a special file'}); it is not twnn's lock: remove it`);
  }
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(text) as Partial<LockOwner>;
    return typeof owner.pid === 'number' && typeof owner.host === 'string' ? (owner as LockOwner) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the lock's process still runs: a positive pid that answers signal
 * 0 and, where /proc says when it started, started before the lock did (a pid
 * reused by a later process is not the owner). pid 0 and negative pids name
 * process groups, never an owner.
 */
function isAlive(owner: LockOwner): boolean {
  if (!Number.isSafeInteger(owner.pid) || owner.pid <= 0) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false; // EPERM: alive, another user's
  }
  const started = processStart(owner.pid);
  const locked = Date.parse(owner.started);
  // /proc's start time has clock-tick resolution; a second of slack keeps the real owner alive.
  return started === undefined || Number.isNaN(locked) || started <= locked + 1000;
}

/** When a process started (ms since the epoch), from /proc on Linux; undefined elsewhere. */
function processStart(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime, clock ticks since boot) counts from after the ')' that ends the command name.
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const boot = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(ticks) || !Number.isFinite(boot)) return undefined;
    return boot * 1000 + (ticks / CLOCK_TICKS) * 1000;
  } catch {
    return undefined;
  }
}

/** USER_HZ: 100 on every Linux architecture node runs on. */
const CLOCK_TICKS = 100;

function mtimeOf(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
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
