// Shared by the twnn and lower tests: running exported bytes, seeded inputs, a
// JS reference for dense stacks, and the PyTorch reference (torch_reference.py).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import { Tensor, type DType, type ParamInfo } from '../../src/index.js';
import { randn, seededRandom } from '../helpers/rng.js';

/** Run `.onnx` bytes (or a file path) on onnxruntime's CPU EP; outputs by name. */
export async function runModel(model: Uint8Array | string, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const session = typeof model === 'string' ? await ort.InferenceSession.create(model) : await ort.InferenceSession.create(model);
  try {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, [...t.shape]);
    const out = await session.run(ortFeeds);
    const result: Record<string, Tensor> = {};
    for (const [name, v] of Object.entries(out)) result[name] = new Tensor(v.type as DType, v.dims.map(Number), v.data as Float32Array);
    return result;
  } finally {
    await session.release();
  }
}

/** A seeded standard-normal tensor. */
export function randomTensor(dtype: DType, shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.fromNumbers(dtype, shape, randn(seededRandom(seed), n));
}

/** `y = x·Wᵀ + b` for row-major `x` [B, in] and torch-layout `W` [out, in], in float64. */
export function denseRef(x: number[], batch: number, w: ParamInfo, b?: ParamInfo): number[] {
  const [out, inF] = w.shape;
  const wv = w.value.toNumbers();
  const bv = b?.value.toNumbers();
  const y: number[] = [];
  for (let r = 0; r < batch; r++) {
    for (let o = 0; o < out; o++) {
      let s = bv ? bv[o] : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * wv[o * inF + i];
      y.push(s);
    }
  }
  return y;
}

/** `|actual − expected| <= atol + rtol·|expected|` everywhere, naming the first bad element. */
export function expectAllClose(actual: readonly number[], expected: readonly number[], rtol: number, atol: number): void {
  expect(actual.length, 'element count').toBe(expected.length);
  const bad = actual.findIndex((v, i) => !(Math.abs(v - expected[i]) <= atol + rtol * Math.abs(expected[i])));
  if (bad >= 0) expect.fail(`element ${bad}: got ${actual[bad]}, expected ${expected[bad]} (rtol ${rtol}, atol ${atol})`);
}

const TORCH_SCRIPT = resolve(fileURLToPath(import.meta.url), '../torch_reference.py');

/**
 * Rebuild network `net` (defined in torch_reference.py) in PyTorch, load
 * `params` with load_state_dict(strict=True) — so twnn's names and shapes must
 * be torch's — and return its eval-mode output on `x`.
 */
export function torchForward(net: string, params: readonly ParamInfo[], x: Tensor): { shape: number[]; data: number[] } {
  const dir = mkdtempSync(join(tmpdir(), 'twnn-torch-'));
  try {
    const file = join(dir, 'case.json');
    const payload = {
      net,
      params: Object.fromEntries(params.map((p) => [p.name, { shape: p.shape, data: p.value.toNumbers() }])),
      x: { shape: x.shape, data: x.toNumbers() },
    };
    writeFileSync(file, JSON.stringify(payload));
    // The first python3 on PATH does not see Debian's torch.
    const run = spawnSync('/usr/bin/python3', [TORCH_SCRIPT, file], { encoding: 'utf8', timeout: 120_000 });
    if (run.status !== 0) throw new Error(`torch_reference.py failed (exit ${run.status}): ${run.stderr || run.error?.message}`);
    return JSON.parse(run.stdout) as { shape: number[]; data: number[] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
