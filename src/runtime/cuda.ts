// What the CUDA execution provider needs on this machine, checked without
// loading it: the two provider libraries beside onnxruntime-node's binding,
// the CUDA 13 libraries they link against (read from the provider's ELF
// DT_NEEDED), the ones its code dlopens on demand (cuDNN, cuFFT), the NVIDIA
// driver, and the GPUs nvidia-smi reports. `twnn doctor`, `npm run
// cuda:install` and the `--device cuda` errors all say what is missing from
// this one diagnosis.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { TwnnError } from '../common/errors.js';
import { oneLine } from '../ir/text.js';
import { checkCudaAvailable, CUDA_INSTALL_HINT, ortNativeDir, type CudaCheck } from './device.js';
import { readElfDynamic } from './elf.js';
import { findLibrary, locateLibrary, systemLibrarySearch, type LibrarySearch } from './shared-libraries.js';

/** The CUDA EP library whose dependencies decide whether CUDA works. */
export const CUDA_PROVIDER_LIBRARY = 'libonnxruntime_providers_cuda.so';

/**
 * DT_NEEDED of ONNX Runtime 1.29.0's CUDA 13 provider (`readelf -d`), used
 * when the provider itself is not installed yet; once it is, its own list is read.
 */
export const CUDA_RUNTIME_LIBRARIES = ['libcublasLt.so.13', 'libcublas.so.13', 'libcurand.so.10', 'libcudart.so.13', 'libcuda.so.1'] as const;

/** The NVIDIA driver's library: present only where a GPU driver is installed. */
export const CUDA_DRIVER_LIBRARY = 'libcuda.so.1';

/**
 * Libraries the provider dlopens by name when a kernel first needs them (the
 * names are in its code, not in DT_NEEDED): a model without such ops runs without them.
 */
export const CUDA_ON_DEMAND_LIBRARIES = [
  { name: 'libcudnn.so.9', purpose: 'cuDNN 9: Conv, pooling and normalisation kernels' },
  { name: 'libcufft.so.12', purpose: 'cuFFT: DFT and STFT' },
] as const;

/** One library the CUDA EP loads, and where the loader would find it. */
export interface LibraryStatus {
  name: string;
  /** Where the loader finds it; undefined when it does not. */
  path?: string;
  /** `required`: the provider does not load without it; `on demand`: only the ops that use it fail. */
  role: 'required' | 'on demand';
  purpose?: string;
  /** When missing: directories outside the loader's search that hold it (candidates for LD_LIBRARY_PATH). */
  locatedIn?: string[];
}

/** What `checkCudaLibraries` found. */
export interface CudaLibraries {
  provider: CudaCheck;
  /** Where the required list came from: the installed provider's ELF, or the pinned 1.29.0 list. */
  source: 'provider' | 'pinned';
  libraries: LibraryStatus[];
}

/** Where to look; every part injectable so the checks run on fake trees in tests. */
export interface CudaCheckOptions {
  /** onnxruntime-node's native directory (default: the installed one). */
  nativeDir?: string;
  /** The loader's search (default: this process's). */
  search?: LibrarySearch;
  /** Roots walked for missing libraries (default: CUDA_HOME, CUDA_PATH, /usr/local/cuda*, /opt, pip's nvidia wheels). */
  roots?: readonly string[];
  env?: NodeJS.ProcessEnv;
}

/**
 * Check the provider libraries and every library the CUDA EP loads. The
 * required list is the installed provider's DT_NEEDED (system libraries such
 * as libc are listed only when missing), else CUDA_RUNTIME_LIBRARIES.
 *
 * @example
 * const { libraries } = checkCudaLibraries();
 * libraries.filter((l) => !l.path).map((l) => l.name) // ['libcublasLt.so.13', ..., 'libcuda.so.1'] on a CPU machine
 */
export function checkCudaLibraries(options: CudaCheckOptions = {}): CudaLibraries {
  const nativeDir = options.nativeDir ?? ortNativeDir();
  const provider = checkCudaAvailable(nativeDir);
  const search = options.search ?? systemLibrarySearch(options.env);
  const providerPath = join(nativeDir, CUDA_PROVIDER_LIBRARY);
  let required: string[] = [...CUDA_RUNTIME_LIBRARIES];
  let runpath: string[] = [];
  let source: CudaLibraries['source'] = 'pinned';
  if (!provider.missing.includes(CUDA_PROVIDER_LIBRARY)) {
    const dynamic = readElfDynamic(providerPath);
    required = dynamic.needed;
    runpath = dynamic.runpath;
    source = 'provider';
  }
  const libraries: LibraryStatus[] = [];
  const add = (name: string, role: LibraryStatus['role'], purpose?: string) => {
    const path = findLibrary(name, search, runpath, nativeDir);
    const status: LibraryStatus = { name, role, ...(path ? { path } : {}), ...(purpose ? { purpose } : {}) };
    if (!path) status.locatedIn = locateLibrary(name, { ...(options.env ? { env: options.env } : {}), ...(options.roots ? { roots: options.roots } : {}) });
    libraries.push(status);
  };
  for (const name of required) if (isCudaLibrary(name) || !findLibrary(name, search, runpath, nativeDir)) add(name, 'required');
  for (const lib of CUDA_ON_DEMAND_LIBRARIES) add(lib.name, 'on demand', lib.purpose);
  return { provider, source, libraries };
}

/** NVIDIA's libraries, as opposed to libc, libstdc++ and the like. */
function isCudaLibrary(name: string): boolean {
  return /^lib(cu|nv)/.test(name);
}

/**
 * The one-line reason the CUDA EP cannot load here, with what to do, or
 * undefined when nothing required is missing. On-demand libraries (cuDNN,
 * cuFFT) are not reasons: `cudaOnDemandNote` mentions them.
 *
 * @example cudaProblem(checkCudaLibraries()) // "no NVIDIA driver (libcuda.so.1 not found) ...; onnxruntime-node's CUDA execution provider is not installed ..."
 */
export function cudaProblem(check: CudaLibraries): string | undefined {
  const parts: string[] = [];
  const missing = check.libraries.filter((l) => l.role === 'required' && !l.path);
  if (missing.some((l) => l.name === CUDA_DRIVER_LIBRARY)) {
    parts.push(`no NVIDIA driver (${CUDA_DRIVER_LIBRARY} not found): the CUDA EP needs an NVIDIA GPU with its driver (R580 or newer for CUDA 13)`);
  }
  if (!check.provider.available) {
    parts.push(
      `onnxruntime-node's CUDA execution provider is not installed (missing ${check.provider.missing.join(', ')} in ${check.provider.nativeDir}); ${CUDA_INSTALL_HINT}`,
    );
  }
  const runtime = missing.filter((l) => l.name !== CUDA_DRIVER_LIBRARY);
  if (runtime.length > 0) parts.push(`${runtime.map((l) => l.name).join(', ')} not found; ${libraryPathHint(runtime)}`);
  return parts.length > 0 ? parts.join('; ') : undefined;
}

/**
 * A note on missing on-demand libraries (what will fail without them), or undefined.
 *
 * @example cudaOnDemandNote(check) // 'libcudnn.so.9 not found: models with cuDNN 9: Conv, pooling ... will fail on cuda; export LD_LIBRARY_PATH=...'
 */
export function cudaOnDemandNote(check: CudaLibraries): string | undefined {
  const missing = check.libraries.filter((l) => l.role === 'on demand' && !l.path);
  if (missing.length === 0) return undefined;
  return missing.map((l) => `${l.name} not found: models with ${l.purpose} will fail on cuda`).join('; ') + `; ${libraryPathHint(missing)}`;
}

/**
 * How to make `missing` findable: the LD_LIBRARY_PATH to export when they were
 * located outside the loader's search, else what to install. The variable is
 * read when a process starts, so it must be set before node is.
 *
 * @example libraryPathHint([{ name: 'libcudart.so.13', role: 'required', locatedIn: ['/usr/local/cuda-13.0/lib64'] }])
 * // "export LD_LIBRARY_PATH=/usr/local/cuda-13.0/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} before starting node (libcudart.so.13 is there)"
 */
export function libraryPathHint(missing: readonly LibraryStatus[]): string {
  const dirs: string[] = [];
  for (const l of missing) {
    const dir = l.locatedIn?.[0];
    if (dir && !dirs.includes(dir)) dirs.push(dir);
  }
  const unlocated = missing.filter((l) => !l.locatedIn?.length).map((l) => l.name);
  const located = missing.filter((l) => l.locatedIn?.length).map((l) => l.name);
  const hints: string[] = [];
  if (dirs.length > 0) {
    hints.push(`export LD_LIBRARY_PATH=${dirs.join(':')}\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} before starting node (${located.join(', ')} ${located.length > 1 ? 'are' : 'is'} there)`);
  }
  if (unlocated.length > 0) {
    const what = unlocated.some((n) => n.startsWith('libcudnn'))
      ? 'CUDA 13 and cuDNN 9 for CUDA 13'
      : 'CUDA 13 (the toolkit, or its cudart, cuBLAS and cuRAND runtime libraries)';
    hints.push(`install ${what} and put their directory on LD_LIBRARY_PATH before starting node, e.g. export LD_LIBRARY_PATH=/usr/local/cuda-13.0/lib64\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}`);
  }
  return hints.join('; ');
}

/** One GPU as nvidia-smi reports it. */
export interface GpuInfo {
  index: number;
  name: string;
  /** As reported, e.g. `81559 MiB`. */
  memory: string;
  driver: string;
}

/**
 * The GPUs nvidia-smi lists, or why there are none to list (no nvidia-smi, or
 * its own error). `run` is injectable for tests.
 *
 * @example const gpus = queryGpus(); if ('gpus' in gpus) console.log(gpus.gpus[0]?.name); // 'NVIDIA H100 80GB HBM3'
 */
export function queryGpus(run: (cmd: string, args: string[]) => { status: number | null; stdout: string; stderr: string; error?: Error } = runCommand): { gpus: GpuInfo[] } | { error: string } {
  const r = run('nvidia-smi', ['--query-gpu=index,name,memory.total,driver_version', '--format=csv,noheader']);
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    return { error: code === 'ENOENT' ? 'nvidia-smi not found (no NVIDIA driver installed)' : `nvidia-smi failed: ${r.error.message}` };
  }
  if (r.status !== 0) return { error: `nvidia-smi failed: ${oneLine(r.stdout + r.stderr) || `exit status ${r.status}`}` };
  const gpus = r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const [index, name, memory, driver] = line.split(',').map((s) => s.trim());
      return { index: Number(index), name, memory, driver };
    });
  return gpus.length > 0 ? { gpus } : { error: 'nvidia-smi lists no GPU' };
}

function runCommand(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ...(r.error ? { error: r.error } : {}) };
}

/** What onnxruntime said when it failed to dlopen a library. */
export interface OrtLoadError {
  /** The library onnxruntime tried to load (a path). */
  library: string;
  /** The soname the loader could not find, when that was the reason. */
  missing?: string;
  /** The loader's words. */
  reason: string;
}

/**
 * Find onnxruntime's "Failed to load library X with error: Y" in its log
 * (printed on stderr, not in the exception's message, which only says "Failed
 * to load shared library"), and which soname was not found.
 *
 * @example
 * parseOrtLoadError('... Failed to load library /x/libonnxruntime_providers_cuda.so with error: libcudart.so.13: cannot open shared object file: No such file or directory')
 * // { library: '/x/libonnxruntime_providers_cuda.so', missing: 'libcudart.so.13', reason: 'libcudart.so.13: cannot open shared object file: No such file or directory' }
 */
export function parseOrtLoadError(log: string): OrtLoadError | undefined {
  const text = stripAnsi(log);
  const m = /Failed to load library (\S+) with error: ([^\n]*)/.exec(text);
  if (!m) return undefined;
  const reason = m[2].trim();
  const missing = /([^\s:/]+\.so[.\d]*): cannot open shared object file/.exec(reason)?.[1];
  return { library: m[1], reason, ...(missing ? { missing } : {}) };
}

/** Terminal colour codes out (onnxruntime colours its log lines). @example stripAnsi('\x1b[1;31mE\x1b[m') // 'E' */
export function stripAnsi(text: string): string {
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}

/**
 * The reason a CUDA session could not be created, for messages: the missing
 * required libraries when the static check finds any, else undefined (the
 * failure lies elsewhere: no GPU, a bad device id, a driver too old).
 *
 * @example throw new TwnnError(`... ${cudaLoadReason() ?? 'see onnxruntime\'s message'}`);
 */
export function cudaLoadReason(options: CudaCheckOptions = {}): string | undefined {
  try {
    return cudaProblem(checkCudaLibraries(options));
  } catch (err) {
    // An unreadable provider library is itself the reason.
    if (err instanceof TwnnError) return `${err.message}; reinstall it with 'npm run cuda:install'`;
    throw err;
  }
}


