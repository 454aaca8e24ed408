// A model is checked against the manifest exported beside it (issue 13): a
// bit flip in an initializer still parses and runs, and printed wrong numbers
// with exit 0 (an MNIST MLP eval'd at 47% instead of 98%). manifest.json
// records every file's size and sha256 at export; a file that no longer
// matches is refused, naming both. A model without a manifest, or one the
// manifest does not list, runs as before.
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { FormatError } from '../ir/index.js';
import { fileEntry, type ManifestFile } from './manifest.js';
import { MANIFEST_FILE } from './files.js';

/** What the check found: the file matched its manifest entry, or there was nothing to check against. */
export type Verification = 'verified' | 'no manifest' | 'not listed';

/**
 * Check `bytes` (the contents of `modelPath`) against the sha256 that the
 * manifest.json beside it records; a FormatError naming the file, the
 * manifest and `--no-verify` when they differ, or when the manifest is not
 * readable JSON.
 *
 * @example await verifyModelBytes('exported/sine/model.onnx', bytes); // 'verified'
 */
export async function verifyModelBytes(modelPath: string, bytes: Uint8Array): Promise<Verification> {
  const expected = await manifestEntry(modelPath);
  if (expected === 'no manifest' || expected === 'not listed') return expected;
  const actual = fileEntry(bytes);
  if (actual.sha256 !== expected.sha256) {
    const size = actual.bytes === expected.bytes ? `same size, ${actual.bytes} bytes` : `${actual.bytes} bytes, exported as ${expected.bytes}`;
    throw new FormatError(
      `${modelPath}: does not match ${manifestPathOf(modelPath)} (sha256 ${actual.sha256.slice(0, 12)}…, recorded ${expected.sha256.slice(0, 12)}…; ${size}): ` +
        'the file changed after export (corrupted, or replaced without its manifest); refusing it (--no-verify uses it anyway)',
    );
  }
  return 'verified';
}

/**
 * The manifest entry (size and sha256) recorded for `modelPath`, or why there is none.
 *
 * @example const entry = await manifestEntry('exported/sine/model.onnx'); // { bytes, sha256 }
 */
export async function manifestEntry(modelPath: string): Promise<ManifestFile | 'no manifest' | 'not listed'> {
  const path = manifestPathOf(modelPath);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'no manifest';
    throw new FormatError(`${path}: cannot read the manifest beside ${modelPath} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'}); --no-verify skips it`);
  }
  let files: unknown;
  try {
    files = (JSON.parse(text) as { files?: unknown }).files;
  } catch {
    throw new FormatError(`${path}: the manifest beside ${modelPath} is not valid JSON (corrupted?); --no-verify skips it`);
  }
  const entry = typeof files === 'object' && files !== null ? (files as Record<string, unknown>)[basename(modelPath)] : undefined;
  if (entry === undefined) return 'not listed';
  const { bytes, sha256 } = entry as Partial<ManifestFile>;
  if (typeof bytes !== 'number' || typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) {
    throw new FormatError(`${path}: files['${basename(modelPath)}'] must be { bytes, sha256 } (corrupted?); --no-verify skips it`);
  }
  return { bytes, sha256 };
}

function manifestPathOf(modelPath: string): string {
  return join(dirname(modelPath), MANIFEST_FILE);
}
