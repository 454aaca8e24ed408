// CIFAR-10 from the standard binary batches a user supplies (no registry here
// ships them; docs/DESIGN.md §5): `data_batch_1.bin` .. `data_batch_5.bin` (train) and
// `test_batch.bin` (test), each a run of 3073-byte records: the label byte
// (0..9), then the 32×32 red, green and blue planes, row-major.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError, TwnnError } from '../common/errors.js';
import { Tensor } from '../ir/tensor.js';
import { makeDataset, type Dataset } from './batches.js';

const SIDE = 32;
const PLANE = SIDE * SIDE;
const RECORD = 1 + 3 * PLANE;
export const CIFAR10_CLASSES = 10;
/** Per-channel mean and standard deviation of the training pixels in [0, 1]. */
export const CIFAR10_MEAN = [0.4914, 0.4822, 0.4465] as const;
export const CIFAR10_STD = [0.247, 0.2435, 0.2616] as const;

export interface CifarOptions {
  /** The folder holding the .bin batches (e.g. `cifar-10-batches-bin/`). */
  dir: string;
  split: 'train' | 'test';
  dtype?: 'float32' | 'float64';
  /** Keep only the first `limit` examples. */
  limit?: number;
}

/** The batch files of a split. @example cifar10Files('test') // ['test_batch.bin'] */
export function cifar10Files(split: 'train' | 'test'): string[] {
  return split === 'test' ? ['test_batch.bin'] : [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
}

/**
 * Load one CIFAR-10 split: `x` `[N, 3, 32, 32]` normalised per channel as
 * `(p/255 − mean) / std`, `target` int64 `[N]`. A missing file says where it
 * was looked for; a file that is not whole records, or a label outside 0..9,
 * is a FormatError naming the file.
 *
 * @example
 * const test = await loadCifar10({ dir: 'data/cifar-10-batches-bin', split: 'test' });
 * test.x.shape // [10000, 3, 32, 32]
 */
export async function loadCifar10(options: CifarOptions): Promise<Dataset> {
  const chunks: Uint8Array[] = [];
  for (const name of cifar10Files(options.split)) {
    const path = join(options.dir, name);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(path));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new TwnnError(
        `CIFAR-10: cannot read ${path} (${code === 'ENOENT' ? 'no such file' : (err as Error).message}); ` +
          'twnn does not download CIFAR-10: put the binary version\'s batches (cifar-10-batches-bin) in that folder',
      );
    }
    if (bytes.length === 0 || bytes.length % RECORD !== 0) {
      throw new FormatError(`${path}: not a CIFAR-10 binary batch: ${bytes.length} bytes is not a whole number of ${RECORD}-byte records`);
    }
    chunks.push(bytes);
  }
  const total = chunks.reduce((s, c) => s + c.length / RECORD, 0);
  const n = Math.min(total, options.limit ?? Infinity);
  const dtype = options.dtype ?? 'float32';
  const x = dtype === 'float32' ? new Float32Array(n * 3 * PLANE) : new Float64Array(n * 3 * PLANE);
  const target = new BigInt64Array(n);
  const tables = [0, 1, 2].map((c) => Array.from({ length: 256 }, (_, p) => (p / 255 - CIFAR10_MEAN[c]) / CIFAR10_STD[c]));
  let i = 0;
  for (const [f, chunk] of chunks.entries()) {
    for (let r = 0; r < chunk.length / RECORD && i < n; r++, i++) {
      const at = r * RECORD;
      const label = chunk[at];
      if (label >= CIFAR10_CLASSES) throw new FormatError(`${join(options.dir, cifar10Files(options.split)[f])}: label ${label} of record ${r} is outside 0..9`);
      target[i] = BigInt(label);
      for (let k = 0; k < 3 * PLANE; k++) x[i * 3 * PLANE + k] = tables[Math.floor(k / PLANE)][chunk[at + 1 + k]];
    }
  }
  return makeDataset(`cifar10/${options.split}`, new Tensor(dtype, [n, 3, SIDE, SIDE], x), new Tensor('int64', [n], target));
}
