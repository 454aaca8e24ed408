// The models committed under exported/ were trained by some version of twnn
// and keep that version's lowering. A user who deploys one should get what
// today's twnn makes of the same weights (the paper's MNIST ResNet once ran
// 3.3x slower for carrying an old lowering). This tool rebuilds each
// committed model from its graph file, its manifest's settings and its own
// weights, says which files differ, and with --write replaces them.
//
//   npx tsx tools/relower-committed.ts            # list the models whose files are stale
//   npx tsx tools/relower-committed.ts --write    # re-export them in place
//
// test/contract/committed-models.test.ts fails while any committed model is stale.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { JVP_FILE, MANIFEST_FILE, MODEL_FILE, SPECTRAL_FILE } from '../src/contract/files.js';
import { readManifestSync } from '../src/contract/read-manifest.js';
import { TwnnError } from '../src/common/errors.js';
import { exportModel } from '../src/lower/artifacts.js';
import { readInitializers, readModelFile } from '../src/onnx/load.js';
import { writeFilesAtomic } from '../src/common/files.js';
import type { ModelSpec } from '../src/twnn/spec.js';

const REPO = resolve(import.meta.dirname, '..');

/**
 * Every folder under `root` that holds a committed model: a model.onnx with
 * its manifest.json, sorted.
 *
 * @example committedModelDirs('exported') // ['exported/paper/mnist-mlp', ..., 'exported/sine', ...]
 */
export function committedModelDirs(root = join(REPO, 'exported')): string[] {
  const out: string[] = [];
  const visit = (dir: string) => {
    if (existsSync(join(dir, MODEL_FILE)) && existsSync(join(dir, MANIFEST_FILE))) out.push(dir);
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) visit(join(dir, e.name));
  };
  visit(root);
  return out.sort();
}

/** A committed model rebuilt by today's lowering: each of its folder's export files, fresh. */
export interface Relowered {
  dir: string;
  /** The graph file it was rebuilt from. */
  graph: string;
  /** The files of the folder that the export writes, by name, as today's twnn makes them. */
  files: Map<string, Uint8Array>;
  /** The names among them whose committed bytes differ. */
  stale: string[];
}

/**
 * Rebuild the model committed in `dir` from `graphs/<its name>.ts`, with its
 * manifest's dtype, seed, opset and optimizer and model.onnx's weights, and
 * compare it with what is committed (only the files the folder has).
 *
 * @example const r = await relower('exported/paper/mnist-resnet', loadSpec); r.stale // ['model.onnx', 'manifest.json']
 */
export async function relower(dir: string, loadSpec: (graphFile: string) => Promise<ModelSpec>): Promise<Relowered> {
  const manifest = readManifestSync(join(dir, MANIFEST_FILE));
  const graph = join(REPO, 'graphs', `${manifest.name}.ts`);
  if (!existsSync(graph)) throw new TwnnError(`${dir}: its model '${manifest.name}' has no graph file ${relative(REPO, graph)}`);
  const spec = await loadSpec(graph);
  const modelPath = join(dir, MODEL_FILE);
  const initializers = readInitializers(await readModelFile(modelPath), modelPath);
  const weights = new Map(manifest.params.map((p) => {
    const t = initializers.get(p.name);
    if (!t) throw new TwnnError(`${modelPath}: no initializer for its manifest's parameter '${p.name}'`);
    return [p.name, t] as const;
  }));
  const out = await mkdtemp(join(tmpdir(), 'twnn-relower-'));
  try {
    const dtype = manifest.dtype === 'float64' ? 'float64' : 'float32';
    // The optional graphs it was exported with (a run trained with --spectral lists spectral.onnx), so the manifest's file list matches.
    const optional = { jvp: JVP_FILE in manifest.files, spectral: SPECTRAL_FILE in manifest.files };
    await exportModel(spec, out, { dtype, seed: manifest.seed, opset: manifest.opset, optimizer: manifest.training.optimizer, weights, ...optional });
    const files = new Map<string, Uint8Array>();
    for (const name of readdirSync(out)) if (existsSync(join(dir, name))) files.set(name, new Uint8Array(await readFile(join(out, name))));
    const stale = [...files].filter(([name, bytes]) => !Buffer.from(bytes).equals(readFileSync(join(dir, name)))).map(([name]) => name);
    return { dir, graph: relative(REPO, graph), files, stale };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { write: { type: 'boolean', default: false }, root: { type: 'string' } } });
  const { loadModelSpec } = await import('../src/cli/graph-file.js');
  let stale = 0;
  for (const dir of committedModelDirs(values.root ? resolve(values.root) : undefined)) {
    const r = await relower(dir, loadModelSpec);
    const where = relative(REPO, dir);
    if (r.stale.length === 0) {
      console.log(`${where}: current`);
      continue;
    }
    stale++;
    if (values.write) await writeFilesAtomic(r.stale.map((name) => [join(dir, name), r.files.get(name)!] as const));
    console.log(`${where}: ${values.write ? 'rewrote' : 'stale:'} ${r.stale.join(', ')} (from ${r.graph})`);
  }
  if (stale > 0 && !values.write) process.exitCode = 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
