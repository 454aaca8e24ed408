import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TwnnError } from '../../src/ir/index.js';
import { CUDA_PROVIDER_LIBRARIES, ortNativeDir } from '../../src/runtime/device.js';
import {
  defaultCacheDir,
  extractLibraries,
  fetchTarball,
  fileIntegrity,
  installCudaProvider,
  PACKAGE_LIBRARY_DIR,
  PROVIDER_INTEGRITY,
  PROVIDER_PACKAGE,
  removeLibraries,
  tarballName,
  verifyIntegrity,
} from '../../tools/cuda-install.js';

const REPO = resolve(import.meta.dirname, '../..');
const root = mkdtempSync(join(tmpdir(), 'twnn-cuda-install-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const PKG = { name: 'fake-ort-gpu', version: '1.0.0' };
/** A real ELF in the CUDA provider's place, so the post-install check reads a real DT_NEEDED. */
const ELF = join(ortNativeDir(), 'onnxruntime_binding.node');

let counter = 0;
function fresh(name: string): string {
  const dir = join(root, `${name}-${++counter}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A package tarball laid out like the real one (package/Plugins/Linux/x64/...), made with tar. */
function fakeTarball(files: Record<string, string | { copyOf: string }> = { [CUDA_PROVIDER_LIBRARIES[0]]: { copyOf: ELF }, [CUDA_PROVIDER_LIBRARIES[1]]: 'shared provider bytes' }): string {
  const dir = fresh('tarball');
  const lib = join(dir, PACKAGE_LIBRARY_DIR);
  mkdirSync(lib, { recursive: true });
  writeFileSync(join(dir, 'package/package.json'), JSON.stringify(PKG));
  for (const [name, content] of Object.entries(files)) {
    if (typeof content === 'string') writeFileSync(join(lib, name), content);
    else copyFileSync(content.copyOf, join(lib, name));
  }
  const tgz = join(dir, tarballName(PKG));
  const r = spawnSync('tar', ['-czf', tgz, '-C', dir, 'package']);
  expect(r.status, String(r.stderr)).toBe(0);
  return tgz;
}

/** onnxruntime-node's native directory, faked: the install insists on libonnxruntime.so.1 being there. */
function fakeTarget(): string {
  const dir = fresh('native');
  writeFileSync(join(dir, 'libonnxruntime.so.1'), '');
  return dir;
}

/** A cache folder holding `tgz` under the name npm pack gives it. */
function cacheWith(tgz: string): string {
  const cache = fresh('cache');
  copyFileSync(tgz, join(cache, tarballName(PKG)));
  return cache;
}

/** An `npm` stand-in that "downloads" `tgz` into --pack-destination, as npm pack --json does. */
function fakeNpm(tgz: string): string {
  const script = join(fresh('npm'), 'npm');
  writeFileSync(
    script,
    `#!/bin/sh\nwhile [ $# -gt 0 ]; do if [ "$1" = --pack-destination ]; then dest="$2"; fi; shift; done\ncp '${tgz}' "$dest/"\necho '[{"filename": "${tarballName(PKG)}"}]'\n`,
  );
  chmodSync(script, 0o755);
  return script;
}

/** Real npm, pointed at a registry nobody listens on and an empty cache. */
const OFFLINE_ENV = (): NodeJS.ProcessEnv => ({ ...process.env, npm_config_registry: 'http://127.0.0.1:9/', npm_config_fetch_retries: '0', npm_config_cache: fresh('npm-cache') });

describe('integrity', () => {
  it("is npm's sha512-<base64> of the file", async () => {
    const tgz = fakeTarball();
    const hex = spawnSync('sha512sum', [tgz], { encoding: 'utf8' }).stdout.split(' ')[0];
    expect(await fileIntegrity(tgz)).toBe(`sha512-${Buffer.from(hex, 'hex').toString('base64')}`);
  });

  it('a mismatch is a clear error naming the file and both values', async () => {
    const tgz = fakeTarball();
    const actual = await fileIntegrity(tgz);
    await expect(verifyIntegrity(tgz, PROVIDER_INTEGRITY)).rejects.toThrow(TwnnError);
    await expect(verifyIntegrity(tgz, PROVIDER_INTEGRITY)).rejects.toThrow(`${tgz}: integrity mismatch: expected ${PROVIDER_INTEGRITY}, got ${actual}`);
  });

  it('pins the real package', () => {
    expect(PROVIDER_PACKAGE).toEqual({ name: 'com.github.asus4.onnxruntime.linux-x64-gpu', version: '0.4.9' });
    expect(PROVIDER_INTEGRITY).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
  });
});

describe('fetching the tarball', () => {
  it('reuses a cached tarball whose integrity matches, without npm', async () => {
    const tgz = fakeTarball();
    const cache = cacheWith(tgz);
    const got = await fetchTarball(PKG, cache, await fileIntegrity(tgz), { npm: '/nonexistent/npm' });
    expect(got).toEqual({ path: join(cache, tarballName(PKG)), downloaded: false });
  });

  it('downloads with npm pack into the cache, leaving no temp folders', async () => {
    const tgz = fakeTarball();
    const cache = fresh('cache');
    const got = await fetchTarball(PKG, cache, await fileIntegrity(tgz), { npm: fakeNpm(tgz) });
    expect(got).toEqual({ path: join(cache, tarballName(PKG)), downloaded: true });
    expect(readdirSync(cache)).toEqual([tarballName(PKG)]);
  });

  it('a download with the wrong integrity is refused and not cached', async () => {
    const tgz = fakeTarball();
    const cache = fresh('cache');
    await expect(fetchTarball(PKG, cache, PROVIDER_INTEGRITY, { npm: fakeNpm(tgz) })).rejects.toThrow(/integrity mismatch: expected sha512-FopI/);
    expect(readdirSync(cache)).toEqual([]);
  });

  it('no network is one line that says so and what to do', async () => {
    // A corrupted cached tarball is dropped and fetched again, which needs the registry.
    const cache = fresh('cache');
    writeFileSync(join(cache, tarballName(PROVIDER_PACKAGE)), 'corrupted');
    let message = '';
    try {
      await fetchTarball(PROVIDER_PACKAGE, cache, PROVIDER_INTEGRITY, { env: OFFLINE_ENV() });
    } catch (err) {
      expect(err).toBeInstanceOf(TwnnError);
      message = (err as Error).message;
    }
    expect(message).not.toContain('\n');
    expect(message).toMatch(/^cannot download com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9: the npm registry cannot be reached \(ECONNREFUSED: .*127.0.0.1:9.*\); no network\?/);
    expect(message).toContain("'npm pack com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9' and copy the .tgz into the cache folder (TWNN_CUDA_CACHE)");
    expect(readdirSync(cache)).toEqual([]);
  });

  it('the cache is TWNN_CUDA_CACHE, else ~/.cache/twnn-cuda', () => {
    expect(defaultCacheDir({ TWNN_CUDA_CACHE: '/c' })).toBe('/c');
    expect(defaultCacheDir({})).toMatch(/\/\.cache\/twnn-cuda$/);
  });
});

describe('unpacking', () => {
  it('extracts the two libraries once per tarball', async () => {
    const tgz = fakeTarball();
    const cache = fresh('cache');
    const integrity = await fileIntegrity(tgz);
    const dir = await extractLibraries(tgz, integrity, cache, 'pkg');
    expect(readFileSync(join(dir, CUDA_PROVIDER_LIBRARIES[1]), 'utf8')).toBe('shared provider bytes');
    expect(readFileSync(join(dir, CUDA_PROVIDER_LIBRARIES[0]))).toEqual(readFileSync(ELF));
    // Reused: a marker written into the extracted folder survives a second call.
    writeFileSync(join(dir, 'marker'), '');
    expect(await extractLibraries(tgz, integrity, cache, 'pkg')).toBe(dir);
    expect(existsSync(join(dir, 'marker'))).toBe(true);
    expect(readdirSync(cache)).toEqual(['pkg']);
  });

  it('a tarball without the libraries is not the CUDA EP package', async () => {
    const tgz = fakeTarball({ 'README.md': 'hello' });
    await expect(extractLibraries(tgz, 'x', fresh('cache'), 'pkg')).rejects.toThrow(
      new RegExp(`${tgz}: cannot unpack the CUDA EP libraries \\(it has no ${PACKAGE_LIBRARY_DIR}/libonnxruntime_providers_cuda.so, .*not the CUDA EP package\\)`),
    );
  });
});

describe('installCudaProvider', () => {
  it('copies both libraries into the target, then leaves them alone on a second run', async () => {
    const tgz = fakeTarball();
    const integrity = await fileIntegrity(tgz);
    const target = fakeTarget();
    const cache = cacheWith(tgz);
    const lines: string[] = [];
    const options = { package: PKG, integrity, cacheDir: cache, targetDir: target, ortVersion: '1.29.0', npm: '/nonexistent/npm', log: (l: string) => lines.push(l) };
    const first = await installCudaProvider(options);
    expect(first.downloaded).toBe(false);
    expect(first.installed).toEqual(CUDA_PROVIDER_LIBRARIES.map((name) => ({ name, path: join(target, name), action: 'copied' })));
    expect(readFileSync(join(target, CUDA_PROVIDER_LIBRARIES[0]))).toEqual(readFileSync(ELF));
    expect(readFileSync(join(target, CUDA_PROVIDER_LIBRARIES[1]), 'utf8')).toBe('shared provider bytes');
    // Atomic copies: no temp files left beside them.
    expect(readdirSync(target).sort()).toEqual(['libonnxruntime.so.1', ...CUDA_PROVIDER_LIBRARIES].sort());
    expect(lines[0]).toBe(`package   ${PKG.name}@${PKG.version}: ${join(cache, tarballName(PKG))} (cached, integrity ok)`);
    // The post-install check read the installed provider (an ELF needing libonnxruntime.so.1 from $ORIGIN, found in the target).
    expect(first.libraries.source).toBe('provider');
    expect(first.libraries.libraries.filter((l) => l.role === 'required' && !l.path)).toEqual([]);

    const second = await installCudaProvider(options);
    expect(second.installed.map((l) => l.action)).toEqual(['unchanged', 'unchanged']);
  });

  it('replaces a library that differs', async () => {
    const tgz = fakeTarball();
    const target = fakeTarget();
    writeFileSync(join(target, CUDA_PROVIDER_LIBRARIES[1]), 'an older build');
    const result = await installCudaProvider({ package: PKG, integrity: await fileIntegrity(tgz), cacheDir: cacheWith(tgz), targetDir: target, ortVersion: '1.29.0', log: () => {} });
    expect(result.installed.find((l) => l.name === CUDA_PROVIDER_LIBRARIES[1])?.action).toBe('copied');
    expect(readFileSync(join(target, CUDA_PROVIDER_LIBRARIES[1]), 'utf8')).toBe('shared provider bytes');
  });

  it('refuses another onnxruntime-node version, naming both and the other route', async () => {
    await expect(installCudaProvider({ targetDir: fakeTarget(), ortVersion: '1.22.0', log: () => {} })).rejects.toThrow(
      "these CUDA EP libraries are ONNX Runtime 1.29.0's but onnxruntime-node is 1.22.0: pin onnxruntime-node 1.29.0, or install its own CUDA 12 build with ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node",
    );
  });

  it("refuses a target that is not onnxruntime-node's native directory", async () => {
    const target = fresh('empty');
    await expect(installCudaProvider({ targetDir: target, ortVersion: '1.29.0', log: () => {} })).rejects.toThrow(`${target}: not onnxruntime-node's native directory (no libonnxruntime.so.1 there); run 'npm ci' first`);
  });

  it('--remove takes the libraries out again', async () => {
    const target = fakeTarget();
    for (const l of CUDA_PROVIDER_LIBRARIES) writeFileSync(join(target, l), '');
    expect(await removeLibraries(target)).toEqual([...CUDA_PROVIDER_LIBRARIES]);
    expect(readdirSync(target)).toEqual(['libonnxruntime.so.1']);
    expect(await removeLibraries(target)).toEqual([]);
  });
});

describe('npm run cuda:install', () => {
  it('without network: exit 1 and one line on stderr', async () => {
    const r = await runTool(['--target', fakeTarget(), '--cache', fresh('cache')], OFFLINE_ENV());
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^cuda:install: error: cannot download com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9: the npm registry cannot be reached \(ECONNREFUSED/);
  });
});

function runTool(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'tools/cuda-install.ts'), ...args], { cwd: REPO, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}
