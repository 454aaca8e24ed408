// Finding shared libraries the way the Linux loader does, without loading
// them: the library's own RUNPATH ($ORIGIN expanded), LD_LIBRARY_PATH, the
// ldconfig cache, then the default directories (ld.so(8)). Used to say which
// CUDA library is missing before, or after, onnxruntime fails to dlopen it.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Where the loader looks, captured once so that a lookup is a pure function of it. */
export interface LibrarySearch {
  /** LD_LIBRARY_PATH entries, in order. */
  ldLibraryPath: string[];
  /** The ldconfig cache for this architecture: soname -> path. */
  cache: Map<string, string>;
  /** The loader's built-in directories. */
  defaultDirs: string[];
}

/** The loader's built-in directories on Debian/Ubuntu (multiarch) and other distributions. */
export const DEFAULT_LIBRARY_DIRS: Record<string, string[]> = {
  x64: ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib'],
  arm64: ['/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib'],
};

/**
 * The search of this process: LD_LIBRARY_PATH from `env`, `ldconfig -p`'s
 * cache (empty where ldconfig cannot be run) and the default directories.
 *
 * @example const search = systemLibrarySearch(); findLibrary('libc.so.6', search) // '/lib/x86_64-linux-gnu/libc.so.6'
 */
export function systemLibrarySearch(env: NodeJS.ProcessEnv = process.env, arch: string = process.arch): LibrarySearch {
  return {
    ldLibraryPath: (env.LD_LIBRARY_PATH ?? '').split(':').filter((p) => p !== ''),
    cache: parseLdconfigListing(ldconfigListing(), arch),
    defaultDirs: DEFAULT_LIBRARY_DIRS[arch] ?? ['/lib64', '/usr/lib64', '/lib', '/usr/lib'],
  };
}

/** `ldconfig -p`'s output, or '' where no ldconfig can be run (it lives in /sbin, often off a user's PATH). */
function ldconfigListing(): string {
  for (const cmd of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    const r = spawnSync(cmd, ['-p'], { encoding: 'utf8', timeout: 10_000 });
    if (r.status === 0) return r.stdout;
  }
  return '';
}

/**
 * Parse `ldconfig -p` into soname -> path, keeping the entries for `arch`
 * (a 64-bit x86 cache also lists 32-bit libraries under the same names).
 *
 * @example
 * parseLdconfigListing('\tlibcudart.so.13 (libc6,x86-64) => /usr/local/cuda/lib64/libcudart.so.13', 'x64')
 * // Map { 'libcudart.so.13' => '/usr/local/cuda/lib64/libcudart.so.13' }
 */
export function parseLdconfigListing(text: string, arch: string = process.arch): Map<string, string> {
  const tag = arch === 'x64' ? 'x86-64' : arch === 'arm64' ? 'AArch64' : undefined;
  const cache = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s+(\S+) \(([^)]*)\)(?: OS ABI: [^=]*)? => (\S.*)$/.exec(line);
    if (!m) continue;
    const [, name, flags, path] = m;
    if (tag && !flags.includes(tag)) continue;
    // ldconfig lists the preferred entry first.
    if (!cache.has(name)) cache.set(name, path.trim());
  }
  return cache;
}

/**
 * Where the loader would find `name` for a library in `origin` whose RUNPATH
 * is `runpath`, or undefined. `$ORIGIN` in RUNPATH is the library's directory.
 *
 * @example findLibrary('libcudart.so.13', systemLibrarySearch()) // undefined on a machine without CUDA 13
 */
export function findLibrary(name: string, search: LibrarySearch, runpath: readonly string[] = [], origin?: string): string | undefined {
  if (name.includes('/')) return existsSync(name) ? name : undefined;
  const expand = (dir: string) => (origin ? dir.replace(/\$(ORIGIN|\{ORIGIN\})/g, origin) : dir);
  const dirs = [...search.ldLibraryPath, ...runpath.map(expand)];
  for (const dir of dirs) {
    const path = join(dir, name);
    if (isFile(path)) return path;
  }
  const cached = search.cache.get(name);
  if (cached && isFile(cached)) return cached;
  for (const dir of search.defaultDirs) {
    const path = join(dir, name);
    if (isFile(path)) return path;
  }
  return undefined;
}

/**
 * Directories outside the loader's search that hold `name`: CUDA_HOME,
 * CUDA_PATH, /usr/local/cuda* and /opt (a bounded walk), and pip's NVIDIA
 * wheels. Each is a directory to put on LD_LIBRARY_PATH.
 *
 * @example locateLibrary('libcudart.so.13') // ['/usr/local/cuda-13.0/targets/x86_64-linux/lib']
 */
export function locateLibrary(name: string, options: { env?: NodeJS.ProcessEnv; roots?: readonly string[] } = {}): string[] {
  const env = options.env ?? process.env;
  const roots = options.roots ?? defaultCudaRoots(env);
  const found: string[] = [];
  const seen = new Set<string>();
  const visit = (dir: string, depth: number, budget: { entries: number }) => {
    if (depth < 0 || budget.entries <= 0 || seen.has(dir)) return;
    seen.add(dir);
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    budget.entries -= entries.length;
    if (entries.includes(name) && isFile(join(dir, name)) && !found.includes(dir)) found.push(dir);
    for (const entry of entries.sort()) {
      const path = join(dir, entry);
      if (isDirectory(path)) visit(path, depth - 1, budget);
    }
  };
  // A bounded walk: a few directory levels and entries per root, so a large /opt stays quick.
  for (const root of roots) visit(root, 5, { entries: 50_000 });
  return found;
}

/** Roots `locateLibrary` walks by default. */
function defaultCudaRoots(env: NodeJS.ProcessEnv): string[] {
  const roots = [env.CUDA_HOME, env.CUDA_PATH].filter((r): r is string => Boolean(r));
  for (const parent of ['/usr/local', '/opt']) {
    let names: string[] = [];
    try {
      names = readdirSync(parent);
    } catch {
      continue;
    }
    for (const n of names.sort()) if (/^cuda/.test(n)) roots.push(join(parent, n));
  }
  roots.push('/opt');
  // pip's nvidia-*-cu13 wheels put the libraries under site-packages/nvidia/*/lib.
  for (const base of ['/usr/local/lib', '/usr/lib']) {
    let names: string[] = [];
    try {
      names = readdirSync(base);
    } catch {
      continue;
    }
    for (const n of names) if (/^python3/.test(n)) for (const sub of ['dist-packages', 'site-packages']) roots.push(join(base, n, sub, 'nvidia'));
  }
  return roots.filter((r) => existsSync(r));
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
