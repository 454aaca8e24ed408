// Issue 23, item 14: `-o` on a read-only mount said ENOENT, not EROFS: node's
// recursive mkdir reports ENOENT when a missing folder cannot be made there.
// makeFolder then makes the first missing folder alone, whose error is the
// true cause. (Seen on a read-only tmpfs; the file system is faked here, so
// the test runs where nothing can be mounted.)
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

// vi.mock is hoisted above the imports: what its factory uses comes from vi.hoisted or its own imports.
const made = vi.hoisted((): string[] => []);
vi.mock('node:fs/promises', async (original) => {
  const fs = await original<typeof import('node:fs/promises')>();
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const readOnly = join(tmpdir(), 'read-only-mount');
  return {
    ...fs,
    mkdir: async (path: string, options?: { recursive?: boolean }) => {
      made.push(`${path}${options?.recursive ? ' -p' : ''}`);
      if (!path.startsWith(readOnly)) return fs.mkdir(path, options);
      // What node says on a read-only mount: ENOENT for -p, EROFS for the folder itself.
      const err = Object.assign(new Error(`${options?.recursive ? 'ENOENT: no such file or directory' : 'EROFS: read-only file system'}, mkdir '${path}'`), {
        code: options?.recursive ? 'ENOENT' : 'EROFS',
      });
      throw err;
    },
    // The mount point exists; nothing below it does.
    stat: async (path: string) => {
      if (path === readOnly) return fs.stat(tmpdir());
      if (path.startsWith(`${readOnly}/`)) throw Object.assign(new Error(`ENOENT: no such file or directory, stat '${path}'`), { code: 'ENOENT' });
      return fs.stat(path);
    },
  };
});

const { makeFolder, writeFileAtomic } = await import('../../src/common/files.js');

describe('makeFolder', () => {
  it('says EROFS, not ENOENT, for a folder a read-only mount cannot hold', async () => {
    const dir = join(tmpdir(), 'read-only-mount', 'a', 'b');
    await expect(makeFolder(dir)).rejects.toMatchObject({ code: 'EROFS' });
    // The recursive attempt, then the first missing folder alone.
    expect(made.slice(-2)).toEqual([`${dir} -p`, join(tmpdir(), 'read-only-mount', 'a')]);
    await expect(writeFileAtomic(join(dir, 'model.onnx'), 'x')).rejects.toThrow(`cannot create the folder ${dir}: read-only file system (EROFS)`);
  });

  it('makes a folder where it can', async () => {
    const dir = join(tmpdir(), `twnn-make-folder-${process.pid}`, 'x');
    await makeFolder(dir);
    await makeFolder(dir); // already there: fine
    await rm(join(dir, '..'), { recursive: true });
  });
});
