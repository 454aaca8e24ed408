import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readlink, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { TwnnError } from './errors.js';

/** What a file-system error code means, for messages that name the path and the cause. */
const CAUSES: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a parent is not a directory',
  EISDIR: 'is a directory',
  EFBIG: 'file too large',
  EIO: 'input/output error',
};

/**
 * A TwnnError `cannot <verb> <path>: <cause> (<CODE>)` for a failed file
 * operation: the path the user chose and the real cause, never a bare code.
 *
 * @example throw fileError('write', 'out/model.onnx', err); // cannot write out/model.onnx: no space left on the device (ENOSPC)
 */
export function fileError(verb: string, path: string, err: unknown): TwnnError {
  return new TwnnError(`cannot ${verb} ${path}: ${fileErrorCause(err)}`);
}

/**
 * A file-system error's cause in words, with its code: `no space left on the device (ENOSPC)`.
 *
 * @example fileErrorCause(err) // 'read-only file system (EROFS)'
 */
export function fileErrorCause(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  const text = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return code ? `${CAUSES[code] ?? text} (${code})` : text;
}

/**
 * `mkdir -p dir`, with the true cause when it fails: node's recursive mkdir
 * reports ENOENT where the folder cannot be made on a read-only mount (issue
 * 23, item 14), so the first missing folder is then made alone, which fails
 * with EROFS, EACCES, ... as it should.
 *
 * @example await makeFolder('exported/sine');
 */
export async function makeFolder(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    let first = resolve(dir);
    while (!(await exists(dirname(first))) && dirname(first) !== first) first = dirname(first);
    await mkdir(first); // throws the real cause; should it succeed, the recursive mkdir's error stands
    throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/**
 * Write a file so that readers see either the old contents or the new, never
 * half: write a temp file beside it, then rename over the target. A symbolic
 * link is followed (its target is replaced, the link stays); a device or a
 * FIFO (`/dev/null`, `/dev/stdout`) is written through, since a rename would
 * replace it with a regular file; a directory is refused. Failures name the
 * path and the cause.
 *
 * @example await writeFileAtomic('exported/sine/model.onnx', bytes);
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await writeFilesAtomic([[path, data]]);
}

/**
 * Write several files all or nothing: every one goes to a temp file beside
 * its target first; only when all are written (a full disk or a read-only
 * folder fails here) are they renamed into place, which needs no space. On a
 * failure the temp files are removed and the targets are as they were.
 *
 * @example await writeFilesAtomic([['out/model.onnx', model], ['out/manifest.json', manifest]]);
 */
export async function writeFilesAtomic(files: readonly (readonly [path: string, data: Uint8Array | string])[]): Promise<void> {
  const staged: { tmp: string; target: string; path: string }[] = [];
  try {
    for (const [path, data] of files) {
      const target = await writeTarget(path);
      if (target.special) {
        await writeFile(path, data).catch((err: unknown) => Promise.reject(fileError('write', path, err)));
        continue;
      }
      try {
        await makeFolder(dirname(target.path));
      } catch (err) {
        throw fileError('create the folder', dirname(path), err);
      }
      const tmp = join(dirname(target.path), `.${basename(target.path)}.${randomBytes(6).toString('hex')}.tmp`);
      staged.push({ tmp, target: target.path, path });
      try {
        await writeFile(tmp, data);
      } catch (err) {
        throw fileError('write', path, err);
      }
    }
    for (const [i, s] of staged.entries()) {
      try {
        await rename(s.tmp, s.target);
      } catch (err) {
        staged.splice(0, i); // those before are in place already
        throw fileError('write', s.path, err);
      }
    }
  } catch (err) {
    await Promise.all(staged.map((s) => rm(s.tmp, { force: true }).catch(() => undefined)));
    throw err;
  }
}

/** Where writing `path` lands: the file itself, a symbolic link's target, or a special file written through. */
async function writeTarget(path: string): Promise<{ path: string; special: boolean }> {
  let link;
  try {
    link = await lstat(path);
  } catch {
    return { path, special: false }; // a new file
  }
  if (link.isSymbolicLink()) {
    const resolved = await realpath(path).catch(() => undefined);
    // A dangling link: create the file it names (as cp and shell redirection do).
    if (resolved === undefined) return { path: resolve(dirname(path), await readlink(path)), special: false };
    return writeTarget(resolved);
  }
  const info = await stat(path);
  if (info.isDirectory()) throw new TwnnError(`cannot write ${path}: is a directory`);
  return { path, special: !info.isFile() };
}
