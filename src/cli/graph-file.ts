// Loading a graph file (`twnn build g.ts`, `twnn train g.ts`): a `.ts`, `.mts`,
// `.cts`, `.js`, `.mjs` or `.cjs` file anywhere, in an ESM or a CommonJS scope
// (or with no package.json above it), whose default export (or, in CommonJS,
// `module.exports`) is `defineModel({...})`.
//
// The file's own scope decides ESM or CommonJS, as Node would: an ES module is
// imported through the CLI's tsx loader, a CommonJS one required through tsx's
// require hook (importing a CommonJS-scoped .ts made it require() itself in a
// cycle: ERR_REQUIRE_CYCLE_MODULE). A bare `twnn` always resolves to the very
// modules of the twnn that runs the command, installed beside the graph or not:
// one instance, so its errors, registries and region bookkeeping are the CLI's
// own (a second copy, say a project's node_modules/twnn or tsx's namespaced
// tsImport, builds regions whose bookkeeping the CLI cannot see). A file that fails to load
// is a user error naming the file, the line where the stack gives one, and the
// cause; never an internal error.
import { existsSync, readFileSync, writeSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import Module, { createRequire, register } from 'node:module';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { register as registerCjs } from 'tsx/cjs/api';
import { SpecError, TwnnError } from '../common/errors.js';
import { isModelSpec, type ModelSpec } from '../twnn/spec.js';
import { EXIT_USAGE } from './errors.js';

/** Node's exit code for a top-level await left pending when nothing is left to run. */
const UNSETTLED_AWAIT = 13;

const GRAPH_EXTENSIONS = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'];
/** The running twnn's public API, what a graph file's `twnn` imports. */
const OWN_ENTRY = new URL('../index.js', import.meta.url);

/**
 * Import a graph file and return its model.
 *
 * @example const spec = await loadModelSpec('graphs/sine-mlp.ts');
 */
export async function loadModelSpec(graphFile: string): Promise<ModelSpec> {
  const abs = resolve(graphFile);
  try {
    if (!(await stat(abs)).isFile()) throw new TwnnError(`${graphFile}: not a file`);
  } catch (err) {
    if (err instanceof TwnnError) throw err;
    throw new TwnnError(`${graphFile}: cannot read graph file (no such file)`);
  }
  if (!GRAPH_EXTENSIONS.includes(extname(abs))) {
    throw new TwnnError(`${graphFile}: a graph file is TypeScript or JavaScript (${GRAPH_EXTENSIONS.join(', ')}), got '${extname(abs) || 'no extension'}'`);
  }
  await trialLoad(graphFile, abs);
  resolveOwnPackage();
  let mod: Record<string, unknown>;
  // The process can end in the middle of this import two ways, silently unless we say so on the way
  // out: a top-level await that never settles leaves node nothing to run (it sets exit code 13), or
  // the file calls process.exit itself (issue 23, item 14: that was blamed on a top-level await).
  const neverSettled = (code: number) => {
    const why = process.exitCode === UNSETTLED_AWAIT ? 'its top-level await never settles (it waits on something that never happens)' : `it called process.exit(${code}) while loading`;
    writeSync(2, `twnn: error: ${graphFile}: cannot load the graph file: ${why}\n`);
    process.exitCode = EXIT_USAGE;
  };
  process.once('exit', neverSettled);
  try {
    mod = await importGraphModule(abs);
  } catch (err) {
    throw loadError(graphFile, abs, err);
  } finally {
    process.off('exit', neverSettled);
  }
  const spec = defaultExport(mod);
  if (!isModelSpec(spec)) {
    const got = spec === undefined ? 'no default export' : `a default export of type ${typeof spec}`;
    throw new TwnnError(`${graphFile}: expected the default export to be a model (export default defineModel({...})), found ${got}`);
  }
  return spec;
}

/** Import (ESM) or require (CommonJS) a graph file, as Node would load it from its own scope. */
async function importGraphModule(abs: string): Promise<Record<string, unknown>> {
  return isCommonJs(abs) ? await requireCommonJs(abs) : ((await import(pathToFileURL(abs).href)) as Record<string, unknown>);
}

/**
 * What the trial worker runs: this module's own loading, with nothing checked
 * about the result (the real load says what is wrong with it).
 *
 * @example await loadForTrial('/abs/g.ts');
 */
export async function loadForTrial(abs: string): Promise<void> {
  resolveOwnPackage();
  await importGraphModule(abs);
}

// Issue 23, item 5: a graph file that allocates without end makes V8 abort the process (exit 134,
// a native stack dump), and nothing in JavaScript can catch it. A worker thread with the main heap's
// own limit can run out of memory without taking the process with it, so the file is first loaded
// there; only when that trial ran out of memory is it an error here. Any other failure is left to
// the real load below, whose messages name the line. The price: the file's top-level code runs
// twice (its output in the trial is discarded), about half a second for a checkout's graphs.
const TRIAL_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const { register } = await import(workerData.tsx);
  register();
  const { loadForTrial } = await import(workerData.loader);
  await loadForTrial(workerData.file);
})().then(() => parentPort.postMessage('loaded'), () => parentPort.postMessage('failed'));
`;

/**
 * tsx's ESM API as a URL the worker can import. Node has import.meta.resolve; vitest's module
 * runner does not, and require's resolution gives the CommonJS build, whose register() fails to
 * find its hooks from a worker, so there the ESM build beside it is taken.
 */
function tsxEsmApi(): string {
  if (typeof import.meta.resolve === 'function') return import.meta.resolve('tsx/esm/api');
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
}

/** Load the graph file in a heap-limited worker; a TwnnError when it ran out of memory there. */
async function trialLoad(graphFile: string, abs: string): Promise<void> {
  const heapMiB = Math.floor(getHeapStatistics().heap_size_limit / 2 ** 20);
  const worker = new Worker(TRIAL_WORKER, {
    eval: true,
    workerData: { tsx: tsxEsmApi(), loader: import.meta.url, file: abs },
    resourceLimits: { maxOldGenerationSizeMb: heapMiB },
    stdout: true,
    stderr: true,
  });
  worker.stdout.resume();
  worker.stderr.resume();
  const outOfMemory = await new Promise<boolean>((done) => {
    worker.once('message', () => void worker.terminate().then(() => done(false)));
    worker.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ERR_WORKER_OUT_OF_MEMORY'));
    worker.once('exit', () => done(false));
  });
  if (outOfMemory) {
    throw new TwnnError(`${graphFile}: cannot load the graph file: it ran out of memory (its top-level code used more than the ${heapMiB} MiB JavaScript heap limit; node's --max-old-space-size sets it)`);
  }
}

/**
 * Run `work` on the model a graph file defined, naming the file in the spec
 * errors it raises (a layer's sizes, a parameter too large): the file is
 * where the user fixes them.
 *
 * @example await fromGraphFile('g.ts', () => exportModel(spec, out));
 */
export async function fromGraphFile<T>(graphFile: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof SpecError && !err.message.startsWith(`${graphFile}: `)) throw new SpecError(`${graphFile}: ${err.message}`);
    throw err;
  }
}

/** ESM's `default`; a CommonJS file's `module.exports`, or its compiled `exports.default`. */
function defaultExport(mod: Record<string, unknown>): unknown {
  const d = mod.default;
  if (isModelSpec(d)) return d;
  if (d && typeof d === 'object' && 'default' in d) return (d as { default: unknown }).default;
  return d;
}

/** `file:line: cause`, the line being the first stack frame in the graph file (where there is one). */
function loadError(graphFile: string, abs: string, err: unknown): TwnnError {
  const stack = err instanceof Error ? (err.stack ?? '') : '';
  const url = pathToFileURL(abs).href;
  const frame = stack.split('\n').find((l) => l.includes(url) || l.includes(abs));
  const line = frame?.match(/:(\d+):\d+\)?\s*$/)?.[1];
  // twnn's own errors (a misspelt option, a layer's sizes) are already the message; the line says where.
  if (err instanceof TwnnError) return new TwnnError(`${graphFile}${line ? `:${line}` : ''}: ${err.message}`);
  // esbuild (through tsx) reports a syntax error as "Transform failed with 1 error:\n<file>:<line>:<col>: ERROR: <text>".
  const transform = err instanceof Error ? err.message.match(/:(\d+):\d+: ERROR: (.*)/) : null;
  if (transform) return new TwnnError(`${graphFile}:${transform[1]}: cannot load the graph file: syntax error: ${transform[2]}`);
  const cause =
    err instanceof Error
      ? `${err.name === 'Error' ? '' : `${err.name}: `}${firstLine(err.message)}`
      : `it threw ${typeof err === 'string' ? JSON.stringify(err) : String(err)}`;
  return new TwnnError(`${graphFile}${line ? `:${line}` : ''}: cannot load the graph file: ${cause}`);
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}

let hooked = false;
/** The require.cache id under which CommonJS graph files find the running twnn's ES module namespace. */
const OWN_CJS_ID = fileURLToPath(new URL('../index.twnn-cli.cjs', import.meta.url));

/**
 * Whether Node would load `file` as CommonJS: .cjs/.cts, or .js/.ts whose
 * nearest package.json does not say `"type": "module"` (or that has none).
 */
function isCommonJs(file: string): boolean {
  const ext = extname(file);
  if (ext === '.cjs' || ext === '.cts') return true;
  if (ext === '.mjs' || ext === '.mts') return false;
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        return (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: unknown }).type !== 'module';
      } catch {
        return true;
      }
    }
    if (dirname(dir) === dir) return true;
  }
}

/** Require a CommonJS graph file, its `require('twnn')` served the running twnn's own module namespace. */
async function requireCommonJs(file: string): Promise<Record<string, unknown>> {
  const cache = (Module as unknown as { _cache: Record<string, unknown> })._cache;
  if (!cache[OWN_CJS_ID]) {
    const own = await import(OWN_ENTRY.href);
    cache[OWN_CJS_ID] = { id: OWN_CJS_ID, filename: OWN_CJS_ID, loaded: true, exports: own, children: [], paths: [] };
  }
  return { default: createRequire(file)(file) as unknown };
}

/**
 * Resolve a bare `twnn` to the running twnn: for ESM through a module hook,
 * for CommonJS through Module._resolveFilename (which module hooks do not
 * reach in Node 20).
 */
function resolveOwnPackage(): void {
  if (hooked) return;
  hooked = true;
  const entry = OWN_ENTRY.href;
  const hooks = `
    export async function resolve(specifier, context, next) {
      return next(specifier === 'twnn' ? ${JSON.stringify(entry)} : specifier, context);
    }`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`);
  registerCjs();
  const cjs = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const original = cjs._resolveFilename;
  // The running twnn's entry reached by a path (a CommonJS graph that imports a repository graph,
  // whose `../src/index.js` tsx then requires) is the same one instance: a second copy's ops have
  // no VJP rules in the CLI's table ("Tanh ... has no VJP rule").
  const ownEntry = fileURLToPath(OWN_ENTRY);
  const ownEntries = new Set([ownEntry, ownEntry.replace(/\.js$/, '.ts')]);
  cjs._resolveFilename = function (request: string, ...rest: unknown[]) {
    if (request === 'twnn') return OWN_CJS_ID;
    const resolved = original.call(this, request, ...rest);
    return ownEntries.has(resolved) ? OWN_CJS_ID : resolved;
  };
}
