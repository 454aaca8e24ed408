// An engine change's effect on a training step, across code versions: export
// graphs/<name>.ts's train.onnx with each version of the code (`--export
// <file>`, run once before and once after the change), then time the two
// files on the same real training steps (twnn train's first batches from the
// graph's initial weights, the weights advanced by the first file's outputs),
// interleaved step by step in one process. The two must give the same losses.
//
//   node --import tsx tools/train-step-ab.ts mnist-resnet --export /tmp/before.onnx   (on the old code)
//   node --import tsx tools/train-step-ab.ts mnist-resnet --export /tmp/after.onnx    (on the new code)
//   node --import tsx tools/train-step-ab.ts mnist-resnet /tmp/before.onnx /tmp/after.onnx [--steps 40]
//   node --import tsx tools/train-step-ab.ts mnist-resnet --blocked [--steps 40]
// `--blocked` times this code's train.onnx with blocked convolutions off
// (before) and on (after): a session option, not a second file; so does
// `--threads 2,1` with onnxruntime's CPU threads (before, after).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { batchRows, shuffledOrder, takeBatch } from '../src/data/batches.js';
import { loadTaskData } from '../src/data/datasets.js';
import { Tensor } from '../src/ir/tensor.js';
import { buildTrainGraph } from '../src/lower/training.js';
import { serializeModel } from '../src/onnx/serialize.js';
import { openSession } from '../src/runtime/session.js';
import { firstStepFeeds, takeNewValues } from '../src/runtime/train-feeds.js';
import type { ModelSpec } from '../src/twnn/spec.js';
import { median } from '../lab/bench/stats.js';

export interface StepAb {
  steps: number;
  /** Medians, ms. */
  before: number;
  after: number;
  /** The median of the per-step ratios after/before. */
  stepRatio: number;
  maxLossDiff: number;
}

async function specOf(name: string): Promise<ModelSpec> {
  return (await import(pathToFileURL(join(process.cwd(), 'graphs', `${name}.ts`)).href)).default as ModelSpec;
}

/**
 * train.onnx of graphs/<name>.ts as this code builds it, from its initial weights.
 *
 * @example writeFileSync('/tmp/before.onnx', await exportTrainGraph('mnist-resnet'));
 */
export async function exportTrainGraph(name: string): Promise<Uint8Array> {
  return serializeModel(buildTrainGraph(await specOf(name)).graph);
}

/**
 * Time two train.onnx files on the same `steps` real training steps, interleaved.
 *
 * @example const ab = await compareSteps('mnist-resnet', before, after, 40); ab.after / ab.before
 */
export async function compareSteps(
  name: string,
  before: Uint8Array,
  after: Uint8Array,
  steps: number,
  options: { blocked?: [boolean, boolean]; threads?: [number, number] } = {},
): Promise<StepAb> {
  const spec = await specOf(name);
  const data = await loadTaskData(spec.task!.data!, 'train');
  const batch = spec.task?.train?.batch ?? 64;
  const order = shuffledOrder(data.x.shape[0], 0, 0);
  const feeds: Record<string, Tensor> = firstStepFeeds(buildTrainGraph(spec), takeBatch(data, batchRows(order, 0, batch)));
  const [blockedBefore, blockedAfter] = options.blocked ?? [undefined, undefined];
  const [threadsBefore, threadsAfter] = options.threads ?? [undefined, undefined];
  const sessions = {
    before: await openSession(before, { where: 'before', blockedConvolutions: blockedBefore, threads: threadsBefore }),
    after: await openSession(after, { where: 'after', blockedConvolutions: blockedAfter, threads: threadsAfter }),
  };
  try {
    await sessions.before.run(feeds);
    await sessions.after.run(feeds);
    const times = { before: [] as number[], after: [] as number[] };
    let maxLossDiff = 0;
    for (let step = 1; step <= steps; step++) {
      const f = { ...feeds, ...takeBatch(data, batchRows(order, step - 1, batch)), step: Tensor.fromNumbers('int64', [], [step]) };
      const out: Record<string, Record<string, Tensor>> = {};
      // Alternate which goes first, so neither always follows the other's step.
      for (const side of step % 2 ? (['before', 'after'] as const) : (['after', 'before'] as const)) {
        const start = performance.now();
        out[side] = await sessions[side].run(f);
        times[side].push(performance.now() - start);
      }
      maxLossDiff = Math.max(maxLossDiff, Math.abs(out.before.loss.get(0) - out.after.loss.get(0)));
      takeNewValues(feeds, out.before);
    }
    return { steps, before: median(times.before), after: median(times.after), stepRatio: median(times.before.map((b, i) => times.after[i] / b)), maxLossDiff };
  } finally {
    await sessions.before.close();
    await sessions.after.close();
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { export: { type: 'string' }, blocked: { type: 'boolean', default: false }, threads: { type: 'string' }, steps: { type: 'string', default: '40' } },
  });
  const [name, beforeFile, afterFile] = positionals;
  if (!name) throw new Error('usage: train-step-ab.ts <graph name> (--export <file> | <before.onnx> <after.onnx>) [--steps n]');
  if (values.export) {
    writeFileSync(values.export, await exportTrainGraph(name));
    process.stdout.write(`wrote ${values.export}\n`);
    return;
  }
  const threads = values.threads?.split(',').map(Number) as [number, number] | undefined;
  const ab = values.blocked || threads
    ? await (async () => {
        const file = await exportTrainGraph(name);
        return compareSteps(name, file, file, Number(values.steps), values.blocked ? { blocked: [false, true] } : { threads });
      })()
    : await compareSteps(name, readFileSync(beforeFile), readFileSync(afterFile), Number(values.steps));
  process.stdout.write(
    `${name}, ${ab.steps} real training steps interleaved: before ${ab.before.toFixed(1)} ms, after ${ab.after.toFixed(1)} ms (medians; after/before ${(ab.after / ab.before).toFixed(3)}, ` +
      `median per-step ratio ${ab.stepRatio.toFixed(3)}); largest loss difference ${ab.maxLossDiff.toExponential(1)}\n`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
