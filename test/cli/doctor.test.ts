import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Graph, Tensor } from '../../src/ir/index.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { matmul, tanh } from '../../src/ops/index.js';
import { checkCudaLibraries, cudaProblem } from '../../src/runtime/cuda.js';
import { checkCudaAvailable, ortNativeDir } from '../../src/runtime/device.js';
import { expectUserError, twnn, type CliResult } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-doctor-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// y = tanh(x·W) for x [B,2], W = [[1,-1],[0.5,0.5]].
const model = join(dir, 'tiny.onnx');
const input = join(dir, 'x.json');
{
  const g = new Graph('tiny');
  const x = g.input('x', 'float32', ['B', 2]);
  g.output('y', tanh(g, matmul(g, x, g.initializer('w', Tensor.fromNumbers('float32', [2, 2], [1, -1, 0.5, 0.5])))));
  writeFileSync(model, serializeModel(g));
  writeFileSync(input, JSON.stringify([[0.5, 0.25]]));
}

/** The CUDA-EP-missing error every command gives on this machine (CI has no GPU and no CUDA EP). */
const CUDA_MISSING = /^twnn: error: --device cuda:0: onnxruntime-node's CUDA execution provider is not installed \(missing libonnxruntime_providers_cuda.so, libonnxruntime_providers_shared.so in .*\); install it with 'npm run cuda:install'/;

describe('twnn doctor on a machine without the CUDA EP', () => {
  let r: CliResult;
  beforeAll(async () => {
    expect(checkCudaAvailable().available).toBe(false);
    r = await twnn(['doctor']);
  });

  it('diagnoses and exits 0, with nothing on stderr', () => {
    expect(r.status, r.stderr).toBe(0);
    // onnxruntime's own log of the failed CUDA load stays inside the probe.
    expect(r.stderr).toBe('');
  });

  it('reports the versions, the backends and a working CPU EP', () => {
    expect(r.stdout).toMatch(new RegExp(`^node {12}${process.version.replace(/\./g, '\\.')} \\(linux x64\\)\\n`));
    expect(r.stdout).toContain(`onnxruntime     onnxruntime-node 1.29.0 (native 1.29.0) in ${ortNativeDir()}\n`);
    expect(r.stdout).toMatch(/\nbackends {8}cpu, .*\(bundled\); cuda.*\(need their provider libraries\)\n/);
    expect(r.stdout).toMatch(/\ncpu {13}ok \(a MatMul\+Tanh session ran; max \|diff\| \d\.\de-\d+\)\n/);
  });

  it('lists each CUDA library and where it is, and the failed CUDA session', () => {
    const check = checkCudaLibraries();
    for (const l of check.libraries) expect(r.stdout).toMatch(new RegExp(`\\n  ${l.name.replace(/\./g, '\\.')} +${l.path ? l.path.replace(/\./g, '\\.') : 'not found'}`));
    expect(r.stdout).toMatch(/\nCUDA session {4}cuda:0: matmul \(cuBLAS\) failed: .*Failed to load shared library.*onnxruntime could not load .*libonnxruntime_providers_shared.so: .*cannot open shared object file/);
  });

  it('ends with ONE line saying what is missing and how to fix it', () => {
    const last = r.stdout.trimEnd().split('\n').at(-1)!;
    expect(last).toBe(`cuda: unavailable: ${cudaProblem(checkCudaLibraries())}`);
    expect(last).toContain("'npm run cuda:install'");
    expect(last).toContain('--onnxruntime-node-install=cuda12');
  });
});

describe('twnn doctor options', () => {
  it('--device cuda:1 probes that GPU', async () => {
    const r = await twnn(['doctor', '--device', 'cuda:1']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\nCUDA session {4}cuda:1: /);
  });

  it('--device cpu is a usage error', async () => {
    expectUserError(await twnn(['doctor', '--device', 'cpu']), "twnn doctor checks a GPU: --device must be cuda or cuda:N, got 'cpu'");
  });

  it('is listed in twnn --help', async () => {
    const r = await twnn(['--help']);
    expect(r.stdout).toMatch(/\n {2}doctor \[options\]\s+check onnxruntime-node and its CUDA execution\s+provider/);
  });
});

describe('--device cuda without the CUDA EP: one line, nothing run', () => {
  it('run', async () => {
    const r = await twnn(['run', model, '--input', input, '--device', 'cuda']);
    expectUserError(r, CUDA_MISSING);
    expect(r.stdout).toBe('');
  });

  it('run --no-tf32', async () => {
    expectUserError(await twnn(['run', model, '--input', input, '--device', 'cuda', '--no-tf32']), CUDA_MISSING);
  });

  it('eval', async () => {
    expectUserError(await twnn(['eval', model, '--data', 'sine', '--device', 'cuda:0']), CUDA_MISSING);
  });

  it('train, before any export', async () => {
    const out = join(dir, 'train-out');
    expectUserError(await twnn(['train', 'graphs/sine-mlp.ts', '--device', 'cuda', '--no-tf32', '--out', out]), CUDA_MISSING);
  });

  it('a bad device names the value', async () => {
    expectUserError(await twnn(['eval', model, '--data', 'sine', '--device', 'gpu0']), "unknown device 'gpu0': expected cpu, cuda or cuda:N");
  });
});

describe('--no-tf32', () => {
  it.each(['run', 'train', 'eval'])('%s --help lists --device and --no-tf32', async (cmd) => {
    const r = await twnn([cmd, '--help']);
    expect(r.stdout).toContain('-d, --device <device>');
    expect(r.stdout).toMatch(/--no-tf32\s+on cuda: no TF32/);
  });

  it('is accepted (and changes nothing) on the CPU', async () => {
    const r = await twnn(['run', model, '--input', input, '--no-tf32', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const y = JSON.parse(r.stdout).y.data[0];
    expect(y[0]).toBeCloseTo(Math.tanh(0.5 * 1 + 0.25 * 0.5), 6);
    expect(y[1]).toBeCloseTo(Math.tanh(0.5 * -1 + 0.25 * 0.5), 6);
  });
});
