// The engine's overhead per sweep (issue 21, part 5), whatever the model's
// convergence: a TWNN's time against what its sweeps would cost as passes of
// the same blocks run once as a plain network (its like-for-like baseline,
// trained), both timed here, one session alive at a time, interleaved.
//
//   forward:  T_twnn(model.onnx) / (s̄ · T_plain(model.onnx))
//   training: T_twnn(train.onnx) / ((s̄ + 1) · F + (ā + 1) · Bk),  F = T_plain(model.onnx), Bk = T_plain(train.onnx) − F
//
// s̄ is the mean forward sweeps per sample of one region (the `iterations`
// output over the regions), ā the mean adjoint steps; the training step adds
// one sweep at S* and the parameters' VJP to the forward sweeps and adjoint
// steps. 1 means a sweep costs exactly a pass of the plain network's blocks
// (the plain network's stem and head count in its pass, which flatters the
// TWNN a little); above 1 is what the Loops, the row bookkeeping and the small
// late working sets add.
//
//   node --import tsx tools/engine-efficiency.ts [--pairs mnist-resnet:mnist-resnet-gn-plain,mnist-mlp:mnist-mlp-plain] [--repeats 7] [--batches 4]
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Tensor } from '../src/ir/tensor.js';
import { loopMetadata } from '../src/lower/fixed-point.js';
import { buildInferenceGraph } from '../src/lower/inference.js';
import { buildTrainGraph } from '../src/lower/training.js';
import { serializeModel } from '../src/onnx/serialize.js';
import { openSession } from '../src/runtime/session.js';
import { firstStepFeeds } from '../src/runtime/train-feeds.js';
import { mean, median } from '../lab/bench/stats.js';
import type { ModelSpec } from '../src/twnn/spec.js';
import { paperRun, testBatches } from './paper-run.js';

interface Exported {
  name: string;
  regions: number;
  model: Uint8Array;
  train: Uint8Array;
  feeds: Record<string, Tensor>;
}

/** Forward and training overhead of a TWNN against its plain network, with what they were computed from. */
export interface Efficiency {
  twnn: string;
  plain: string;
  /** Mean forward sweeps per sample of one region, and adjoint steps (training step). */
  sweeps: number;
  adjointSteps: number;
  /** Medians, ms: model.onnx per batch of 64 and one train.onnx step. */
  twnnForward: number;
  twnnStep: number;
  plainForward: number;
  plainStep: number;
  forwardOverhead: number;
  trainingOverhead: number;
}

async function exported(name: string, batch: { x: Tensor; target: Tensor }): Promise<Exported & { spec: ModelSpec }> {
  const { spec, weights } = await paperRun(name);
  const build = { weights };
  const model = buildInferenceGraph(spec, build);
  const train = buildTrainGraph(spec, build);
  const regions = Object.values(loopMetadata(model.graph)).filter((json) => (JSON.parse(json) as { role?: string }).role === 'iterate').length;
  return { name, spec, regions, model: serializeModel(model.graph), train: serializeModel(train.graph), feeds: firstStepFeeds(train, batch) };
}

/** Time `e` once, with only its sessions alive: model.onnx over `xs` (per batch) and one train.onnx step, after a warm-up each. */
async function timeOnce(e: Exported, xs: readonly Tensor[]): Promise<{ forward: number; step: number; sweeps: number[]; adjoint: number[] }> {
  const model = await openSession(e.model, { where: `${e.name} model.onnx` });
  const sweeps: number[] = [];
  let forward = 0;
  try {
    await model.run({ x: xs[0] });
    for (const x of xs) {
      const start = performance.now();
      const out = await model.run({ x });
      forward += performance.now() - start;
      if (out.iterations) sweeps.push(...out.iterations.toNumbers().map((s) => s / Math.max(1, e.regions)));
    }
  } finally {
    await model.close();
  }
  const train = await openSession(e.train, { where: `${e.name} train.onnx` });
  try {
    const warm = await train.run(e.feeds);
    const start = performance.now();
    await train.run(e.feeds);
    const step = performance.now() - start;
    const adjoint = warm.iterations_backward ? warm.iterations_backward.toNumbers().map((a) => a / Math.max(1, e.regions)) : [];
    return { forward: forward / xs.length, step, sweeps, adjoint };
  } finally {
    await train.close();
  }
}

/**
 * Measure one TWNN against its plain network (see the head of this file).
 *
 * @example const e = await efficiency('mnist-mlp', 'mnist-mlp-plain', 7, 4); e.forwardOverhead // 1.4
 */
export async function efficiency(twnnName: string, plainName: string, repeats: number, batches: number): Promise<Efficiency> {
  const inputs = await testBatches((await paperRun(twnnName)).spec, batches);
  const [twnn, plain] = [await exported(twnnName, inputs[0]), await exported(plainName, inputs[0])];
  if (twnn.regions === 0) throw new Error(`${twnnName}: has no fixed-point region`);
  if (plain.regions !== 0) throw new Error(`${plainName}: has fixed-point regions; the baseline must be plain`);
  const xs = inputs.map((b) => b.x);
  const times = { twnn: { forward: [] as number[], step: [] as number[] }, plain: { forward: [] as number[], step: [] as number[] } };
  let counts = { sweeps: [] as number[], adjoint: [] as number[] };
  for (let r = 0; r < repeats; r++) {
    for (const side of r % 2 === 0 ? (['twnn', 'plain'] as const) : (['plain', 'twnn'] as const)) {
      const t = await timeOnce(side === 'twnn' ? twnn : plain, xs);
      times[side].forward.push(t.forward);
      times[side].step.push(t.step);
      if (side === 'twnn') counts = { sweeps: t.sweeps, adjoint: t.adjoint };
    }
  }
  const [twnnForward, twnnStep, plainForward, plainStep] = [times.twnn.forward, times.twnn.step, times.plain.forward, times.plain.step].map(median);
  const sweeps = mean(counts.sweeps);
  const adjointSteps = mean(counts.adjoint);
  const backward = Math.max(plainStep - plainForward, 0);
  return {
    twnn: twnnName,
    plain: plainName,
    sweeps,
    adjointSteps,
    twnnForward,
    twnnStep,
    plainForward,
    plainStep,
    forwardOverhead: twnnForward / (sweeps * plainForward),
    trainingOverhead: twnnStep / ((sweeps + 1) * plainForward + (adjointSteps + 1) * backward),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pairs: { type: 'string', default: 'mnist-resnet:mnist-resnet-gn-plain,mnist-mlp:mnist-mlp-plain' },
      repeats: { type: 'string', default: '7' },
      batches: { type: 'string', default: '4' },
    },
  });
  process.stdout.write('| TWNN | plain | sweeps/sample/region | adjoint steps | TWNN model.onnx ms | plain ms | forward overhead | TWNN step ms | plain step ms | training overhead |\n');
  process.stdout.write('|---|---|---|---|---|---|---|---|---|---|\n');
  for (const pair of values.pairs!.split(',')) {
    const [twnnName, plainName] = pair.split(':');
    const e = await efficiency(twnnName, plainName, Number(values.repeats), Number(values.batches));
    const f = (v: number) => v.toFixed(v < 10 ? 2 : 1);
    process.stdout.write(
      `| ${e.twnn} | ${e.plain} | ${f(e.sweeps)} | ${f(e.adjointSteps)} | ${f(e.twnnForward)} | ${f(e.plainForward)} | **${e.forwardOverhead.toFixed(2)}** | ${f(e.twnnStep)} | ${f(e.plainStep)} | **${e.trainingOverhead.toFixed(2)}** |\n`,
    );
  }
  process.stdout.write(`\nCommand: \`node --import tsx tools/engine-efficiency.ts --repeats ${values.repeats} --batches ${values.batches}\` (batch 64, trained paper weights).\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
