// What one iteration of an ONNX Loop costs in onnxruntime-node beyond its
// body's kernels (issue 21, part 2: "several sweeps per Loop iteration" can
// only save this). A Loop of `trips` iterations whose body scales each of
// `carried` tensors once is timed against the same Muls unrolled into a plain
// graph; (T_loop − T_unrolled) / trips is the overhead per iteration. A body
// `depth` nodes deep per tensor shows whether that overhead grows with the
// body (onnxruntime sets up an execution frame for the body every iteration).
// Both compute the same values (checked).
//
//   node --import tsx tools/loop-overhead.ts [--trips 200] [--carried 1,4,16] [--depths 1,25] [--shapes 64x16,64x32x7x7] [--repeats 7]
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Graph } from '../src/ir/graph.js';
import { Tensor } from '../src/ir/tensor.js';
import { loop, mul } from '../src/ops/public.js';
import { serializeModel } from '../src/onnx/serialize.js';
import { openSession } from '../src/runtime/session.js';
import { interleavedMedians } from './paper-run.js';

/** One configuration's medians (ms) and the overhead per iteration (µs). */
export interface LoopOverhead {
  carried: number;
  depth: number;
  shape: number[];
  trips: number;
  loopMs: number;
  unrolledMs: number;
  perIterationUs: number;
}

/** `carried` inputs of `shape`, each multiplied by 0.999 `depth` times an iteration for `trips` iterations: in a Loop, or unrolled. */
function model(carried: number, depth: number, shape: readonly number[], trips: number, unrolled: boolean): Uint8Array {
  const g = new Graph(unrolled ? 'unrolled' : 'looped');
  const xs = [...Array(carried).keys()].map((k) => g.input(`x${k}`, 'float32', [...shape]));
  const factor = g.constant(Tensor.scalar(0.999, 'float32'));
  const sweep = (b: Graph, vs: typeof xs) => vs.map((v) => {
    for (let d = 0; d < depth; d++) v = mul(b, v, factor);
    return v;
  });
  let ys: typeof xs;
  if (unrolled) {
    ys = xs;
    for (let t = 0; t < trips; t++) ys = sweep(g, ys);
  } else {
    ys = loop(g, { name: 'loop', maxTrip: trips, carried: xs, body: (b, it) => ({ carried: sweep(b, it.carried) }) }).carried;
  }
  ys.forEach((v, k) => g.output(`y${k}`, v));
  return serializeModel(g);
}

/**
 * Time a Loop against its unrolled twin.
 *
 * @example const o = await loopOverhead(4, 1, [64, 16], 200, 5); o.perIterationUs
 */
export async function loopOverhead(carried: number, depth: number, shape: readonly number[], trips: number, repeats: number): Promise<LoopOverhead> {
  const size = shape.reduce((n, d) => n * d, 1);
  const feeds = Object.fromEntries([...Array(carried).keys()].map((k) => [`x${k}`, Tensor.fromNumbers('float32', [...shape], Array.from({ length: size }, (_, i) => (i % 7) + k))]));
  const sessions = { loop: await openSession(model(carried, depth, shape, trips, false), { where: 'loop' }), unrolled: await openSession(model(carried, depth, shape, trips, true), { where: 'unrolled' }) };
  try {
    const [a, b] = [await sessions.loop.run(feeds), await sessions.unrolled.run(feeds)];
    const diff = a.y0.toNumbers().reduce((m, v, i) => Math.max(m, Math.abs(v - b.y0.get(i))), 0);
    if (diff > 1e-3) throw new Error(`the Loop and its unrolled twin differ by ${diff}`);
    const { loop: loopMs, unrolled: unrolledMs } = await interleavedMedians({ loop: () => sessions.loop.run(feeds), unrolled: () => sessions.unrolled.run(feeds) }, repeats);
    return { carried, depth, shape: [...shape], trips, loopMs, unrolledMs, perIterationUs: ((loopMs - unrolledMs) / trips) * 1000 };
  } finally {
    await sessions.loop.close();
    await sessions.unrolled.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { trips: { type: 'string', default: '200' }, carried: { type: 'string', default: '1,4,16' }, depths: { type: 'string', default: '1,25' }, shapes: { type: 'string', default: '64x16,64x32x7x7' }, repeats: { type: 'string', default: '7' } } });
  process.stdout.write('| carried tensors | body nodes per tensor | shape | trips | Loop ms | unrolled ms | overhead per iteration (µs) |\n|---|---|---|---|---|---|---|\n');
  for (const shape of values.shapes!.split(',').map((s) => s.split('x').map(Number))) {
    for (const depth of values.depths!.split(',').map(Number)) {
      for (const carried of values.carried!.split(',').map(Number)) {
        const o = await loopOverhead(carried, depth, shape, Number(values.trips), Number(values.repeats));
        process.stdout.write(`| ${o.carried} | ${o.depth} | ${o.shape.join('×')} | ${o.trips} | ${o.loopMs.toFixed(2)} | ${o.unrolledMs.toFixed(2)} | ${o.perIterationUs.toFixed(1)} |\n`);
      }
    }
  }
  process.stdout.write(`\nCommand: \`node --import tsx tools/loop-overhead.ts --trips ${values.trips} --carried ${values.carried} --depths ${values.depths} --shapes ${values.shapes} --repeats ${values.repeats}\`.\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
