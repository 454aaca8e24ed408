// A model is checked against the manifest exported beside it (issue 13): a
// bit flip in an initializer still parses and runs, and printed wrong numbers
// with exit 0 (an MNIST MLP eval'd at 47% instead of 98%). manifest.json
// records every file's size and sha256 at export. The check keys on the
// file's content, not its name (issue 23, item 9): a file beside a manifest
// is one of the files it lists, byte for byte, or it is refused. A tampered
// copy saved as model2.onnx no longer runs unchecked, nor takes the
// manifest's task. A model with no manifest beside it runs as before.
//
// The sha256 guards against corruption and accidental replacement. It is not
// a signature: whoever can change the model can change the manifest too.
import { basename, dirname, join } from 'node:path';
import { FormatError } from '../common/errors.js';
import { MANIFEST_FILE } from './files.js';
import { fileEntry, type Manifest, type ManifestFile } from './manifest.js';
import { manifestBeside } from './read-manifest.js';

/** What the check found: the file is one the manifest lists (under `as`), or there is no manifest to check against. */
export type Verification = { status: 'verified'; as: string; manifest: Manifest } | { status: 'no manifest' };

const SKIP = '--no-verify skips it';

/**
 * Check `bytes` (the contents of `modelPath`) against the manifest.json
 * beside it: verified when some file it lists has this size and sha256
 * (preferring the entry of the file's own name). A FormatError naming the
 * file, the manifest and `--no-verify` when none does (its own entry's
 * sha256 differs: changed after export; or no entry matches: another model),
 * or when the manifest is unreadable or lists no files.
 *
 * @example (await verifyModelBytes('exported/sine/model.onnx', bytes)).status // 'verified'
 */
export async function verifyModelBytes(modelPath: string, bytes: Uint8Array): Promise<Verification> {
  const path = manifestPathOf(modelPath);
  // No manifest.json, or someone else's JSON under that name: nothing of twnn's to check against.
  const manifest = await manifestBeside(modelPath, SKIP);
  if (!manifest) return { status: 'no manifest' };
  const files = Object.entries(manifest.files ?? {});
  if (files.length === 0) throw new FormatError(`${path}: lists no files to check ${modelPath} against (edited by hand?); ${SKIP}`);
  const actual = fileEntry(bytes);
  const own = basename(modelPath);
  const matching = files.filter(([, e]) => e.sha256 === actual.sha256 && e.bytes === actual.bytes).map(([name]) => name);
  if (matching.length > 0) return { status: 'verified', as: matching.includes(own) ? own : matching[0], manifest };
  const expected: ManifestFile | undefined = manifest.files[own];
  if (expected) {
    const size = actual.bytes === expected.bytes ? `same size, ${actual.bytes} bytes` : `${actual.bytes} bytes, exported as ${expected.bytes}`;
    throw new FormatError(
      `${modelPath}: does not match ${path} (sha256 ${actual.sha256.slice(0, 12)}…, recorded ${expected.sha256.slice(0, 12)}…; ${size}): ` +
        'the file changed after export (corrupted, or replaced without its manifest); refusing it (--no-verify uses it anyway)',
    );
  }
  throw new FormatError(
    `${modelPath}: is none of the files ${path} lists (${files.map(([name]) => name).join(', ')}; no sha256 matches ${actual.sha256.slice(0, 12)}…): ` +
      'a copy changed after export, or another model in an export folder; refusing it (--no-verify uses it anyway, without the manifest)',
  );
}

function manifestPathOf(modelPath: string): string {
  return join(dirname(modelPath), MANIFEST_FILE);
}
