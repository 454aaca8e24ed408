import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { TwnnError } from '../../src/common/errors.js';
import { writeFileAtomic } from '../../src/common/files.js';
import { gatherRows, makeDataset } from '../../src/data/batches.js';
import { loadTaskData } from '../../src/data/datasets.js';
import { MANIFEST_FILE } from '../../src/contract/files.js';
import { readManifest } from '../../src/contract/read-manifest.js';
import { MAX_MAX_ITER, MIN_MAX_ITER } from '../../src/contract/budget.js';
import { openSession } from '../../src/runtime/session.js';
import { parseInteger } from '../../src/cli/options.js';
import { deviceFromFlags, deviceOption, tf32Option, type DeviceFlags } from '../../src/cli/device-option.js';
import type { BenchSubcommand } from './subcommand.js';

interface BudgetFlags extends DeviceFlags {
  maxIter?: number[];
  samples: number;
  batch: number;
  repeats: number;
  out?: string;
}

/** maxIter values run when --max-iter is not given (the model's built maxIter is added). */
const DEFAULT_MAX_ITERS = [2, 3, 4, 5, 6, 8, 10, 15, 20, 30];

/**
 * `twnn bench budget <model.onnx>`: the deployer's anytime curve, test
 * accuracy, sweeps and latency against the maxIter fed to the model's budget
 * inputs (lab/bench/budget.ts), as a table and, with --out, two figures.
 *
 * @example BENCH_SUBCOMMANDS.push(budgetCommand);
 */
export const budgetCommand: BenchSubcommand = {
  name: 'budget',
  register(bench: Command) {
    bench
      .command('budget')
      .description(
        "test accuracy, sweeps per sample, unsettled samples and latency of an exported classifier against the run-time maxIter of every region " +
          "(its budget inputs, the built tol): the deployer's anytime curve, from one model.onnx without re-exporting",
      )
      .argument('<model>', 'model.onnx of an export with budget inputs and a classification task in its manifest (e.g. exported/paper/mnist-resnet/model.onnx)')
      .option('--max-iter <list>', `maxIter values, comma-separated (default ${DEFAULT_MAX_ITERS.join(',')} and the built maxIter)`, parseMaxIters)
      .option('--samples <n>', 'the first n test samples', (v) => parseInteger(v, '--samples', 1), 1000)
      .option('--batch <n>', 'rows per run', (v) => parseInteger(v, '--batch', 1), 100)
      .option('--repeats <n>', 'timed passes over the samples per maxIter, interleaved (median)', (v) => parseInteger(v, '--repeats', 1), 3)
      .option('-o, --out <dir>', 'also write budget.md (the table) and the figures budget-accuracy and budget-latency (.svg, .png) into this folder')
      .addOption(deviceOption())
      .addOption(tf32Option())
      .action(async (model: string, flags: BudgetFlags) => {
        const { budgetCurve, budgetTable, drawBudget } = await import('../bench/budget.js');
        const manifestPath = join(model, '..', MANIFEST_FILE);
        const manifest = await readManifest(manifestPath);
        const data = manifest.task?.data;
        if (!data || manifest.task.loss !== 'cross_entropy') throw new TwnnError(`${manifestPath}: twnn bench budget needs a classification task (task.loss cross_entropy with task.data)`);
        const session = await openSession(model, { device: deviceFromFlags(flags) });
        try {
          const built = Math.max(...session.budget.map((b) => b.maxIter));
          const maxIters = flags.maxIter ?? [...new Set([...DEFAULT_MAX_ITERS.filter((m) => m < built), built])];
          const test = await loadTaskData(data, 'test', manifest.dtype === 'float64' ? 'float64' : 'float32');
          const rows = Array.from({ length: Math.min(flags.samples, test.x.shape[0]) }, (_, i) => i);
          const subset = makeDataset(test.name, gatherRows(test.x, rows), gatherRows(test.target, rows));
          const points = await budgetCurve(session, subset, { maxIters, batch: flags.batch, repeats: flags.repeats, log: (line) => process.stderr.write(`${line}\n`) });
          const command = ['twnn bench budget', model, ...(flags.maxIter ? [`--max-iter ${flags.maxIter.join(',')}`] : []), `--samples ${flags.samples}`, `--batch ${flags.batch}`, `--repeats ${flags.repeats}`].join(' ');
          const table = budgetTable(points, command, rows.length);
          process.stdout.write(table);
          if (flags.out) {
            await mkdir(flags.out, { recursive: true });
            await writeFileAtomic(join(flags.out, 'budget.md'), table);
            for (const path of await drawBudget(points, flags.out, manifest.name)) process.stdout.write(`wrote ${path}.svg, ${path}.png\n`);
          }
        } finally {
          await session.close();
        }
      });
  },
};

function parseMaxIters(value: string): number[] {
  return value.split(',').map((s) => parseInteger(s.trim(), '--max-iter', MIN_MAX_ITER, MAX_MAX_ITER)).sort((a, b) => a - b);
}
