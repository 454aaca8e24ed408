import { InvalidArgumentError } from 'commander';
import type { BenchSubcommand } from './subcommand.js';
import { loadTaskData } from '../../src/data/datasets.js';
import { TwnnError } from '../../src/common/errors.js';
import { writeFileAtomic } from '../../src/common/files.js';
import { parseFraction, parseInteger, parsePositiveNumber } from '../../src/cli/options.js';
import { loadModelSpec } from '../../src/cli/graph-file.js';
import { EVAL_BATCH } from '../../src/common/training.js';

interface AccuracyFlags {
  target: number;
  evalEvery: number;
  maxSteps: number;
  solvers: string[];
  clipNorm?: number;
  out: string;
  python: string;
}

/** The graph issue 21 races: the paper's MNIST TWNN ResNet, from its initial weights. */
const GRAPH = 'graphs/mnist-resnet.ts';
/** twnn's settings that race by default (ids of `twnn bench solvers`' variants that change inference too). */
const DEFAULT_SOLVERS = ['plain', 'anderson'];

/**
 * `twnn bench to-accuracy`: twnn's settings and the PyTorch twin trained from
 * the same weights on the same batches until a test accuracy, timed.
 */
export const accuracyCommand: BenchSubcommand = {
  name: 'to-accuracy',
  register(bench) {
    bench
      .command('to-accuracy')
      .description(
        `train ${GRAPH} from its initial weights on the same batches with twnn (each of --solvers) and with its PyTorch twin (Debian torch 1.13 with OpenBLAS, ` +
          'its fastest of threads {1, 2} x OPENBLAS_NUM_THREADS {1, default} x dense or active sweeps) until a test accuracy, taking turns of --eval-every steps; ' +
          'reports each one\'s training time to the target (on an idle 2-core machine about an hour)',
      )
      .argument('[graph]', 'a classification graph file', GRAPH)
      .option('--target <fraction>', 'test accuracy to reach', (v) => parseFraction(v, '--target'), 0.99)
      .option('--eval-every <n>', 'steps between test evaluations', (v) => parseInteger(v, '--eval-every', 1), 235)
      .option('--max-steps <n>', 'a contestant that has not reached the target by then stops', (v) => parseInteger(v, '--max-steps', 1), 3752)
      .option('--solvers <list>', 'twnn settings that race: plain, anderson', parseSolvers, DEFAULT_SOLVERS)
      .option('--clip-norm <x>', "clip the gradient's global norm at x on both sides (default: the graph's task.train.clipNorm, none for the ResNet, whose run then collapses near step 1,300: docs/PERFORMANCE.md)", (v) => parsePositiveNumber(v, '--clip-norm'))
      .option('-o, --out <file.md>', 'where the report is written (atomically; the measurements beside it as <file>.json); `twnn bench torch` carries it into docs/PERFORMANCE.md', 'docs/performance/time-to-accuracy.md')
      .option('--python <path>', 'the python with torch, onnx and numpy', '/usr/bin/python3')
      .action(async (graph: string, flags: AccuracyFlags) => {
        const [{ raceToAccuracy }, { accuracyReport }, { SOLVER_VARIANTS }] = await Promise.all([
          import('../bench/to-accuracy.js'),
          import('../bench/to-accuracy-report.js'),
          import('../bench/solvers.js'),
        ]);
        const loaded = await loadModelSpec(graph);
        const spec = flags.clipNorm === undefined ? loaded : { ...loaded, task: { ...loaded.task, train: { ...loaded.task?.train, clipNorm: flags.clipNorm } } };
        if (!spec.task?.data || spec.task.loss !== 'cross_entropy') throw new TwnnError(`${graph}: bench to-accuracy needs a classification task (task.loss 'cross_entropy' and task.data)`);
        const result = await raceToAccuracy({
          graph,
          spec,
          weightsFrom: "the graph's initial values, seed 0",
          train: await loadTaskData(spec.task.data, 'train'),
          test: await loadTaskData(spec.task.data, 'test'),
          twnnVariants: flags.solvers.map((id) => SOLVER_VARIANTS.find((v) => v.id === id)!),
          target: flags.target,
          evalEvery: flags.evalEvery,
          maxSteps: flags.maxSteps,
          evalBatch: EVAL_BATCH,
          agreementSteps: 3,
          tuneSteps: 8,
          torchThreads: [1, 2],
          openblasThreads: [1, undefined],
          python: flags.python,
          log: (line) => process.stderr.write(`${line}\n`),
        });
        const command = [
          'twnn bench to-accuracy',
          ...(graph !== GRAPH ? [graph] : []),
          ...(flags.target !== 0.99 ? [`--target ${flags.target}`] : []),
          `--eval-every ${flags.evalEvery}`,
          `--max-steps ${flags.maxSteps}`,
          `--solvers ${flags.solvers.join(',')}`,
          ...(flags.clipNorm !== undefined ? [`--clip-norm ${flags.clipNorm}`] : []),
        ].join(' ');
        const report = accuracyReport(result, command);
        process.stdout.write(report);
        await writeFileAtomic(flags.out, report);
        // The measurements themselves, so the report can be rewritten without an hour's rerun.
        const json = `${flags.out.replace(/\.md$/, '')}.json`;
        await writeFileAtomic(json, `${JSON.stringify(result, null, 1)}\n`);
        process.stderr.write(`wrote ${flags.out} and ${json}\n`);
      });
  },
};

function parseSolvers(value: string): string[] {
  const ids = value.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = ids.filter((id) => !DEFAULT_SOLVERS.includes(id));
  if (ids.length === 0 || bad.length > 0) throw new InvalidArgumentError(`--solvers expects a comma-separated list of ${DEFAULT_SOLVERS.join(', ')}${bad.length ? `; unknown: ${bad.join(', ')}` : ''}`);
  return DEFAULT_SOLVERS.filter((id) => ids.includes(id));
}
