// Which onnxruntime kernel computes a convolution's input gradient faster at the
// TWNN ResNet's shapes (issue 21, part 2): ConvTranspose(gy, W), the VJP
// rule's form, against a Conv of gy with W's kernels flipped and its channels
// swapped (equal at stride 1; the flip reads only W, so in a Loop it would be
// hoisted and run once a step: here it is done beforehand). It did not pay,
// so the rule keeps ConvTranspose (docs/performance/engine-changes.md, 11). Each pair is checked to agree, then timed interleaved in one
// process (medians). A second table times the forward Conv with its weights
// as an initializer (model.onnx) and as a graph input (train.onnx and
// grad.onnx take every weight as an input, since it changes each step).
//
//   node --import tsx tools/conv-kernels.ts [--batch 64] [--repeats 41]
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Graph } from '../src/ir/graph.js';
import { Tensor } from '../src/ir/tensor.js';
import { convTranspose2d, conv2d } from '../src/ops/public.js';
import { serializeModel } from '../src/onnx/serialize.js';
import { openSession } from '../src/runtime/session.js';
import { interleavedMedians } from './paper-run.js';

/** A 3×3, pad-1, stride-1 Conv of the ResNet: its input [batch, cin, size, size] and its output channels. */
export interface ConvShape {
  cin: number;
  cout: number;
  size: number;
}

/** The ResNet's stride-1 3×3 convs (graphs/mnist-resnet.ts): B1 at 14×14, B2's second conv, B3, B4's first and second at 7×7. */
export const RESNET_CONVS: readonly ConvShape[] = [
  { cin: 16, cout: 16, size: 14 },
  { cin: 32, cout: 32, size: 7 },
  { cin: 32, cout: 64, size: 7 },
  { cin: 64, cout: 64, size: 7 },
];

export interface KernelTiming {
  shape: ConvShape;
  convTransposeMs: number;
  flippedConvMs: number;
  maxDiff: number;
}

const values = (n: number, seed: number) => Array.from({ length: n }, (_, i) => Math.sin((i + seed) * 12.9898) * 0.5);

/** W [cout, cin, k, k] with its kernels flipped and its channels swapped: [cin, cout, k, k] (what the VJP rule's Transpose and Slice compute once per step). */
export function flippedKernels(w: readonly number[], cout: number, cin: number, k: number): number[] {
  const out = new Array<number>(w.length);
  for (let m = 0; m < cout; m++) {
    for (let c = 0; c < cin; c++) {
      for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) out[((c * cout + m) * k + (k - 1 - a)) * k + (k - 1 - b)] = w[((m * cin + c) * k + a) * k + b];
    }
  }
  return out;
}

/** gy [batch, cout, size, size] and the weights as inputs, the input gradient as output: one ConvTranspose by W, or one Conv by W flipped. */
function inputGradModel(s: ConvShape, batch: number, transposed: boolean): Uint8Array {
  const g = new Graph(transposed ? 'conv_transpose' : 'flipped_conv');
  const w = g.input('w', 'float32', transposed ? [s.cout, s.cin, 3, 3] : [s.cin, s.cout, 3, 3]);
  const gy = g.input('gy', 'float32', [batch, s.cout, s.size, s.size]);
  g.output('gx', (transposed ? convTranspose2d : conv2d)(g, gy, w, undefined, { pads: [1, 1, 1, 1] }));
  return serializeModel(g);
}

/**
 * Time both forms of one shape's input gradient.
 *
 * @example const t = await timeInputGrad({ cin: 32, cout: 32, size: 7 }, 64, 21); t.flippedConvMs / t.convTransposeMs
 */
export async function timeInputGrad(s: ConvShape, batch: number, repeats: number): Promise<KernelTiming> {
  const w = values(s.cout * s.cin * 9, 1);
  const gy = Tensor.fromNumbers('float32', [batch, s.cout, s.size, s.size], values(batch * s.cout * s.size * s.size, 2));
  const feeds = {
    old: { gy, w: Tensor.fromNumbers('float32', [s.cout, s.cin, 3, 3], w) },
    flipped: { gy, w: Tensor.fromNumbers('float32', [s.cin, s.cout, 3, 3], flippedKernels(w, s.cout, s.cin, 3)) },
  };
  const sessions = { old: await openSession(inputGradModel(s, batch, true), { where: 'ConvTranspose' }), flipped: await openSession(inputGradModel(s, batch, false), { where: 'flipped Conv' }) };
  try {
    const [a, b] = [(await sessions.old.run(feeds.old)).gx.toNumbers(), (await sessions.flipped.run(feeds.flipped)).gx.toNumbers()];
    const maxDiff = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
    const times = await interleavedMedians({ old: () => sessions.old.run(feeds.old), flipped: () => sessions.flipped.run(feeds.flipped) }, repeats);
    return { shape: s, convTransposeMs: times.old, flippedConvMs: times.flipped, maxDiff };
  } finally {
    await sessions.old.close();
    await sessions.flipped.close();
  }
}

export interface WeightsTiming {
  shape: ConvShape;
  initializerMs: number;
  inputMs: number;
}

/**
 * Time one shape's forward Conv with W as an initializer and as a graph input.
 *
 * @example const t = await timeWeightsAsInput({ cin: 32, cout: 32, size: 7 }, 64, 21); t.inputMs / t.initializerMs
 */
export async function timeWeightsAsInput(s: ConvShape, batch: number, repeats: number): Promise<WeightsTiming> {
  const w = Tensor.fromNumbers('float32', [s.cout, s.cin, 3, 3], values(s.cout * s.cin * 9, 1));
  const x = Tensor.fromNumbers('float32', [batch, s.cin, s.size, s.size], values(batch * s.cin * s.size * s.size, 2));
  const build = (asInput: boolean) => {
    const g = new Graph(asInput ? 'weights_input' : 'weights_initializer');
    const weights = asInput ? g.input('w', 'float32', [s.cout, s.cin, 3, 3]) : g.initializer('w', w);
    g.output('y', conv2d(g, g.input('x', 'float32', [batch, s.cin, s.size, s.size]), weights, undefined, { pads: [1, 1, 1, 1] }));
    return serializeModel(g);
  };
  const sessions = { initializer: await openSession(build(false), { where: 'W initializer' }), input: await openSession(build(true), { where: 'W input' }) };
  const feeds = { initializer: { x }, input: { x, w } };
  try {
    const [a, b] = [(await sessions.initializer.run(feeds.initializer)).y.toNumbers(), (await sessions.input.run(feeds.input)).y.toNumbers()];
    if (a.some((v, i) => Math.abs(v - b[i]) > 1e-4)) throw new Error('the two Convs differ');
    const times = await interleavedMedians({ initializer: () => sessions.initializer.run(feeds.initializer), input: () => sessions.input.run(feeds.input) }, repeats);
    return { shape: s, initializerMs: times.initializer, inputMs: times.input };
  } finally {
    await sessions.initializer.close();
    await sessions.input.close();
  }
}

async function main(): Promise<void> {
  const { values: flags } = parseArgs({ options: { batch: { type: 'string', default: '64' }, repeats: { type: 'string', default: '41' } } });
  const batch = Number(flags.batch);
  process.stdout.write('| input gradient of | ConvTranspose ms | flipped Conv ms | ratio | max abs diff |\n|---|---|---|---|---|\n');
  for (const s of RESNET_CONVS) {
    const t = await timeInputGrad(s, batch, Number(flags.repeats));
    process.stdout.write(`| 3×3 conv ${s.cin}→${s.cout} at ${batch}×${s.size}×${s.size} | ${t.convTransposeMs.toFixed(3)} | ${t.flippedConvMs.toFixed(3)} | ${(t.flippedConvMs / t.convTransposeMs).toFixed(2)} | ${t.maxDiff.toExponential(1)} |\n`);
  }
  process.stdout.write('\n| forward 3×3 conv | W an initializer (model.onnx) ms | W a graph input (train.onnx) ms | ratio |\n|---|---|---|---|\n');
  for (const s of RESNET_CONVS) {
    const t = await timeWeightsAsInput(s, batch, Number(flags.repeats));
    process.stdout.write(`| ${s.cin}→${s.cout} at ${batch}×${s.size}×${s.size} | ${t.initializerMs.toFixed(3)} | ${t.inputMs.toFixed(3)} | ${(t.inputMs / t.initializerMs).toFixed(2)} |\n`);
  }
  process.stdout.write(`\nCommand: \`node --import tsx tools/conv-kernels.ts --batch ${flags.batch} --repeats ${flags.repeats}\` (medians, interleaved).\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
