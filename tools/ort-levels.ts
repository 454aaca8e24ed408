// What onnxruntime's graph optimisation levels pay on a TWNN (issue 21, part 2):
// model.onnx over a few test batches of 64 and one train.onnx step of its
// committed paper run, at each level, one session alive at a time, the levels
// interleaved (each repeat starts with the next). Every level is first checked
// to compute the same outputs as `all` (onnxruntime's default and ours).
//
//   node --import tsx tools/ort-levels.ts [--graphs mnist-resnet,mnist-mlp] [--repeats 5] [--batches 4]
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Tensor } from '../src/ir/tensor.js';
import { buildInferenceGraph } from '../src/lower/inference.js';
import { buildTrainGraph } from '../src/lower/training.js';
import { serializeModel } from '../src/onnx/serialize.js';
import { GRAPH_OPTIMIZATIONS, openSession, type GraphOptimization } from '../src/runtime/session.js';
import { firstStepFeeds } from '../src/runtime/train-feeds.js';
import { median } from '../lab/bench/stats.js';
import { paperRun, testBatches } from './paper-run.js';

/** One level's medians (ms), and its largest difference from `all` on y and the step's loss. */
export interface LevelTiming {
  level: GraphOptimization;
  forward: number;
  step: number;
  /** Session creation of model.onnx and train.onnx, ms (the optimiser's own cost). */
  open: number;
  yDiff: number;
  lossDiff: number;
}

interface Run {
  forward: number;
  step: number;
  open: number;
  y: number[];
  loss: number;
}

/** Time one level once: model.onnx over `xs` (mean per batch, after a warm-up) and one train.onnx step (after a warm-up). */
async function timeLevel(level: GraphOptimization, model: Uint8Array, train: Uint8Array, xs: readonly Tensor[], feeds: Record<string, Tensor>): Promise<Run> {
  let opened = performance.now();
  const inference = await openSession(model, { where: `model.onnx (${level})`, graphOptimization: level });
  let open = performance.now() - opened;
  let forward = 0;
  const y: number[] = [];
  try {
    await inference.run({ x: xs[0] });
    for (const x of xs) {
      const start = performance.now();
      const out = await inference.run({ x });
      forward += performance.now() - start;
      y.push(...out.y.toNumbers());
    }
  } finally {
    await inference.close();
  }
  opened = performance.now();
  const session = await openSession(train, { where: `train.onnx (${level})`, graphOptimization: level });
  open += performance.now() - opened;
  try {
    const warm = await session.run(feeds);
    const start = performance.now();
    await session.run(feeds);
    return { forward: forward / xs.length, step: performance.now() - start, open, y, loss: warm.loss.get(0) };
  } finally {
    await session.close();
  }
}

/**
 * Each level's times on graphs/<name>.ts with its paper weights.
 *
 * @example const levels = await optimizationLevels('mnist-mlp', 3, 2); levels.find((l) => l.level === 'basic')!.forward
 */
export async function optimizationLevels(name: string, repeats: number, batches: number, levels: readonly GraphOptimization[] = GRAPH_OPTIMIZATIONS): Promise<LevelTiming[]> {
  const { spec, weights } = await paperRun(name);
  const inputs = await testBatches(spec, batches);
  const model = serializeModel(buildInferenceGraph(spec, { weights }).graph);
  const trainGraph = buildTrainGraph(spec, { weights });
  const train = serializeModel(trainGraph.graph);
  const feeds = firstStepFeeds(trainGraph, inputs[0]);
  const xs = inputs.map((b) => b.x);
  const runs = new Map<GraphOptimization, Run[]>(levels.map((l) => [l, []]));
  for (let r = 0; r < repeats; r++) {
    for (let k = 0; k < levels.length; k++) {
      const level = levels[(k + r) % levels.length];
      runs.get(level)!.push(await timeLevel(level, model, train, xs, feeds));
    }
  }
  const reference = runs.get('all')?.[0] ?? runs.get(levels[levels.length - 1])![0];
  return levels.map((level) => {
    const rs = runs.get(level)!;
    const yDiff = rs[0].y.reduce((m, v, i) => Math.max(m, Math.abs(v - reference.y[i])), 0);
    return { level, forward: median(rs.map((x) => x.forward)), step: median(rs.map((x) => x.step)), open: median(rs.map((x) => x.open)), yDiff, lossDiff: Math.abs(rs[0].loss - reference.loss) };
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { graphs: { type: 'string', default: 'mnist-resnet,mnist-mlp' }, repeats: { type: 'string', default: '5' }, batches: { type: 'string', default: '4' } } });
  process.stdout.write('| graph | level | model.onnx ms (batch 64) | train.onnx step ms | sessions opened in ms | max abs diff of y from `all` | of the step loss |\n|---|---|---|---|---|---|---|\n');
  for (const name of values.graphs!.split(',')) {
    for (const l of await optimizationLevels(name, Number(values.repeats), Number(values.batches))) {
      process.stdout.write(`| ${name} | ${l.level} | ${l.forward.toFixed(2)} | ${l.step.toFixed(1)} | ${l.open.toFixed(0)} | ${l.yDiff.toExponential(1)} | ${l.lossDiff.toExponential(1)} |\n`);
    }
  }
  process.stdout.write(`\nCommand: \`node --import tsx tools/ort-levels.ts --graphs ${values.graphs} --repeats ${values.repeats} --batches ${values.batches}\` (trained paper weights, medians, one session alive at a time).\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
