// Installs onnxruntime-node's CUDA execution provider from the npm registry:
//
//   npm run cuda:install [-- --target DIR] [-- --cache DIR] [-- --remove]
//
// onnxruntime-node's own installer downloads CUDA 12 builds from a feed many
// machines cannot reach (the project's .npmrc skips it). The same libraries,
// ONNX Runtime 1.29.0's CUDA and shared providers built for CUDA 13, are in
// the npm package com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9. This
// fetches it once with `npm pack` into a cache (TWNN_CUDA_CACHE, default
// ~/.cache/twnn-cuda), checks its sha512 against the integrity pinned below,
// copies the two libraries beside onnxruntime-node's binding (temp file, then
// rename; a second run changes nothing), and says whether the CUDA 13
// libraries they load can be found, and how to set LD_LIBRARY_PATH if not.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { TwnnError } from '../src/common/errors.js';
import { checkCudaLibraries, cudaOnDemandNote, cudaProblem, type CudaLibraries } from '../src/runtime/cuda.js';
import { CUDA_PROVIDER_LIBRARIES, ortNativeDir } from '../src/runtime/device.js';

/** The package holding ONNX Runtime 1.29.0's CUDA 13 provider libraries. */
export const PROVIDER_PACKAGE = { name: 'com.github.asus4.onnxruntime.linux-x64-gpu', version: '0.4.9' } as const;
/** Its tarball's integrity, checked once against `npm view <package>@0.4.9 dist.integrity` and pinned here. */
export const PROVIDER_INTEGRITY = 'sha512-FopIhNE/Ng+v2X65wVc9clPCBCvhvA53Hxo2U0Kf5fGdVsC7iCA+mZ0KLWggcQAj7TIZ6pNidR4AC10g74Xo6w==';
/** The onnxruntime-node version these libraries belong to (the provider ABI is per version). */
export const PROVIDER_ORT_VERSION = '1.29.0';
/** Where the Linux x64 libraries sit inside the tarball. */
export const PACKAGE_LIBRARY_DIR = 'package/Plugins/Linux/x64';

/** npm error codes that mean the registry could not be reached. */
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN', 'ERR_SOCKET_TIMEOUT', 'ENOTCACHED', 'EPROXY']);

/** Everything the install touches, injectable so tests run it on temp folders and fake packages. */
export interface InstallOptions {
  /** Download cache (default: TWNN_CUDA_CACHE, else ~/.cache/twnn-cuda). */
  cacheDir?: string;
  /** Where the libraries go (default: onnxruntime-node's native directory). */
  targetDir?: string;
  package?: { name: string; version: string };
  integrity?: string;
  /** The installed onnxruntime-node's version (default: read from its package.json). */
  ortVersion?: string;
  /** The npm executable (default `npm`). */
  npm?: string;
  /** Environment for npm (tests point it at an unreachable registry). */
  env?: NodeJS.ProcessEnv;
  /** Progress lines (default: stdout). */
  log?: (line: string) => void;
}

/** One library copied (or found already in place). */
export interface InstalledLibrary {
  name: string;
  path: string;
  action: 'copied' | 'unchanged';
}

export interface InstallResult {
  tarball: string;
  downloaded: boolean;
  installed: InstalledLibrary[];
  /** The CUDA libraries the installed provider loads, and where they are. */
  libraries: CudaLibraries;
  /** Why the CUDA EP will not load yet (with the fix), or undefined. */
  problem?: string;
}

/**
 * Fetch (or reuse), verify and install the CUDA EP libraries, then check the
 * CUDA libraries they need. Throws a one-line TwnnError for anything that
 * stops the install (no network, integrity mismatch, wrong package,
 * onnxruntime-node missing or of another version).
 *
 * @example
 * const result = await installCudaProvider({ targetDir: '/tmp/ort-native' });
 * if (result.problem) console.log(result.problem); // e.g. 'libcublas.so.13 ... not found; install CUDA 13 ...'
 */
export async function installCudaProvider(options: InstallOptions = {}): Promise<InstallResult> {
  const pkg = options.package ?? PROVIDER_PACKAGE;
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const targetDir = options.targetDir ?? ortNativeDir();
  const ortVersion = options.ortVersion ?? installedOrtVersion();
  if (ortVersion !== PROVIDER_ORT_VERSION) {
    throw new TwnnError(
      `these CUDA EP libraries are ONNX Runtime ${PROVIDER_ORT_VERSION}'s but onnxruntime-node is ${ortVersion}: ` +
        `pin onnxruntime-node ${PROVIDER_ORT_VERSION}, or install its own CUDA 12 build with ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node`,
    );
  }
  if (!existsSync(join(targetDir, 'libonnxruntime.so.1'))) {
    throw new TwnnError(`${targetDir}: not onnxruntime-node's native directory (no libonnxruntime.so.1 there); run 'npm ci' first`);
  }
  const cacheDir = options.cacheDir ?? defaultCacheDir(options.env);
  await mkdir(cacheDir, { recursive: true });
  const { path: tarball, downloaded } = await fetchTarball(pkg, cacheDir, options.integrity ?? PROVIDER_INTEGRITY, options);
  log(`package   ${pkg.name}@${pkg.version}: ${tarball} (${downloaded ? 'downloaded' : 'cached'}, integrity ok)`);
  const libDir = await extractLibraries(tarball, options.integrity ?? PROVIDER_INTEGRITY, cacheDir, `${pkg.name}-${pkg.version}`);
  const installed = await installLibraries(libDir, targetDir);
  for (const l of installed) log(`installed ${l.path} (${l.action === 'copied' ? 'copied' : 'already there, unchanged'})`);
  const libraries = checkCudaLibraries({ nativeDir: targetDir, ...(options.env ? { env: options.env } : {}) });
  const problem = cudaProblem(libraries);
  return { tarball, downloaded, installed, libraries, ...(problem ? { problem } : {}) };
}

/** TWNN_CUDA_CACHE, else ~/.cache/twnn-cuda. @example defaultCacheDir({}) // '/root/.cache/twnn-cuda' */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TWNN_CUDA_CACHE || join(homedir(), '.cache', 'twnn-cuda');
}

function installedOrtVersion(): string {
  const require = createRequire(import.meta.url);
  try {
    return (JSON.parse(readFileSync(require.resolve('onnxruntime-node/package.json'), 'utf8')) as { version: string }).version;
  } catch {
    throw new TwnnError("onnxruntime-node is not installed; run 'npm ci' first");
  }
}

/**
 * The package tarball in `cacheDir`, verified: the cached one when its
 * integrity matches, else a fresh `npm pack` (into a temp folder, verified,
 * then renamed into place). A cached tarball that does not match is deleted
 * and downloaded again; a downloaded one that does not match is an error.
 *
 * @example const { path } = await fetchTarball(PROVIDER_PACKAGE, cacheDir, PROVIDER_INTEGRITY);
 */
export async function fetchTarball(
  pkg: { name: string; version: string },
  cacheDir: string,
  integrity: string,
  options: Pick<InstallOptions, 'npm' | 'env'> = {},
): Promise<{ path: string; downloaded: boolean }> {
  const path = join(cacheDir, tarballName(pkg));
  if (existsSync(path)) {
    if ((await fileIntegrity(path)) === integrity) return { path, downloaded: false };
    await rm(path, { force: true });
  }
  const tmp = join(cacheDir, `.pack-${randomBytes(6).toString('hex')}`);
  await mkdir(tmp, { recursive: true });
  try {
    const packed = await npmPack(`${pkg.name}@${pkg.version}`, tmp, options);
    await verifyIntegrity(packed, integrity);
    await rename(packed, path);
    return { path, downloaded: true };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The file name `npm pack` gives a package's tarball. @example tarballName({ name: '@a/b', version: '1.0.0' }) // 'a-b-1.0.0.tgz' */
export function tarballName(pkg: { name: string; version: string }): string {
  return `${pkg.name.replace(/^@/, '').replace(/\//g, '-')}-${pkg.version}.tgz`;
}

/**
 * `npm pack <spec>` into `dir` (npm's own cache is tried first), returning the
 * tarball's path. An unreachable registry is a one-line error that says so.
 */
async function npmPack(spec: string, dir: string, options: Pick<InstallOptions, 'npm' | 'env'>): Promise<string> {
  const npm = options.npm ?? 'npm';
  const r = await run(npm, ['pack', spec, '--json', '--prefer-offline', '--pack-destination', dir], dir, options.env ?? process.env);
  if (r.error) throw new TwnnError(`cannot run '${npm}' to download ${spec}: ${r.error.message}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.stdout);
  } catch {
    parsed = undefined;
  }
  const error = (parsed as { error?: { code?: string; summary?: string } } | undefined)?.error;
  if (r.status !== 0 || error) {
    const code = error?.code ?? /npm error code (\S+)/.exec(r.stderr)?.[1] ?? `exit status ${r.status}`;
    const summary = (error?.summary ?? r.stderr.split('\n').find((l) => l.trim() !== '') ?? '').replace(/\s+/g, ' ').trim();
    if (NETWORK_ERRORS.has(code)) {
      throw new TwnnError(
        `cannot download ${spec}: the npm registry cannot be reached (${code}: ${summary}); no network? ` +
          `On a machine with network, 'npm pack ${spec}' and copy the .tgz into the cache folder (TWNN_CUDA_CACHE), then run this again`,
      );
    }
    if (code === 'E404') throw new TwnnError(`cannot download ${spec}: the registry has no such package (${summary})`);
    throw new TwnnError(`npm pack ${spec} failed (${code}): ${summary}`);
  }
  const entries = readdirSync(dir).filter((f) => f.endsWith('.tgz'));
  if (entries.length !== 1) throw new TwnnError(`npm pack ${spec} wrote ${entries.length} tarballs into ${dir}, expected one`);
  return join(dir, entries[0]);
}

/** The `sha512-<base64>` integrity of a file, as npm writes it. @example await fileIntegrity('x.tgz') // 'sha512-Fop...' */
export function fileIntegrity(path: string): Promise<string> {
  return new Promise((done, fail) => {
    const hash = createHash('sha512');
    createReadStream(path)
      .on('data', (d) => hash.update(d))
      .on('error', fail)
      .on('end', () => done(`sha512-${hash.digest('base64')}`));
  });
}

/**
 * Throw unless the file's sha512 integrity is `expected`.
 *
 * @example await verifyIntegrity('cache/pkg-0.4.9.tgz', PROVIDER_INTEGRITY);
 */
export async function verifyIntegrity(path: string, expected: string): Promise<void> {
  const actual = await fileIntegrity(path);
  if (actual !== expected) {
    throw new TwnnError(`${path}: integrity mismatch: expected ${expected}, got ${actual} (a corrupted download, or not the pinned package); not installing it`);
  }
}

/**
 * The two provider libraries extracted from `tarball` (already verified to
 * have `integrity`) into `<cacheDir>/<key>/`, reused when already extracted
 * from a tarball with that integrity.
 *
 * @example const dir = await extractLibraries(tarball, PROVIDER_INTEGRITY, cacheDir, 'pkg-0.4.9'); // holds libonnxruntime_providers_{cuda,shared}.so
 */
export async function extractLibraries(tarball: string, integrity: string, cacheDir: string, key: string): Promise<string> {
  const dir = join(cacheDir, key);
  const stamp = join(dir, '.tarball-integrity');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === integrity && CUDA_PROVIDER_LIBRARIES.every((l) => existsSync(join(dir, l)))) return dir;
  const tmp = join(cacheDir, `.extract-${randomBytes(6).toString('hex')}`);
  await mkdir(tmp, { recursive: true });
  try {
    const members = CUDA_PROVIDER_LIBRARIES.map((l) => `${PACKAGE_LIBRARY_DIR}/${l}`);
    const r = spawnSync('tar', ['--no-same-owner', '-xzf', tarball, '-C', tmp, ...members], { encoding: 'utf8' });
    if (r.error) throw new TwnnError(`cannot run tar to unpack ${tarball}: ${r.error.message}`);
    if (r.status !== 0) {
      const absent = members.filter((m) => r.stderr.includes(m));
      const why = absent.length > 0 ? `it has no ${absent.join(', ')}: not the CUDA EP package` : r.stderr.replace(/\s+/g, ' ').trim();
      throw new TwnnError(`${tarball}: cannot unpack the CUDA EP libraries (${why})`);
    }
    const unpacked = join(tmp, PACKAGE_LIBRARY_DIR);
    await writeFile(join(unpacked, '.tarball-integrity'), integrity);
    await rm(dir, { recursive: true, force: true });
    await rename(unpacked, dir);
    return dir;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Copy the provider libraries from `fromDir` into `targetDir`, each through a
 * temp file renamed over the target, so onnxruntime never sees half a library;
 * a library already there with the same bytes is left alone.
 *
 * @example await installLibraries('~/.cache/twnn-cuda/pkg-0.4.9', ortNativeDir());
 */
export async function installLibraries(fromDir: string, targetDir: string): Promise<InstalledLibrary[]> {
  const result: InstalledLibrary[] = [];
  for (const name of CUDA_PROVIDER_LIBRARIES) {
    const from = join(fromDir, name);
    const to = join(targetDir, name);
    if (existsSync(to) && (await sameBytes(from, to))) {
      result.push({ name, path: to, action: 'unchanged' });
      continue;
    }
    const tmp = join(targetDir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await copyFile(from, tmp);
      await chmod(tmp, 0o755);
      await rename(tmp, to);
    } catch (err) {
      await rm(tmp, { force: true });
      throw new TwnnError(`cannot install ${name} into ${targetDir}: ${(err as Error).message}`);
    }
    result.push({ name, path: to, action: 'copied' });
  }
  return result;
}

/**
 * Remove the provider libraries from `targetDir` (what `--remove` does).
 *
 * @example await removeLibraries(ortNativeDir()); // ['libonnxruntime_providers_cuda.so', ...]
 */
export async function removeLibraries(targetDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of CUDA_PROVIDER_LIBRARIES) {
    const path = join(targetDir, name);
    if (!existsSync(path)) continue;
    await rm(path);
    removed.push(name);
  }
  return removed;
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  if ((await stat(a)).size !== (await stat(b)).size) return false;
  return (await fileIntegrity(a)) === (await fileIntegrity(b));
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string; error?: Error }> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (error) => done({ status: null, stdout, stderr, error }));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: { target: { type: 'string' }, cache: { type: 'string' }, remove: { type: 'boolean' } },
  });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  try {
    const targetDir = values.target ? resolve(values.target) : ortNativeDir();
    if (values.remove) {
      const removed = await removeLibraries(targetDir);
      say(`cuda:install: ${removed.length ? `removed ${removed.join(', ')} from ${targetDir}` : `nothing to remove in ${targetDir}`}`);
      return 0;
    }
    const result = await installCudaProvider({ targetDir, ...(values.cache ? { cacheDir: resolve(values.cache) } : {}) });
    say('CUDA libraries the provider loads:');
    for (const l of result.libraries.libraries) {
      say(`  ${l.name.padEnd(18)} ${l.path ?? `not found${l.locatedIn?.length ? ` (there is one in ${l.locatedIn.join(', ')})` : ''}`}${l.role === 'on demand' ? `  [on demand: ${l.purpose}]` : ''}`);
    }
    if (result.problem) {
      say(`cuda:install: the CUDA EP is installed, but it will not load here yet: ${result.problem}`);
    } else {
      const note = cudaOnDemandNote(result.libraries);
      say(`cuda:install: done: the CUDA EP and the CUDA libraries it needs are in place${note ? `; but ${note}` : ''}; check with 'npx twnn doctor'`);
    }
    return 0;
  } catch (err) {
    if (err instanceof TwnnError) {
      process.stderr.write(`cuda:install: error: ${err.message.replace(/\s+/g, ' ').trim()}\n`);
      return 1;
    }
    throw err;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) process.exitCode = await main(process.argv.slice(2));
