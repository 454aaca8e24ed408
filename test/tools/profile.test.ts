// tools/profile.ts: onnxruntime's profile of a TWNN, summed by op type.
import { expect, it } from 'vitest';
import mnistMlp from '../../graphs/mnist-mlp.js';
import * as ort from 'onnxruntime-node';
import { buildInferenceGraph } from '../../src/lower/inference.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { profileRuns } from '../../tools/profile.js';

it('sums kernel time by op type, the Loop bodies\' nodes included, one count per run', async () => {
  const { graph } = buildInferenceGraph(mnistMlp);
  const x = new ort.Tensor('float32', Float32Array.from({ length: 4 * 784 }, (_, i) => (i % 7) / 7), [4, 784]);
  const p = await profileRuns(serializeModel(graph), { x }, 2);
  expect(p.runs).toHaveLength(2);
  expect(p.kernelMs).toBeGreaterThan(0);
  const ops = new Map(p.ops.map((r) => [r.op, r]));
  // The region's Loop runs once per run; its body's ops (NonZero picks the active rows) are profiled inside it.
  expect(ops.get('Loop')?.calls).toBe(1);
  expect(ops.get('NonZero')?.calls).toBeGreaterThan(0);
  expect(p.ops.filter((r) => r.op !== 'Loop').reduce((s, r) => s + r.ms, 0)).toBeCloseTo(p.kernelMs, 6);
});
