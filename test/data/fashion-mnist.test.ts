// Fashion-MNIST (issue 14, part 1): the real gzipped IDX files from Debian's
// dataset-fashion-mnist, or a folder the task names; a clear error naming the
// package when they are missing.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTaskData } from '../../src/data/datasets.js';
import { encodeIdx } from '../helpers/idx.js';
import { FASHION_MNIST_DIR, FASHION_MNIST_MEAN, FASHION_MNIST_STD } from '../../src/data/mnist.js';
import { checkTask } from '../../src/twnn/task.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-fashion-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('fashion-mnist data', () => {
  it("reads Debian's gzipped test split: 10000 images, 1000 of each class, normalised pixels", async () => {
    const test = await loadTaskData({ kind: 'fashion-mnist', layout: 'image' }, 'test');
    expect(test.name).toBe('fashion-mnist/test');
    expect(test.x.shape).toEqual([10000, 1, 28, 28]);
    const counts = new Array(10).fill(0);
    for (const label of test.target.toNumbers()) counts[label]++;
    expect(counts).toEqual(new Array(10).fill(1000));
    const x = test.x.data as Float32Array;
    const mean = x.reduce((s, v) => s + v, 0) / x.length;
    // The training split's statistics normalise the test split to about zero mean, unit spread.
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.min(...x.subarray(0, 784))).toBeCloseTo(-FASHION_MNIST_MEAN / FASHION_MNIST_STD, 5);
  });

  it('reads a folder the task names, flat layout', async () => {
    const dir = join(root, 'small');
    mkdirSync(dir);
    const images = Uint8Array.from({ length: 3 * 784 }, (_, i) => i % 256);
    writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), gzipSync(encodeIdx({ type: 'uint8', shape: [3, 28, 28], data: images })));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(encodeIdx({ type: 'uint8', shape: [3], data: Uint8Array.of(9, 0, 4) })));
    const test = await loadTaskData({ kind: 'fashion-mnist', layout: 'flat', dir }, 'test');
    expect(test.x.shape).toEqual([3, 784]);
    expect(test.target.toNumbers()).toEqual([9, 0, 4]);
    expect((test.x.data as Float32Array)[1]).toBeCloseTo((1 / 255 - FASHION_MNIST_MEAN) / FASHION_MNIST_STD, 6);
  });

  it('names the Debian package when the files are missing, and a truncated gzip as such', async () => {
    await expect(loadTaskData({ kind: 'fashion-mnist', layout: 'image', dir: join(root, 'nowhere') }, 'test')).rejects.toThrow(
      /Fashion-MNIST: .*nowhere\/t10k-images-idx3-ubyte\.gz is missing; install Debian's package \(apt-get install dataset-fashion-mnist\)/,
    );
    const dir = join(root, 'torn');
    mkdirSync(dir);
    writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), gzipSync(encodeIdx({ type: 'uint8', shape: [1, 28, 28], data: new Uint8Array(784) })).subarray(0, 20));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(encodeIdx({ type: 'uint8', shape: [1], data: Uint8Array.of(1) })));
    await expect(loadTaskData({ kind: 'fashion-mnist', layout: 'image', dir }, 'test')).rejects.toThrow(/t10k-images-idx3-ubyte\.gz: a gzip file that does not decompress/);
    expect(FASHION_MNIST_DIR).toBe('/usr/share/datasets/fashion-mnist');
  });

  it('is checked in a task: the input shape, the layout, unknown keys', () => {
    expect(checkTask('m', { data: { kind: 'fashion-mnist', layout: 'image' } }, ['B', 1, 28, 28])).toEqual({ data: { kind: 'fashion-mnist', layout: 'image' } });
    expect(() => checkTask('m', { data: { kind: 'fashion-mnist', layout: 'flat' } }, ['B', 1, 28, 28])).toThrow(/fashion-mnist 'flat' are \[B,784\]/);
    expect(() => checkTask('m', { data: { kind: 'fashion-mnist', layout: 'image', folder: 'x' } }, ['B', 1, 28, 28])).toThrow(/unknown option 'folder'/);
  });
});
