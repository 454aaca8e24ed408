// Writing files under faults (issue 13, items 6 and 7): a full disk or a
// read-only folder names the path and the real cause and leaves the folder as
// it was (all or nothing); a symbolic link keeps pointing at the file it names;
// a FIFO (like /dev/stdout) is written through, not replaced by a regular file.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { writeFileAtomic, writeFilesAtomic } from '../../src/common/files.js';

vi.mock('node:fs/promises', async (original) => {
  const real = await original<typeof import('node:fs/promises')>();
  return { ...real, writeFile: vi.fn(real.writeFile) };
});

const root = mkdtempSync(join(tmpdir(), 'twnn-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const real = await vi.importActual<typeof import('node:fs/promises')>('node:fs/promises');
afterEach(() => vi.mocked(fsp.writeFile).mockImplementation(real.writeFile));

/** Make every write whose path contains `part` fail like the kernel would, with `code`. */
function failWritesTo(part: string, code: string): void {
  vi.mocked(fsp.writeFile).mockImplementation(async (path, data, options) => {
    if (String(path).includes(part)) throw Object.assign(new Error(`${code}: failed, write`), { code, syscall: 'write' });
    return real.writeFile(path, data, options);
  });
}

describe('writeFilesAtomic', () => {
  it('on a full disk names the path and leaves every target as it was, with no temp files', async () => {
    const dir = join(root, 'full');
    mkdirSync(dir);
    writeFileSync(join(dir, 'model.onnx'), 'old model');
    failWritesTo('grad.onnx', 'ENOSPC');
    const write = writeFilesAtomic([[join(dir, 'model.onnx'), 'new model'], [join(dir, 'grad.onnx'), 'new grad'], [join(dir, 'manifest.json'), '{}']]);
    await expect(write).rejects.toThrow(`cannot write ${join(dir, 'grad.onnx')}: no space left on the device (ENOSPC)`);
    expect(readdirSync(dir)).toEqual(['model.onnx']);
    expect(readFileSync(join(dir, 'model.onnx'), 'utf8')).toBe('old model');
  });

  it('on a read-only file system says so (not "no such file")', async () => {
    const dir = join(root, 'readonly');
    failWritesTo('readonly', 'EROFS');
    await expect(writeFileAtomic(join(dir, 'm.onnx'), 'x')).rejects.toThrow(`cannot write ${join(dir, 'm.onnx')}: read-only file system (EROFS)`);
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
  });

  it('writes them all when nothing fails', async () => {
    const dir = join(root, 'ok');
    await writeFilesAtomic([[join(dir, 'a'), 'A'], [join(dir, 'b'), 'B']]);
    expect(readdirSync(dir).sort()).toEqual(['a', 'b']);
  });
});

describe('writeFileAtomic on paths that are not plain files', () => {
  it('follows a symbolic link: the link stays, its target gets the contents', async () => {
    const target = join(root, 'real.npy');
    writeFileSync(target, 'old');
    const link = join(root, 'link.npy');
    symlinkSync(target, link);
    await writeFileAtomic(link, 'new');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe('new');
  });

  it('writes through a FIFO instead of replacing it with a regular file', async () => {
    const fifo = join(root, 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const reader = spawn('cat', [fifo]);
    let read = '';
    reader.stdout.on('data', (d: Buffer) => (read += d.toString()));
    const done = new Promise((r) => reader.on('close', r));
    await writeFileAtomic(fifo, 'through the pipe');
    await done;
    expect(read).toBe('through the pipe');
    expect(statSync(fifo).isFIFO()).toBe(true);
  });

  it('refuses a directory', async () => {
    await expect(writeFileAtomic(root, 'x')).rejects.toThrow(`cannot write ${root}: is a directory`);
  });
});
