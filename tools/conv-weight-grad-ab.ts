// Which form of a convolution's weight gradient onnxruntime computes faster at
// the TWNN ResNet's shapes (issue 21): one Conv that treats the batch as
// channels (`convWeightGradByConv`, the VJP rule's form until section 14 of
// docs/performance/engine-changes.md) against one MatMul of x's patches by gy
// (`convWeightGradByMatMul`). Each pair is checked to agree, then timed
// interleaved in one process (medians).
//
//   node --import tsx tools/conv-weight-grad-ab.ts [--batch 64] [--repeats 31]
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Graph } from '../src/ir/graph.js';
import { Tensor } from '../src/ir/tensor.js';
import { convWeightGradByConv } from '../src/ops/conv.js';
import { convWeightGradByMatMul } from '../src/ops/conv-weight-grad.js';
import type { Window } from '../src/ops/window.js';
import { serializeModel } from '../src/onnx/serialize.js';
import { openSession } from '../src/runtime/session.js';
import { interleavedMedians } from './paper-run.js';

/** One weight gradient of the ResNet: the conv's input x [batch, cin, size, size], its output gy [batch, cout, outSize, outSize], its window. */
export interface WeightGradShape {
  name: string;
  cin: number;
  size: number;
  cout: number;
  outSize: number;
  win: Window;
}

const window = (k: number, s: number, p: number): Window => ({ kernel: [k, k], strides: [s, s], dilations: [1, 1], pads: [p, p, p, p] });

/** Every distinct conv weight gradient of graphs/mnist-resnet.ts (the wormhole 2→1's ConvTranspose gradient is the Conv form with x and gy swapped). */
export const RESNET_WEIGHT_GRADS: readonly WeightGradShape[] = [
  { name: 'stem 3×3/2 1→16', cin: 1, size: 28, cout: 16, outSize: 14, win: window(3, 2, 1) },
  { name: 'B1 3×3 16→16', cin: 16, size: 14, cout: 16, outSize: 14, win: window(3, 1, 1) },
  { name: 'B2 3×3/2 16→32', cin: 16, size: 14, cout: 32, outSize: 7, win: window(3, 2, 1) },
  { name: 'B2 shortcut 1×1/2 16→32', cin: 16, size: 14, cout: 32, outSize: 7, win: window(1, 2, 0) },
  { name: 'wormhole 2→1 ConvTranspose 2×2/2 32→16', cin: 16, size: 14, cout: 32, outSize: 7, win: window(2, 2, 0) },
  { name: 'B2, B3 3×3 32→32', cin: 32, size: 7, cout: 32, outSize: 7, win: window(3, 1, 1) },
  { name: 'B4 3×3 32→64', cin: 32, size: 7, cout: 64, outSize: 7, win: window(3, 1, 1) },
  { name: 'B4 3×3 64→64', cin: 64, size: 7, cout: 64, outSize: 7, win: window(3, 1, 1) },
  { name: 'wormhole 4→3 1×1 64→32', cin: 64, size: 7, cout: 32, outSize: 7, win: window(1, 1, 0) },
];

export interface WeightGradTiming {
  shape: WeightGradShape;
  convMs: number;
  matMulMs: number;
  maxDiff: number;
}

const values = (n: number, seed: number) => Array.from({ length: n }, (_, i) => Math.sin((i + seed) * 12.9898) * 0.5);

function weightGradModel(s: WeightGradShape, byMatMul: boolean): Uint8Array {
  const g = new Graph(byMatMul ? 'weight_grad_matmul' : 'weight_grad_conv');
  const x = g.input('x', 'float32', ['B', s.cin, s.size, s.size]);
  const gy = g.input('gy', 'float32', ['B', s.cout, s.outSize, s.outSize]);
  g.output('gw', byMatMul ? convWeightGradByMatMul(g, x, gy, s.win) : convWeightGradByConv(g, x, gy, s.win, 1, s.name));
  return serializeModel(g);
}

/**
 * Time both forms of one weight gradient at `batch`, after checking they agree.
 *
 * @example const t = await timeWeightGrad(RESNET_WEIGHT_GRADS[1], 64, 31); t.matMulMs / t.convMs
 */
export async function timeWeightGrad(s: WeightGradShape, batch: number, repeats: number): Promise<WeightGradTiming> {
  const feeds = {
    x: Tensor.fromNumbers('float32', [batch, s.cin, s.size, s.size], values(batch * s.cin * s.size * s.size, 1)),
    gy: Tensor.fromNumbers('float32', [batch, s.cout, s.outSize, s.outSize], values(batch * s.cout * s.outSize * s.outSize, 2)),
  };
  const sessions = { conv: await openSession(weightGradModel(s, false), { where: 'Conv form' }), matMul: await openSession(weightGradModel(s, true), { where: 'MatMul form' }) };
  try {
    const [a, b] = [(await sessions.conv.run(feeds)).gw.toNumbers(), (await sessions.matMul.run(feeds)).gw.toNumbers()];
    if (a.length !== b.length) throw new Error(`${s.name}: the two forms give ${a.length} and ${b.length} values`);
    const scale = a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const maxDiff = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0) / scale;
    const times = await interleavedMedians({ conv: () => sessions.conv.run(feeds), matMul: () => sessions.matMul.run(feeds) }, repeats);
    return { shape: s, convMs: times.conv, matMulMs: times.matMul, maxDiff };
  } finally {
    await sessions.conv.close();
    await sessions.matMul.close();
  }
}

async function main(): Promise<void> {
  const { values: flags } = parseArgs({ options: { batch: { type: 'string', default: '64' }, repeats: { type: 'string', default: '31' } } });
  const batch = Number(flags.batch);
  process.stdout.write('| weight gradient of | Conv form ms | MatMul form ms | ratio | max rel diff |\n|---|---|---|---|---|\n');
  let [conv, matMul] = [0, 0];
  for (const s of RESNET_WEIGHT_GRADS) {
    const t = await timeWeightGrad(s, batch, Number(flags.repeats));
    [conv, matMul] = [conv + t.convMs, matMul + t.matMulMs];
    process.stdout.write(`| ${s.name} | ${t.convMs.toFixed(3)} | ${t.matMulMs.toFixed(3)} | ${(t.matMulMs / t.convMs).toFixed(2)} | ${t.maxDiff.toExponential(1)} |\n`);
  }
  process.stdout.write(`| all of them | ${conv.toFixed(2)} | ${matMul.toFixed(2)} | ${(matMul / conv).toFixed(2)} | |\n`);
  process.stdout.write(`\nCommand: \`node --import tsx tools/conv-weight-grad-ab.ts --batch ${flags.batch} --repeats ${flags.repeats}\` (medians, interleaved, batch ${batch}).\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
