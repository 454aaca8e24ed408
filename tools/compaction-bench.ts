// What lazy compaction (region option `compactBelow`, issue 21) costs and saves
// on the trained paper TWNNs: for each compactBelow value, model.onnx over the
// first test batches and one train.onnx step, with only that variant's session
// alive while it is timed (several live sessions disturb each other's runs on
// a 2-core machine: docs/PERFORMANCE.md), variants rotated every repeat, the
// median kept. Every variant must give the first one's sweeps, adjoint steps
// and loss before its times count.
//
//   node --import tsx tools/compaction-bench.ts [--graphs mnist-resnet,mnist-mlp] [--values 1,0.9,0.5] [--repeats 7] [--batches 4]
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Tensor } from '../src/ir/tensor.js';
import { buildInferenceGraph } from '../src/lower/inference.js';
import { buildTrainGraph } from '../src/lower/training.js';
import { serializeModel } from '../src/onnx/serialize.js';
import { openSession } from '../src/runtime/session.js';
import { firstStepFeeds } from '../src/runtime/train-feeds.js';
import { median } from '../lab/bench/stats.js';
import { paperRun, testBatches } from './paper-run.js';

export interface Timed {
  value: number;
  inference: number[];
  step: number[];
  /** Sweeps, adjoint steps and loss, which every value must share. */
  fingerprint: string;
}

/**
 * Time each compactBelow value on the paper run of graphs/<name>.ts, after checking they all compute the same.
 *
 * @example const [eager, lazy] = await benchGraph('mnist-resnet', [1, 0.9], 7, 4);
 */
export async function benchGraph(name: string, values: readonly number[], repeats: number, batches: number): Promise<Timed[]> {
  const { spec, weights } = await paperRun(name);
  const xs = await testBatches(spec, batches);
  const variants = values.map((value) => {
    const build = { weights, regionOverrides: { compactBelow: value } };
    const train = buildTrainGraph(spec, build);
    return { value, model: serializeModel(buildInferenceGraph(spec, build).graph), train: serializeModel(train.graph), feeds: firstStepFeeds(train, xs[0]) };
  });
  const timed: Timed[] = variants.map((v) => ({ value: v.value, inference: [], step: [], fingerprint: '' }));
  for (let r = 0; r < repeats; r++) {
    for (let i = 0; i < variants.length; i++) {
      const k = (i + r) % variants.length;
      const v = variants[k];
      const model = await openSession(v.model, { where: `${name} model.onnx (compactBelow ${v.value})` });
      let sweeps: Tensor | undefined = (await model.run({ x: xs[0].x })).iterations;
      let start = performance.now();
      for (const b of xs) sweeps = (await model.run({ x: b.x })).iterations;
      timed[k].inference.push((performance.now() - start) / xs.length);
      await model.close();
      const train = await openSession(v.train, { where: `${name} train.onnx (compactBelow ${v.value})` });
      const out = await train.run(v.feeds);
      start = performance.now();
      await train.run(v.feeds);
      timed[k].step.push(performance.now() - start);
      await train.close();
      const adjoint = out.iterations_backward.toNumbers().reduce((a, b) => a + b, 0);
      timed[k].fingerprint = `sweeps ${sweeps!.toNumbers().join(',')}; adjoint steps ${adjoint}; loss ${out.loss.toNumbers()[0].toPrecision(6)}`;
    }
  }
  const differs = timed.find((t) => t.fingerprint !== timed[0].fingerprint);
  if (differs) throw new Error(`${name}: compactBelow ${differs.value} computes something else than ${timed[0].value}: ${differs.fingerprint} vs ${timed[0].fingerprint}`);
  return timed;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      graphs: { type: 'string', default: 'mnist-resnet,mnist-mlp' },
      values: { type: 'string', default: '1,0.9,0.5' },
      repeats: { type: 'string', default: '7' },
      batches: { type: 'string', default: '4' },
    },
  });
  const compactBelow = values.values!.split(',').map(Number);
  if (compactBelow.some((v) => !(v >= 0 && v <= 1))) throw new Error(`--values: fractions from 0 to 1, got ${values.values}`);
  for (const name of values.graphs!.split(',')) {
    const timed = await benchGraph(name, compactBelow, Number(values.repeats), Number(values.batches));
    const [inf0, step0] = [median(timed[0].inference), median(timed[0].step)];
    process.stdout.write(`\n${name} (batch 64, ${values.repeats} repeats; ratios to compactBelow ${timed[0].value}; ${timed[0].fingerprint.split(';')[1].trim()})\n\n`);
    process.stdout.write('| compactBelow | inference ms/batch | ratio | training step ms | ratio |\n|---|---|---|---|---|\n');
    for (const t of timed) {
      const [inf, step] = [median(t.inference), median(t.step)];
      process.stdout.write(`| ${t.value} | ${inf.toFixed(1)} | ${(inf / inf0).toFixed(2)} | ${step.toFixed(1)} | ${(step / step0).toFixed(2)} |\n`);
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
