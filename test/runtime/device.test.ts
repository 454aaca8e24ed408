import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TwnnError } from '../../src/ir/index.js';
import {
  applyTf32Setting,
  assertDeviceAvailable,
  checkCudaAvailable,
  CUDA_PROVIDER_LIBRARIES,
  ortNativeDir,
  parseDevice,
  physicalCores,
  sessionOptionsFor,
  threadsFromEnvironment,
} from '../../src/runtime/device.js';
import { sessionCreationError } from '../../src/runtime/session-error.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-device-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A fake onnxruntime-node native directory holding `libs`. */
function nativeDirWith(name: string, libs: readonly string[]): string {
  const dir = join(root, name);
  mkdirSync(dir);
  for (const lib of ['libonnxruntime.so.1', ...libs]) writeFileSync(join(dir, lib), '');
  return dir;
}

describe('parseDevice', () => {
  it.each([
    ['cpu', { kind: 'cpu' }],
    ['cuda', { kind: 'cuda', deviceId: 0 }],
    ['cuda:0', { kind: 'cuda', deviceId: 0 }],
    ['cuda:3', { kind: 'cuda', deviceId: 3 }],
  ])('%s', (text, device) => expect(parseDevice(text)).toEqual(device));

  it.each(['foo', 'gpu', 'CUDA', 'cuda:', 'cuda:x', 'cuda:-1', 'cpu:0', ''])('rejects %j, naming it', (text) => {
    expect(() => parseDevice(text)).toThrow(TwnnError);
    expect(() => parseDevice(text)).toThrow(`unknown device '${text}': expected cpu, cuda or cuda:N`);
  });
});

describe('sessionOptionsFor', () => {
  it('lists only the CPU EP for cpu', () => {
    expect(sessionOptionsFor({ kind: 'cpu' }).executionProviders).toEqual(['cpu']);
  });

  it('names the CPU thread count (one per physical core), so onnxruntime does not pin each session\'s threads', () => {
    const logical = availableParallelism();
    const siblings = new Set([...Array(logical).keys()].map((c) => readFileSync(`/sys/devices/system/cpu/cpu${c}/topology/thread_siblings_list`, 'utf8').trim()));
    expect(physicalCores()).toBe(siblings.size);
    expect(physicalCores()).toBeGreaterThanOrEqual(1);
    expect(physicalCores()).toBeLessThanOrEqual(logical);
    expect(sessionOptionsFor({ kind: 'cpu' }).intraOpNumThreads).toBe(physicalCores());
  });

  it('takes a thread count, and TWNN_THREADS gives one: a positive integer, else an error naming it', () => {
    expect(sessionOptionsFor({ kind: 'cpu' }, 1).intraOpNumThreads).toBe(1);
    expect(threadsFromEnvironment({})).toBeUndefined();
    expect(threadsFromEnvironment({ TWNN_THREADS: '3' })).toBe(3);
    for (const bad of ['0', '-1', '1.5', 'two']) expect(() => threadsFromEnvironment({ TWNN_THREADS: bad })).toThrow(`TWNN_THREADS must be a positive integer (onnxruntime's CPU threads per session), got '${bad}'`);
  });

  it('lists only the CUDA EP for cuda, with the device id, so nothing falls back to the CPU', () => {
    expect(sessionOptionsFor(parseDevice('cuda:2')).executionProviders).toEqual([{ name: 'cuda', deviceId: 2 }]);
  });
});

describe('CUDA EP availability', () => {
  it("finds onnxruntime-node's native directory for this platform", () => {
    expect(ortNativeDir('linux', 'x64')).toMatch(/node_modules\/onnxruntime-node\/bin\/napi-v6\/linux\/x64$/);
    // The CPU binding ships there, so the resolution points at the real directory.
    expect(checkCudaAvailable(ortNativeDir()).nativeDir).toBe(ortNativeDir());
  });

  it('reports both libraries missing from a CPU-only install', () => {
    const dir = nativeDirWith('cpu-only', []);
    expect(checkCudaAvailable(dir)).toEqual({ available: false, nativeDir: dir, missing: [...CUDA_PROVIDER_LIBRARIES] });
  });

  it('reports the one library missing', () => {
    const dir = nativeDirWith('half', ['libonnxruntime_providers_shared.so']);
    expect(checkCudaAvailable(dir).missing).toEqual(['libonnxruntime_providers_cuda.so']);
  });

  it('is available when both libraries are there', () => {
    const dir = nativeDirWith('full', CUDA_PROVIDER_LIBRARIES);
    expect(checkCudaAvailable(dir)).toEqual({ available: true, nativeDir: dir, missing: [] });
    expect(() => assertDeviceAvailable(parseDevice('cuda:1'), dir)).not.toThrow();
  });

  it('asking for cuda without them is one line: what, where, and how to install', () => {
    const dir = nativeDirWith('none', []);
    let message = '';
    try {
      assertDeviceAvailable(parseDevice('cuda'), dir);
    } catch (err) {
      expect(err).toBeInstanceOf(TwnnError);
      message = (err as Error).message;
    }
    expect(message).not.toContain('\n');
    expect(message).toContain('--device cuda:0');
    expect(message).toContain('libonnxruntime_providers_cuda.so, libonnxruntime_providers_shared.so');
    expect(message).toContain(`in ${dir}`);
    expect(message).toContain("'npm run cuda:install'");
    expect(message).toContain('--onnxruntime-node-install=cuda12');
  });

  it('never checks anything for the CPU', () => {
    expect(() => assertDeviceAvailable({ kind: 'cpu' }, join(root, 'does-not-exist'))).not.toThrow();
  });
});

describe('session creation errors', () => {
  it('wraps a CUDA load failure into one line naming the device and the fix', () => {
    const err = sessionCreationError(
      new Error('Failed to load library libonnxruntime_providers_cuda.so with error:\n libcudart.so.13: cannot open shared object file'),
      parseDevice('cuda:1'),
      'model.onnx',
    );
    expect(err).toBeInstanceOf(TwnnError);
    expect(err.message).not.toContain('\n');
    expect(err.message).toMatch(/^model.onnx: onnxruntime could not create a CUDA session on cuda:1: Failed to load .* libcudart.so.13: cannot open/);
    expect(err.message).toContain('npm run cuda:install');
  });
});

it('tf32: false sets NVIDIA_TF32_OVERRIDE=0; true or unset leaves the environment alone', () => {
  const env: NodeJS.ProcessEnv = {};
  applyTf32Setting(undefined, env);
  applyTf32Setting(true, env);
  expect(env).toEqual({});
  applyTf32Setting(false, env);
  expect(env).toEqual({ NVIDIA_TF32_OVERRIDE: '0' });
});
