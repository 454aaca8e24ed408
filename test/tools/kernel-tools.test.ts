// The part-2 measurement tools of issue 21: onnxruntime's optimisation levels on
// a TWNN (tools/ort-levels.ts), the cost of a Loop iteration
// (tools/loop-overhead.ts) and a conv's input gradient by ConvTranspose or by a
// flipped Conv (tools/conv-kernels.ts). Tiny runs: their checks and arithmetic,
// not their timings. And the A/B of two train.onnx files (tools/train-step-ab.ts),
// and a conv's weight gradient in two forms (tools/conv-weight-grad-ab.ts).
import { expect, it } from 'vitest';
import { flippedKernels, timeInputGrad, timeWeightsAsInput } from '../../tools/conv-kernels.js';
import { loopOverhead } from '../../tools/loop-overhead.js';
import { optimizationLevels } from '../../tools/ort-levels.js';
import { compareSteps, exportTrainGraph } from '../../tools/train-step-ab.js';
import { RESNET_WEIGHT_GRADS, timeWeightGrad } from '../../tools/conv-weight-grad-ab.js';

it('times the MNIST MLP TWNN at each optimisation level, each computing what `all` computes', async () => {
  const levels = await optimizationLevels('mnist-mlp', 1, 1);
  expect(levels.map((l) => l.level)).toEqual(['disabled', 'basic', 'extended', 'all']);
  for (const l of levels) {
    expect(l.forward, l.level).toBeGreaterThan(0);
    expect(l.step, l.level).toBeGreaterThan(0);
    // Fusions reorder float sums, no more.
    expect(l.yDiff, l.level).toBeLessThan(1e-4);
    expect(l.lossDiff, l.level).toBeLessThan(1e-5);
  }
  expect(levels[3].yDiff).toBe(0);
}, 120_000);

it('times a Loop against the same nodes unrolled, and divides the difference by its trips', async () => {
  const o = await loopOverhead(2, 3, [4, 8], 20, 3);
  expect(o).toMatchObject({ carried: 2, depth: 3, shape: [4, 8], trips: 20 });
  expect(o.loopMs).toBeGreaterThan(0);
  expect(o.perIterationUs).toBeCloseTo(((o.loopMs - o.unrolledMs) / 20) * 1000, 6);
}, 60_000);

it("flips a kernel's taps and swaps its channels, and the flipped Conv computes ConvTranspose's input gradient", async () => {
  // W [cout 2, cin 1, 2, 2] = 0..7: channel m's kernel [[a, b], [c, d]] becomes [[d, c], [b, a]] in [cin 1, cout 2].
  expect(flippedKernels([0, 1, 2, 3, 4, 5, 6, 7], 2, 1, 2)).toEqual([3, 2, 1, 0, 7, 6, 5, 4]);
  const t = await timeInputGrad({ cin: 3, cout: 5, size: 6 }, 2, 3);
  expect(t.maxDiff).toBeLessThan(1e-5);
  expect(t.convTransposeMs).toBeGreaterThan(0);
  expect(t.flippedConvMs).toBeGreaterThan(0);
  // The same Conv with W an initializer and W an input (the tool checks they agree).
  const w = await timeWeightsAsInput({ cin: 3, cout: 4, size: 5 }, 2, 3);
  expect(w.initializerMs).toBeGreaterThan(0);
  expect(w.inputMs).toBeGreaterThan(0);
}, 60_000);

it('times two train.onnx files on the same real training steps, and they give the same losses', async () => {
  const bytes = await exportTrainGraph('mnist-mlp');
  const ab = await compareSteps('mnist-mlp', bytes, bytes, 3);
  expect(ab.steps).toBe(3);
  expect(ab.before).toBeGreaterThan(0);
  expect(ab.after).toBeGreaterThan(0);
  expect(ab.maxLossDiff).toBe(0);
}, 60_000);

it("times a conv's weight gradient as a batch-as-channels Conv and as one MatMul of patches, after checking they agree", async () => {
  const t = await timeWeightGrad({ name: '3×3/2 3→4', cin: 3, size: 7, cout: 4, outSize: 4, win: { kernel: [3, 3], strides: [2, 2], dilations: [1, 1], pads: [1, 1, 1, 1] } }, 2, 3);
  expect(t.maxDiff).toBeLessThan(1e-5);
  expect(t.convMs).toBeGreaterThan(0);
  expect(t.matMulMs).toBeGreaterThan(0);
  // The tool's table lists every distinct weight gradient of the ResNet, each a conv the ResNet has.
  expect(RESNET_WEIGHT_GRADS.map((s) => s.name)).toContain('B4 3×3 64→64');
}, 60_000);
