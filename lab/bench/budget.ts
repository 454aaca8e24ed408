// The deployer's anytime curve: test accuracy, sweeps and latency of one
// exported model against the maxIter fed to its budget inputs, all from the
// same model.onnx (no re-export). Each repeat runs every budget once over the
// same test subset, budgets interleaved, so all of them see the same machine
// load; a budget's latency is the median over repeats.
import { join } from 'node:path';
import { TwnnError } from '../../src/common/errors.js';
import { gatherRows, type Dataset } from '../../src/data/batches.js';
import { lineChart, writeChart } from '../../src/report/charts.js';
import { Tensor } from '../../src/ir/tensor.js';
import type { TwnnSession } from '../../src/runtime/session.js';
import { median } from './stats.js';

/** One budget's results. */
export interface BudgetPoint {
  /** The maxIter fed to every region. */
  maxIter: number;
  /** Fraction of the subset classified correctly. */
  accuracy: number;
  /** Mean forward sweeps per sample (summed over regions). */
  sweepsMean: number;
  /** Samples that ran out of sweeps unsettled in some region. */
  unsettled: number;
  /** Median over repeats of the subset's wall time per sample, in milliseconds. */
  msPerSample: number;
}

export interface BudgetBenchOptions {
  /** The maxIter values to run, ascending. */
  maxIters: readonly number[];
  /** Rows per run. */
  batch: number;
  /** Timed passes over the subset per budget (after one untimed warm-up pass). */
  repeats: number;
  log?: (line: string) => void;
}

/**
 * Accuracy, sweeps, unsettled samples and latency of `session`'s model on
 * `data` (a classification subset) at each maxIter, every region given the
 * same one and its built tol.
 *
 * @example const points = await budgetCurve(session, subset, { maxIters: [2, 4, 8], batch: 100, repeats: 3 });
 */
export async function budgetCurve(session: TwnnSession, data: Dataset, options: BudgetBenchOptions): Promise<BudgetPoint[]> {
  if (session.budget.length === 0) throw new TwnnError(`${session.where}: the model has no budget inputs; re-export it (twnn build, or tools/relower-committed.ts --write for a committed one)`);
  const n = data.x.shape[0];
  const batches: { x: Tensor; labels: number[] }[] = [];
  for (let start = 0; start < n; start += options.batch) {
    const rows = Array.from({ length: Math.min(options.batch, n - start) }, (_, i) => start + i);
    batches.push({ x: gatherRows(data.x, rows), labels: gatherRows(data.target, rows).toNumbers() });
  }
  const feeds = (maxIter: number) => Object.fromEntries(session.budget.map((b) => [b.maxIterInput, Tensor.scalar(maxIter, 'int64')]));

  const pass = async (maxIter: number) => {
    let correct = 0;
    let sweeps = 0;
    let unsettled = 0;
    const start = performance.now();
    for (const b of batches) {
      const out = await session.run({ x: b.x, ...feeds(maxIter) });
      const y = out.y.toNumbers();
      const classes = out.y.shape[1] as number;
      b.labels.forEach((label, i) => {
        const row = y.slice(i * classes, (i + 1) * classes);
        if (row.indexOf(Math.max(...row)) === label) correct++;
      });
      sweeps += out.iterations.toNumbers().reduce((a, c) => a + c, 0);
      unsettled += out.unsettled.toNumbers().filter((u) => u > 0).length;
    }
    return { correct, sweeps, unsettled, ms: performance.now() - start };
  };

  const results = new Map<number, { correct: number; sweeps: number; unsettled: number; times: number[] }>();
  for (const m of options.maxIters) {
    const first = await pass(m); // warm-up, and the counts (they do not change between passes)
    results.set(m, { correct: first.correct, sweeps: first.sweeps, unsettled: first.unsettled, times: [] });
  }
  for (let r = 0; r < options.repeats; r++) {
    for (const m of options.maxIters) results.get(m)!.times.push((await pass(m)).ms);
    options.log?.(`repeat ${r + 1} of ${options.repeats} done`);
  }
  return options.maxIters.map((m) => {
    const r = results.get(m)!;
    return { maxIter: m, accuracy: r.correct / n, sweepsMean: r.sweeps / n, unsettled: r.unsettled, msPerSample: median(r.times) / n };
  });
}

/**
 * The curve as a markdown table, with the command that made it.
 *
 * @example budgetTable(points, 'twnn bench budget exported/paper/mnist-resnet/model.onnx', 1000)
 */
export function budgetTable(points: readonly BudgetPoint[], command: string, samples: number): string {
  const rows = points.map((p) => `| ${p.maxIter} | ${(100 * p.accuracy).toFixed(2)} | ${p.sweepsMean.toFixed(2)} | ${p.unsettled} | ${p.msPerSample.toFixed(3)} |`);
  return [
    `\`${command}\``,
    '',
    `| maxIter | test accuracy % (${samples} samples) | sweeps per sample | unsettled samples | ms per sample |`,
    '|---:|---:|---:|---:|---:|',
    ...rows,
    '',
  ].join('\n');
}

/**
 * Draw the curve into `dir`: `budget-accuracy` (accuracy against maxIter)
 * and `budget-latency` (ms per sample against maxIter), each as SVG and PNG.
 * Returns the paths without extension.
 *
 * @example await drawBudget(points, 'docs/figures', 'paper MNIST ResNet');
 */
export async function drawBudget(points: readonly BudgetPoint[], dir: string, label: string): Promise<string[]> {
  const x = points.map((p) => p.maxIter);
  const charts: [string, Promise<string>][] = [
    [
      'budget-accuracy',
      lineChart({ title: `${label}: test accuracy against the run-time maxIter`, xLabel: 'maxIter (every region; log scale)', logX: true, yLabel: 'test accuracy %', series: [{ name: 'accuracy %', x, y: points.map((p) => 100 * p.accuracy) }] }),
    ],
    [
      'budget-latency',
      lineChart({
        title: `${label}: latency and sweeps against the run-time maxIter`,
        xLabel: 'maxIter (every region; log scale)',
        logX: true,
        yLabel: 'ms per sample / sweeps per sample',
        series: [
          { name: 'ms per sample', x, y: points.map((p) => p.msPerSample) },
          { name: 'sweeps per sample', x, y: points.map((p) => p.sweepsMean) },
        ],
      }),
    ],
  ];
  const paths: string[] = [];
  for (const [name, svg] of charts) {
    const path = join(dir, name);
    await writeChart(path, await svg);
    paths.push(path);
  }
  return paths;
}
