import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deviceFromFlags } from '../../src/cli/device-option.js';
import { FormatError, Tensor, TwnnError } from '../../src/ir/index.js';
import {
  checkCudaLibraries,
  CUDA_ON_DEMAND_LIBRARIES,
  CUDA_PROVIDER_LIBRARY,
  CUDA_RUNTIME_LIBRARIES,
  cudaLoadReason,
  cudaOnDemandNote,
  cudaProblem,
  libraryPathHint,
  parseOrtLoadError,
  queryGpus,
} from '../../src/runtime/cuda.js';
import { probeCudaSession, probeModels } from '../../src/runtime/cuda-probe.js';
import { checkCudaAvailable, CUDA_INSTALL_HINT, CUDA_PROVIDER_LIBRARIES, ortNativeDir, parseDevice } from '../../src/runtime/device.js';
import { sessionCreationError } from '../../src/runtime/session-error.js';
import { readElfDynamic } from '../../src/runtime/elf.js';
import { openSession } from '../../src/runtime/session.js';
import { findLibrary, locateLibrary, parseLdconfigListing, systemLibrarySearch, type LibrarySearch } from '../../src/runtime/shared-libraries.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-cuda-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A real ELF shared library to read: onnxruntime-node's binding (NEEDED libonnxruntime.so.1, RUNPATH $ORIGIN/). */
const BINDING = join(ortNativeDir(), 'onnxruntime_binding.node');

/** Create `dir` holding (empty) files `names`; returns dir. */
function dirWith(dir: string, names: readonly string[]): string {
  mkdirSync(dir, { recursive: true });
  for (const n of names) writeFileSync(join(dir, n), '');
  return dir;
}

const EMPTY_SEARCH: LibrarySearch = { ldLibraryPath: [], cache: new Map(), defaultDirs: [] };

describe('readElfDynamic', () => {
  it("reads NEEDED, SONAME and RUNPATH as readelf does", () => {
    const readelf = spawnSync('readelf', ['-d', BINDING], { encoding: 'utf8' }).stdout;
    const tagged = (tag: string) => [...readelf.matchAll(new RegExp(`\\(${tag}\\)\\s+[^[]*\\[([^\\]]*)\\]`, 'g'))].map((m) => m[1]);
    const dynamic = readElfDynamic(BINDING);
    expect(dynamic.needed).toEqual(tagged('NEEDED'));
    expect(dynamic.needed).toContain('libonnxruntime.so.1');
    expect(dynamic.soname).toBe(tagged('SONAME')[0]);
    expect(dynamic.runpath).toEqual(tagged('RUNPATH')[0].split(':'));
  });

  it('a text file is a FormatError naming it', () => {
    const file = join(root, 'not-elf.so');
    writeFileSync(file, 'this is not a library, just some text long enough for an ELF header.......');
    expect(() => readElfDynamic(file)).toThrow(FormatError);
    expect(() => readElfDynamic(file)).toThrow(`${file}: not an ELF file`);
  });

  it('a truncated library is a FormatError, not garbage', () => {
    const file = join(root, 'truncated.so');
    writeFileSync(file, readFileSync(BINDING).subarray(0, 4096));
    expect(() => readElfDynamic(file)).toThrow(/truncated.so: truncated ELF file/);
  });

  it('a missing file is a FormatError naming it', () => {
    expect(() => readElfDynamic(join(root, 'nope.so'))).toThrow(/nope.so: cannot read \(ENOENT\)/);
  });
});

describe('finding libraries like the loader', () => {
  it('parses ldconfig -p, keeping this architecture', () => {
    const listing = [
      '3 libs found in cache `/etc/ld.so.cache\'',
      '\tlibcudart.so.13 (libc6) => /usr/lib32/libcudart.so.13',
      '\tlibcudart.so.13 (libc6,x86-64) => /usr/local/cuda-13.0/lib64/libcudart.so.13',
      '\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1',
    ].join('\n');
    expect(parseLdconfigListing(listing, 'x64')).toEqual(
      new Map([
        ['libcudart.so.13', '/usr/local/cuda-13.0/lib64/libcudart.so.13'],
        ['libz.so.1', '/lib/x86_64-linux-gnu/libz.so.1'],
      ]),
    );
  });

  it("finds libc through this machine's real search", () => {
    const path = findLibrary('libc.so.6', systemLibrarySearch());
    expect(path).toMatch(/\/libc\.so\.6$/);
    expect(readElfDynamic(path!).soname).toBe('libc.so.6');
  });

  it('looks in LD_LIBRARY_PATH, then RUNPATH ($ORIGIN expanded), then the cache, then the default directories', () => {
    const ld = dirWith(join(root, 'find/ld'), ['liba.so.1']);
    const origin = dirWith(join(root, 'find/origin'), ['libb.so.2', 'liba.so.1']);
    const cached = dirWith(join(root, 'find/cached'), ['libc1.so.3']);
    const defaults = dirWith(join(root, 'find/default'), ['libd.so.4', 'libb.so.2']);
    const search: LibrarySearch = { ldLibraryPath: [ld], cache: new Map([['libc1.so.3', join(cached, 'libc1.so.3')]]), defaultDirs: [defaults] };
    expect(findLibrary('liba.so.1', search, ['$ORIGIN/'], origin)).toBe(join(ld, 'liba.so.1'));
    expect(findLibrary('libb.so.2', search, ['$ORIGIN/'], origin)).toBe(join(origin, 'libb.so.2'));
    expect(findLibrary('libb.so.2', search)).toBe(join(defaults, 'libb.so.2'));
    expect(findLibrary('libc1.so.3', search)).toBe(join(cached, 'libc1.so.3'));
    expect(findLibrary('libd.so.4', search)).toBe(join(defaults, 'libd.so.4'));
    expect(findLibrary('libe.so.5', search)).toBeUndefined();
  });

  it('locates a library outside the search in a CUDA-like tree', () => {
    const cuda = join(root, 'locate/usr-local/cuda-13.0');
    dirWith(join(cuda, 'targets/x86_64-linux/lib'), ['libcudart.so.13', 'libcublas.so.13']);
    dirWith(join(cuda, 'bin'), ['nvcc']);
    expect(locateLibrary('libcudart.so.13', { roots: [join(root, 'locate')] })).toEqual([join(cuda, 'targets/x86_64-linux/lib')]);
    expect(locateLibrary('libcurand.so.10', { roots: [join(root, 'locate')] })).toEqual([]);
  });
});

describe('what the CUDA EP needs', () => {
  it('without the provider: the pinned CUDA 13 list, all missing, each with its fix in one line', () => {
    const native = dirWith(join(root, 'native-cpu'), ['libonnxruntime.so.1']);
    const cudaLib = dirWith(join(root, 'roots/cuda-13.0/lib64'), ['libcudart.so.13', 'libcublas.so.13']);
    const check = checkCudaLibraries({ nativeDir: native, search: EMPTY_SEARCH, roots: [join(root, 'roots')] });
    expect(check.source).toBe('pinned');
    expect(check.provider.missing).toEqual([...CUDA_PROVIDER_LIBRARIES]);
    expect(check.libraries.map((l) => [l.name, l.role])).toEqual([
      ...CUDA_RUNTIME_LIBRARIES.map((n) => [n, 'required']),
      ...CUDA_ON_DEMAND_LIBRARIES.map((l) => [l.name, 'on demand']),
    ]);
    expect(check.libraries.find((l) => l.name === 'libcudart.so.13')?.locatedIn).toEqual([cudaLib]);

    const problem = cudaProblem(check)!;
    expect(problem).not.toContain('\n');
    expect(problem).toContain('no NVIDIA driver (libcuda.so.1 not found)');
    expect(problem).toContain(`onnxruntime-node's CUDA execution provider is not installed (missing ${CUDA_PROVIDER_LIBRARIES.join(', ')} in ${native}); install it with 'npm run cuda:install'`);
    expect(problem).toContain('libcublasLt.so.13, libcublas.so.13, libcurand.so.10, libcudart.so.13 not found');
    expect(problem).toContain(`export LD_LIBRARY_PATH=${cudaLib}\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} before starting node (libcublas.so.13, libcudart.so.13 are there)`);
    expect(problem).toContain('install CUDA 13 (the toolkit, or its cudart, cuBLAS and cuRAND runtime libraries)');
    expect(cudaOnDemandNote(check)).toMatch(/^libcudnn.so.9 not found: models with cuDNN 9: Conv.* will fail on cuda; .*libcufft.so.12 not found.*install CUDA 13 and cuDNN 9 for CUDA 13/);
  });

  it('with every CUDA library found, the missing provider is the only problem', () => {
    const native = dirWith(join(root, 'native-ok'), ['libonnxruntime.so.1']);
    const libs = dirWith(join(root, 'all-libs'), [...CUDA_RUNTIME_LIBRARIES, ...CUDA_ON_DEMAND_LIBRARIES.map((l) => l.name)]);
    const check = checkCudaLibraries({ nativeDir: native, search: { ...EMPTY_SEARCH, ldLibraryPath: [libs] } });
    expect(check.libraries.every((l) => l.path === join(libs, l.name))).toBe(true);
    expect(cudaProblem(check)).toBe(`onnxruntime-node's CUDA execution provider is not installed (missing ${CUDA_PROVIDER_LIBRARIES.join(', ')} in ${native}); ${CUDA_INSTALL_HINT}`);
    expect(cudaOnDemandNote(check)).toBeUndefined();
  });

  it("with a provider installed, its own DT_NEEDED is the list, resolved through its RUNPATH", () => {
    const native = dirWith(join(root, 'native-elf'), ['libonnxruntime_providers_shared.so']);
    // A real ELF in the provider's place: it needs libonnxruntime.so.1 from $ORIGIN, which is not there yet.
    copyFileSync(BINDING, join(native, CUDA_PROVIDER_LIBRARY));
    const search = systemLibrarySearch({});
    const before = checkCudaLibraries({ nativeDir: native, search, roots: [] });
    expect(before.source).toBe('provider');
    expect(before.provider.available).toBe(true);
    // System libraries that resolve are not listed; the unresolved one is, as required.
    expect(before.libraries.filter((l) => l.role === 'required')).toEqual([{ name: 'libonnxruntime.so.1', role: 'required', locatedIn: [] }]);
    expect(cudaProblem(before)).toMatch(/^libonnxruntime.so.1 not found; install CUDA 13/);

    writeFileSync(join(native, 'libonnxruntime.so.1'), '');
    const after = checkCudaLibraries({ nativeDir: native, search, roots: [] });
    expect(after.libraries.filter((l) => l.role === 'required')).toEqual([]);
    expect(cudaProblem(after)).toBeUndefined();
  });

  it('an installed provider that is not a library is the reason, with the fix', () => {
    const native = dirWith(join(root, 'native-bad'), [...CUDA_PROVIDER_LIBRARIES]);
    expect(cudaLoadReason({ nativeDir: native, search: EMPTY_SEARCH, roots: [] })).toBe(`${join(native, CUDA_PROVIDER_LIBRARY)}: not an ELF file; reinstall it with 'npm run cuda:install'`);
  });

  it('the LD_LIBRARY_PATH hint is a shell command that sets what it says', () => {
    const hint = libraryPathHint([{ name: 'libcudart.so.13', role: 'required', locatedIn: ['/opt/cuda/lib64'] }]);
    const command = /^(export LD_LIBRARY_PATH=\S+)/.exec(hint)![1];
    const run = (before: string) => spawnSync('bash', ['-c', `${command}; printf %s "$LD_LIBRARY_PATH"`], { encoding: 'utf8', env: { PATH: process.env.PATH, LD_LIBRARY_PATH: before } }).stdout;
    expect(run('')).toBe('/opt/cuda/lib64');
    expect(run('/x')).toBe('/opt/cuda/lib64:/x');
  });
});

describe("onnxruntime's dlopen errors", () => {
  // Logged by onnxruntime-node 1.29.0 (colours included) when a CUDA session is created.
  const sharedMissing =
    '\x1b[1;31m2026-11-26 06:08:39.437528477 [E:onnxruntime:onnxruntime-node, provider_bridge_ort.cc:2146 Create] /onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:1988 onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library /m/x64/libonnxruntime_providers_shared.so with error: /m/x64/libonnxruntime_providers_shared.so: cannot open shared object file: No such file or directory\n\x1b[m';
  const cublasMissing =
    '\x1b[1;31m2026-11-26 06:14:55.326387109 [E:onnxruntime:onnxruntime-node, provider_bridge_ort.cc:2146 Create] /onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:1988 onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library /tmp/w6/target/libonnxruntime_providers_cuda.so with error: libcublasLt.so.13: cannot open shared object file: No such file or directory\n\x1b[m';

  it('names the provider library that is missing', () => {
    expect(parseOrtLoadError(sharedMissing)).toEqual({
      library: '/m/x64/libonnxruntime_providers_shared.so',
      missing: 'libonnxruntime_providers_shared.so',
      reason: '/m/x64/libonnxruntime_providers_shared.so: cannot open shared object file: No such file or directory',
    });
  });

  it('names the CUDA library the provider could not find', () => {
    expect(parseOrtLoadError(cublasMissing)?.missing).toBe('libcublasLt.so.13');
  });

  it('is undefined for a log without a load failure', () => {
    expect(parseOrtLoadError('2026 [W:onnxruntime] Some nodes were not assigned to the preferred execution providers')).toBeUndefined();
  });
});

describe('queryGpus', () => {
  it('parses nvidia-smi', () => {
    const gpus = queryGpus(() => ({ status: 0, stdout: '0, NVIDIA H100 80GB HBM3, 81559 MiB, 580.82.07\n', stderr: '' }));
    expect(gpus).toEqual({ gpus: [{ index: 0, name: 'NVIDIA H100 80GB HBM3', memory: '81559 MiB', driver: '580.82.07' }] });
  });

  it('says when there is no nvidia-smi', () => {
    const enoent = Object.assign(new Error('spawnSync nvidia-smi ENOENT'), { code: 'ENOENT' });
    expect(queryGpus(() => ({ status: null, stdout: '', stderr: '', error: enoent }))).toEqual({ error: 'nvidia-smi not found (no NVIDIA driver installed)' });
  });

  it("passes on nvidia-smi's own failure in one line", () => {
    const r = queryGpus(() => ({ status: 9, stdout: 'NVIDIA-SMI has failed because it couldn\'t communicate\nwith the NVIDIA driver.\n', stderr: '' }));
    expect(r).toEqual({ error: "nvidia-smi failed: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver." });
  });
});

describe('the CUDA probe', () => {
  it('its models compute what their JavaScript references say (on the CPU EP)', async () => {
    for (const m of probeModels()) {
      const session = await openSession(m.bytes, { device: 'cpu', where: m.name });
      const { y } = await session.run({ x: Tensor.fromNumbers('float32', m.input.shape, m.input.data) });
      await session.close();
      expect(y.size).toBe(m.expected.length);
      y.toNumbers().forEach((v, i) => expect(Math.abs(v - m.expected[i]), `${m.name}[${i}]`).toBeLessThan(1e-5));
    }
  });

  it("on this machine (no CUDA EP installed) reports onnxruntime's real load failure", async () => {
    expect(checkCudaAvailable().available).toBe(false);
    const probe = await probeCudaSession(0);
    expect(probe.cases.map((c) => [c.name, c.ok])).toEqual([
      ['matmul', false],
      ['conv', false],
    ]);
    expect(probe.cases[0].error).toContain('Failed to load shared library');
    expect(probe.loadError?.missing).toBe('libonnxruntime_providers_shared.so');
    expect(probe.loadError?.library).toBe(join(ortNativeDir(), 'libonnxruntime_providers_shared.so'));
  });
});

describe('sessions on cuda', () => {
  it('a session creation failure names the device, the missing pieces and twnn doctor, on one line', () => {
    const err = sessionCreationError(new Error('OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library'), parseDevice('cuda:0'), 'm.onnx');
    expect(err).toBeInstanceOf(TwnnError);
    expect(err.message).not.toContain('\n');
    expect(err.message).toContain('m.onnx: onnxruntime could not create a CUDA session on cuda:0: OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library (');
    expect(err.message).toContain(cudaLoadReason()!);
    expect(err.message).toMatch(/; see 'twnn doctor'\)$/);
  });

  it('--no-tf32 turns TF32 off for cuda only, through NVIDIA_TF32_OVERRIDE', () => {
    const env: NodeJS.ProcessEnv = {};
    expect(deviceFromFlags({ device: 'cpu', tf32: false }, env)).toEqual({ kind: 'cpu' });
    expect(env).toEqual({});
    expect(deviceFromFlags({ device: 'cuda:2', tf32: true }, env)).toEqual({ kind: 'cuda', deviceId: 2 });
    expect(env).toEqual({});
    expect(deviceFromFlags({ device: 'cuda', tf32: false }, env)).toEqual({ kind: 'cuda', deviceId: 0 });
    expect(env).toEqual({ NVIDIA_TF32_OVERRIDE: '0' });
    expect(() => deviceFromFlags({ device: 'gpu', tf32: true }, env)).toThrow("unknown device 'gpu'");
  });
});
