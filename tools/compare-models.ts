// Two exports of the same weights (say, a committed model before and after
// tools/relower-committed.ts --write) on the same test batch: the largest
// difference in `y`, whether every sample took the same sweeps, and their
// inference times, taking turns (medians of --repeats runs each).
//
//   git show HEAD~1:exported/paper/mnist-resnet/model.onnx > /tmp/old.onnx
//   npx tsx tools/compare-models.ts /tmp/old.onnx exported/paper/mnist-resnet/model.onnx --batch 512
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { gatherRows } from '../src/data/batches.js';
import { loadTaskData } from '../src/data/datasets.js';
import type { Tensor } from '../src/ir/tensor.js';
import { openSession } from '../src/runtime/session.js';
import { median } from '../lab/bench/stats.js';

/** What `compareModels` found. */
export interface ModelComparison {
  maxAbsDiffY: number;
  sameSweeps: boolean;
  msA: number;
  msB: number;
}

/**
 * Run `a` and `b` (paths to .onnx files taking the same `x`) on `x`, compare
 * their outputs and time them in turns.
 *
 * @example const c = await compareModels('/tmp/old.onnx', 'exported/paper/mnist-resnet/model.onnx', x, 5); c.msA / c.msB
 */
export async function compareModels(a: string, b: string, x: Tensor, repeats: number): Promise<ModelComparison> {
  const [sa, sb] = [await openSession(a, { verify: false }), await openSession(b, { verify: false })];
  try {
    const [oa, ob] = [await sa.run({ x }), await sb.run({ x })];
    const ya = oa.y.toNumbers();
    const yb = ob.y.toNumbers();
    const maxAbsDiffY = ya.reduce((m, v, i) => Math.max(m, Math.abs(v - yb[i])), 0);
    const ia = oa.iterations.toNumbers();
    const sameSweeps = ob.iterations.toNumbers().every((v, i) => v === ia[i]);
    const times: [number[], number[]] = [[], []];
    for (let r = 0; r < repeats; r++) {
      for (const [k, s] of [[0, sa], [1, sb]] as const) {
        const t = performance.now();
        await s.run({ x });
        times[k].push(performance.now() - t);
      }
    }
    return { maxAbsDiffY, sameSweeps, msA: median(times[0]), msB: median(times[1]) };
  } finally {
    await sa.close();
    await sb.close();
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { batch: { type: 'string', default: '512' }, repeats: { type: 'string', default: '5' }, layout: { type: 'string', default: 'image' } },
  });
  const [a, b] = positionals;
  if (!a || !b) throw new Error('usage: compare-models.ts <a.onnx> <b.onnx> [--batch 512] [--repeats 5] [--layout image|flat]');
  const test = await loadTaskData({ kind: 'mnist', layout: values.layout === 'flat' ? 'flat' : 'image' }, 'test', 'float32');
  const x = gatherRows(test.x, Array.from({ length: Number(values.batch) }, (_, i) => i));
  const c = await compareModels(a, b, x, Number(values.repeats));
  console.log(
    `max |y_a - y_b| ${c.maxAbsDiffY.toExponential(2)}; sweeps identical: ${c.sameSweeps}; ` +
      `batch ${values.batch}, median of ${values.repeats}: ${c.msA.toFixed(0)} ms (a) vs ${c.msB.toFixed(0)} ms (b), a/b ${(c.msA / c.msB).toFixed(2)}`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
