import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { BenchSubcommand } from './subcommand.js';
import { loadTaskData } from '../../src/data/datasets.js';
import { TwnnError } from '../../src/common/errors.js';
import { writeFileAtomic } from '../../src/common/files.js';
import { readInitializers, readModelFile } from '../../src/onnx/load.js';
import { parseInteger } from '../../src/cli/options.js';
import { loadModelSpec } from '../../src/cli/graph-file.js';

interface SolverFlags {
  batch: number;
  samples: number;
  repeats: number;
  weights: string;
  out?: string;
  engine?: boolean;
}

/** The TWNNs the issue measures: the MLP and the ResNet, with their paper runs' trained weights. */
const DEFAULT_GRAPHS = ['graphs/mnist-mlp.ts', 'graphs/mnist-resnet.ts'];

/**
 * `twnn bench solvers [graph.ts...]`: sweeps, inference and training-step time
 * of plain iteration (default and old absolute adjoint stop), Anderson
 * acceleration, limited-memory Broyden and the Jacobian penalty, interleaved in one run.
 */
export const solversCommand: BenchSubcommand = {
  name: 'solvers',
  register(bench) {
    bench
      .command('solvers')
      .description(
        'compare fixed-point settings on trained TWNNs in one interleaved run: forward sweeps per sample, inference time per batch and one ' +
          'train.onnx step (sweeps, adjoint steps, time) for plain iteration (default relative adjoint stop, and the old absolute one), ' +
          'Anderson acceleration and limited-memory Broyden forward and adjoint, and the Jacobian penalty; each variant is checked against plain iteration\'s predictions first',
      )
      .argument('[graphs...]', `graph files (default: ${DEFAULT_GRAPHS.join(' ')})`)
      .option('--weights <dir>', 'trained weights: <dir>/<graph name>/model.onnx where present, else the graph\'s initial values', 'exported/paper')
      .option('--batch <n>', 'rows per inference run and of the training step', (v) => parseInteger(v, '--batch', 1), 64)
      .option('--samples <n>', 'test samples run through inference', (v) => parseInteger(v, '--samples', 1), 512)
      .option('--repeats <n>', 'timed repetitions, interleaved across the variants (medians)', (v) => parseInteger(v, '--repeats', 1), 5)
      .option('--engine', 'compare the engine\'s sweeps instead: active-row sweeps gathered every step or in working sets (lazy compaction below 0.9 and 0.5), dense sweeps, with and without hoisted loop invariants (plain iteration)')
      .option('-o, --out <file.md>', 'also write the report to this markdown file')
      .action(async (files: string[], flags: SolverFlags) => {
        const { benchSolvers, solverReport, ENGINE_VARIANTS } = await import('../bench/solvers.js');
        const graphs = [];
        for (const file of files.length > 0 ? files : DEFAULT_GRAPHS) {
          const spec = await loadModelSpec(file);
          if (!spec.task?.data) throw new TwnnError(`${file}: has no task.data to take test samples from`);
          const trained = join(flags.weights, basename(file).replace(/\.[mc]?[jt]s$/, ''), 'model.onnx');
          const weights = existsSync(trained) ? readInitializers(await readModelFile(trained), trained) : undefined;
          graphs.push({ name: `${file}${weights ? ` (weights ${trained})` : ' (initial weights)'}`, spec, data: await loadTaskData(spec.task.data, 'test'), ...(weights ? { weights } : {}) });
        }
        const results = await benchSolvers({ graphs, batch: flags.batch, samples: flags.samples, repeats: flags.repeats, ...(flags.engine ? { variants: ENGINE_VARIANTS } : {}), log: (line) => process.stderr.write(`${line}\n`) });
        const command = ['twnn bench solvers', ...files, `--batch ${flags.batch}`, `--samples ${flags.samples}`, `--repeats ${flags.repeats}`, ...(flags.engine ? ['--engine'] : [])].join(' ');
        const report = solverReport(results, command);
        process.stdout.write(report);
        if (flags.out) await writeFileAtomic(flags.out, report);
      });
  },
};
