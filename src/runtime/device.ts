import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { oneLine } from '../ir/text.js';
import type { InferenceSession } from 'onnxruntime-node';
import { TwnnError } from '../common/errors.js';

/** Where a session runs: the CPU EP, or the CUDA EP on one GPU. */
export type Device = { kind: 'cpu' } | { kind: 'cuda'; deviceId: number };

/** Shared libraries the CUDA EP needs beside onnxruntime-node's binding. */
export const CUDA_PROVIDER_LIBRARIES = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'] as const;

/** How a user gets the CUDA EP: the project script, or onnxruntime-node's own installer where its download is reachable. */
export const CUDA_INSTALL_HINT =
  "install it with 'npm run cuda:install', or with 'npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12' on a machine that can reach onnxruntime's download";

/**
 * Parse a `--device` value: `cpu`, `cuda` (GPU 0) or `cuda:N`.
 *
 * @example
 * parseDevice('cuda:1') // { kind: 'cuda', deviceId: 1 }
 */
export function parseDevice(text: string): Device {
  if (text === 'cpu') return { kind: 'cpu' };
  if (text === 'cuda') return { kind: 'cuda', deviceId: 0 };
  const m = /^cuda:(\d{1,3})$/.exec(text);
  if (m) return { kind: 'cuda', deviceId: Number(m[1]) };
  throw new TwnnError(`unknown device '${text}': expected cpu, cuda or cuda:N (N a GPU index, e.g. cuda:0)`);
}

/** `cpu`, `cuda:0`, ... for messages. @example formatDevice({ kind: 'cpu' }) // 'cpu' */
export function formatDevice(device: Device): string {
  return device.kind === 'cpu' ? 'cpu' : `cuda:${device.deviceId}`;
}

/**
 * onnxruntime-node SessionOptions for `device`. A cuda device lists only the
 * CUDA EP: onnxruntime would otherwise place what it cannot run on the GPU on
 * the CPU without a word, and a `--device cuda` run must never quietly be a
 * CPU run.
 *
 * @example
 * sessionOptionsFor({ kind: 'cuda', deviceId: 0 }).executionProviders // [{ name: 'cuda', deviceId: 0 }]
 */
export function sessionOptionsFor(device: Device, threads?: number): InferenceSession.SessionOptions {
  // The thread count onnxruntime would choose, but said: left to itself (0) it pins each session's
  // threads to cores, and with two sessions alive in one process a run then often takes twice as
  // long (the ResNet TWNN: 145 ms against 300+ on this 2-core machine; docs/PERFORMANCE.md).
  if (device.kind === 'cpu') return { executionProviders: ['cpu'], intraOpNumThreads: threads ?? physicalCores() };
  return { executionProviders: [{ name: 'cuda', deviceId: device.deviceId }] };
}

/**
 * The CPU thread count `TWNN_THREADS` asks for, or undefined when it is unset;
 * anything but a positive integer is an error naming the variable.
 *
 * @example threadsFromEnvironment({ TWNN_THREADS: '1' }) // 1
 */
export function threadsFromEnvironment(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const text = env.TWNN_THREADS;
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new TwnnError(`TWNN_THREADS must be a positive integer (onnxruntime's CPU threads per session), got '${text}'`);
  return n;
}

/**
 * The physical cores this process may run on (one per set of hyperthread
 * siblings, as onnxruntime counts them), or the logical ones where the
 * topology cannot be read.
 *
 * @example physicalCores() // 2 on a 2-vCPU machine
 */
export function physicalCores(): number {
  const logical = availableParallelism();
  try {
    const cores = new Set<string>();
    for (let cpu = 0; cpu < logical; cpu++) cores.add(readFileSync(`/sys/devices/system/cpu/cpu${cpu}/topology/thread_siblings_list`, 'utf8').trim());
    return Math.max(1, cores.size);
  } catch {
    return logical;
  }
}

/**
 * Turn TF32 off for cuBLAS/cuDNN in this process when `tf32` is false.
 * onnxruntime's CUDA EP enables TF32 by default, and onnxruntime-node passes
 * only `deviceId` to the EP (no `use_tf32`), so this goes through the
 * NVIDIA_TF32_OVERRIDE variable that cuBLAS and cuDNN read when they
 * initialise, so it must happen before the process's first CUDA session
 * (`openSession` does it). `true`/undefined leaves the default.
 *
 * @example applyTf32Setting(false); // later CUDA sessions use full FP32 matmuls
 */
export function applyTf32Setting(tf32: boolean | undefined, env: NodeJS.ProcessEnv = process.env): void {
  if (tf32 === false) env.NVIDIA_TF32_OVERRIDE = '0';
}

/** What `checkCudaAvailable` found. */
export interface CudaCheck {
  available: boolean;
  /** The directory searched: onnxruntime-node's native binding directory. */
  nativeDir: string;
  /** Provider libraries not found there. */
  missing: string[];
}

/**
 * onnxruntime-node's native directory for this platform
 * (`node_modules/onnxruntime-node/bin/napi-v6/<platform>/<arch>`), where its
 * binding looks for the CUDA EP libraries.
 *
 * @example ortNativeDir() // '/work/main/node_modules/onnxruntime-node/bin/napi-v6/linux/x64'
 */
export function ortNativeDir(platform: string = process.platform, arch: string = process.arch): string {
  const require = createRequire(import.meta.url);
  // The package's `main` is dist/index.js; its root is one level up.
  const root = dirname(dirname(require.resolve('onnxruntime-node')));
  return join(root, 'bin', 'napi-v6', platform, arch);
}

/**
 * Whether the CUDA EP libraries are installed beside onnxruntime-node's binding.
 * `nativeDir` is injectable so the check is testable without a GPU.
 *
 * @example
 * const check = checkCudaAvailable();
 * if (!check.available) console.log(check.missing);
 */
export function checkCudaAvailable(nativeDir: string = ortNativeDir()): CudaCheck {
  const missing = CUDA_PROVIDER_LIBRARIES.filter((lib) => !existsSync(join(nativeDir, lib)));
  return { available: missing.length === 0, nativeDir, missing };
}

/**
 * Throw the one-line error for a cuda device whose EP is not installed; a no-op
 * for the CPU or when the libraries are present.
 *
 * @example assertDeviceAvailable(parseDevice('cuda')); // throws on a machine without the CUDA EP
 */
export function assertDeviceAvailable(device: Device, nativeDir?: string): void {
  if (device.kind === 'cpu') return;
  const check = checkCudaAvailable(nativeDir);
  if (check.available) return;
  throw new TwnnError(
    `--device ${formatDevice(device)}: onnxruntime-node's CUDA execution provider is not installed ` +
      `(missing ${check.missing.join(', ')} in ${check.nativeDir}); ${CUDA_INSTALL_HINT}`,
  );
}

export { oneLine };
