import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cifar10Files, loadCifar10 } from '../../src/data/cifar.js';
import { FormatError, TwnnError } from '../../src/common/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-cifar-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Records in the binary format: the label, then red, green, blue planes where pixel k of channel c is (label + 7c + k) % 256. */
function records(labels: number[]): Uint8Array {
  const out = new Uint8Array(labels.length * 3073);
  labels.forEach((label, r) => {
    out[r * 3073] = label;
    for (let k = 0; k < 3072; k++) out[r * 3073 + 1 + k] = (label + 7 * Math.floor(k / 1024) + k) % 256;
  });
  return out;
}

function pixel(label: number, c: number, k: number): number {
  const mean = [0.4914, 0.4822, 0.4465][c];
  const std = [0.247, 0.2435, 0.2616][c];
  return (((label + 7 * c + k) % 256) / 255 - mean) / std;
}

describe('CIFAR-10 binary batches', () => {
  const folder = mkdtempSync(join(dir, 'ok-'));
  cifar10Files('train').forEach((name, i) => writeFileSync(join(folder, name), records([i, 9 - i])));
  writeFileSync(join(folder, 'test_batch.bin'), records([3, 1, 4]));

  it('reads the five training batches in order, channel planes normalised', async () => {
    const train = await loadCifar10({ dir: folder, split: 'train', dtype: 'float64' });
    expect(train.x.shape).toEqual([10, 3, 32, 32]);
    expect(train.target.toNumbers()).toEqual([0, 9, 1, 8, 2, 7, 3, 6, 4, 5]);
    // Example 3 is the second record of data_batch_2 (label 8).
    for (const [c, k] of [[0, 0], [1, 5], [2, 1023], [2, 500]]) expect(train.x.get(3 * 3072 + c * 1024 + k)).toBeCloseTo(pixel(8, c, k), 12);
  });

  it('reads the test batch, with a limit', async () => {
    const test = await loadCifar10({ dir: folder, split: 'test', limit: 2 });
    expect(test.name).toBe('cifar10/test');
    expect(test.x.dtype).toBe('float32');
    expect(test.target.toNumbers()).toEqual([3, 1]);
    expect(test.x.get(1 * 3072 + 2048 + 10)).toBeCloseTo(pixel(1, 2, 10), 6);
  });

  it('says where it looked when the batches are missing', async () => {
    const empty = mkdtempSync(join(dir, 'empty-'));
    const err = await loadCifar10({ dir: empty, split: 'test' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TwnnError);
    expect((err as Error).message).toContain(`${join(empty, 'test_batch.bin')} (no such file)`);
    expect((err as Error).message).toContain('does not download CIFAR-10');
  });

  it('rejects a torn batch and a bad label with a FormatError naming the file', async () => {
    const torn = mkdtempSync(join(dir, 'torn-'));
    writeFileSync(join(torn, 'test_batch.bin'), records([1, 2]).subarray(0, 5000));
    await expect(loadCifar10({ dir: torn, split: 'test' })).rejects.toThrow(FormatError);
    await expect(loadCifar10({ dir: torn, split: 'test' })).rejects.toThrow(`${join(torn, 'test_batch.bin')}: not a CIFAR-10 binary batch: 5000 bytes`);
    const bad = mkdtempSync(join(dir, 'bad-'));
    writeFileSync(join(bad, 'test_batch.bin'), records([1, 12]));
    await expect(loadCifar10({ dir: bad, split: 'test' })).rejects.toThrow(/test_batch\.bin: label 12 of record 1 is outside 0\.\.9/);
  });
});
