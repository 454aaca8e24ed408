import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, Option } from 'commander';
import type { BenchSubcommand } from './subcommand.js';
import { loadTaskData } from '../../src/data/datasets.js';
import { TwnnError } from '../../src/common/errors.js';
import { writeFileAtomic } from '../../src/common/files.js';
import { readInitializers, readModelFile } from '../../src/onnx/load.js';
import { parseInteger } from '../../src/cli/options.js';
import { loadModelSpec } from '../../src/cli/graph-file.js';

/** Hand-written: what each engine change was predicted and measured to do, appended to the report. */
const ENGINE_NOTES = 'docs/performance/engine-changes.md';
/** Written by `twnn bench to-accuracy` (it takes about an hour), carried into the report before the engine notes. */
const TIME_TO_ACCURACY = 'docs/performance/time-to-accuracy.md';

interface TorchFlags {
  models: string[];
  repeats?: number;
  quick?: boolean;
  out: string;
  keepGoing?: boolean;
  python: string;
}

/** Issue 21's targets for the MLP and sine TWNNs (twnn/PyTorch: ≤ 0.8 everywhere), and the test rows of a timed inference pass per batch size for a small model. */
const SMALL = { targets: { inference: 0.8, training: 0.8 }, passRows: { 1: 64, 64: 256, 256: 512 } };

/** The TWNNs issue 21 measures: their graphs, weights, targets and rows per timed inference pass. */
const MODELS = [
  { id: 'mlp', title: 'TWNN MLP (MNIST)', graph: 'graphs/mnist-mlp.ts', weights: 'exported/paper/mnist-mlp/model.onnx', ...SMALL },
  { id: 'sine', title: 'TWNN sine', graph: 'graphs/sine.ts', weights: 'exported/sine/model.onnx', ...SMALL },
  {
    id: 'resnet',
    title: 'TWNN ResNet (MNIST)',
    graph: 'graphs/mnist-resnet.ts',
    weights: 'exported/paper/mnist-resnet/model.onnx',
    targets: { inference: 0.8, inferenceBatches: [64], training: 0.8 },
    passRows: { 1: 16, 64: 128, 256: 256 },
  },
];

const INFERENCE_BATCHES = [1, 64, 256];
const TRAIN_BATCH = 64;

/**
 * `twnn bench torch`: twnn against a PyTorch reference of the same TWNNs,
 * checked to agree first, timed interleaved, written to docs/PERFORMANCE.md.
 */
export const torchCommand: BenchSubcommand = {
  name: 'torch',
  register(bench) {
    bench
      .command('torch')
      .description(
        'twnn against a PyTorch reference (Debian torch 1.13 with OpenBLAS, /usr/bin/python3) of the MNIST MLP, sine and ResNet TWNNs with the same weights: ' +
          'first checks that outputs, per-sample sweeps, gradients and an optimizer step agree (an error if not), then times inference at batch ' +
          `${INFERENCE_BATCHES.join(', ')} and a training step at batch ${TRAIN_BATCH}, twnn and PyTorch interleaved, PyTorch at its best of ` +
          'threads {1, 2} x OPENBLAS_NUM_THREADS {1, default} and of dense or active-set sweeps; prints the report and writes it to --out ' +
          '(on an idle 2-core machine about 2 minutes, --quick 1; 4 to 6 while other jobs keep the cores busy)',
      )
      .addOption(
        new Option('--models <list>', `comma-separated, of ${MODELS.map((m) => m.id).join(', ')}`)
          .argParser(parseModels)
          .default(MODELS.map((m) => m.id), MODELS.map((m) => m.id).join(',')),
      )
      .option('--repeats <n>', 'interleaved timed passes per workload and variant (default 5; --quick 2)', (v) => parseInteger(v, '--repeats', 1))
      .option('--quick', 'a smaller run: half the rows per pass, 2 repeats, one tuning pass per PyTorch setting, smaller agreement batches')
      .option('-o, --out <file.md>', 'where the report is written (atomically)', 'docs/PERFORMANCE.md')
      .option('--keep-going', 'time and write the report even when twnn and PyTorch disagree (the report lists the failed checks); the command still fails')
      .option('--python <path>', 'the python with torch, onnx and numpy', '/usr/bin/python3')
      .action(async (flags: TorchFlags) => {
        const [{ benchTorch, disagreement }, { torchReport }] = await Promise.all([import('../bench/torch.js'), import('../bench/torch-report.js')]);
        const models = [];
        for (const def of MODELS.filter((m) => flags.models.includes(m.id))) {
          const spec = await loadModelSpec(def.graph);
          if (!spec.task?.data) throw new TwnnError(`${def.graph}: has no task.data to take test rows from`);
          const file = existsSync(def.weights) ? def.weights : undefined;
          const weights = file ? readInitializers(await readModelFile(file), file) : undefined;
          models.push({
            id: def.id,
            title: def.title,
            graph: def.graph,
            spec,
            ...(weights ? { weights } : {}),
            weightsFrom: file ? `\`${file}\`` : `the graph's initial values, seed 0 (no ${def.weights})`,
            data: await loadTaskData(spec.task.data, 'test'),
            targets: def.targets,
            passRows: def.passRows,
          });
        }
        const quick = flags.quick ?? false;
        const repeats = flags.repeats ?? (quick ? 2 : 5);
        const result = await benchTorch({
          models,
          repeats,
          inferenceBatches: INFERENCE_BATCHES,
          trainBatch: TRAIN_BATCH,
          rowScale: quick ? 0.5 : 1,
          agreementRows: quick ? 64 : 256,
          gradRows: quick ? 16 : 32,
          tuningPasses: quick ? 1 : 2,
          torchThreads: [1, 2],
          openblasThreads: [1, undefined],
          keepGoing: flags.keepGoing ?? false,
          python: flags.python,
          log: (line) => process.stderr.write(`${line}\n`),
        });
        const command = [
          'twnn bench torch',
          ...(flags.models.length < MODELS.length ? [`--models ${flags.models.join(',')}`] : []),
          ...(quick ? ['--quick'] : []),
          ...(flags.repeats !== undefined ? [`--repeats ${flags.repeats}`] : []),
          ...(flags.keepGoing ? ['--keep-going'] : []),
        ].join(' ');
        // The time to accuracy (its own, hour-long bench) and the engine changes' predicted and measured effects (written by hand) ride along.
        let notes = '';
        for (const file of [TIME_TO_ACCURACY, ENGINE_NOTES]) if (existsSync(file)) notes += `\n${await readFile(file, 'utf8')}`;
        const report = torchReport(result, command) + notes;
        process.stdout.write(report);
        await writeFileAtomic(flags.out, report);
        process.stderr.write(`wrote ${flags.out}\n`);
        if (result.disagreements.length > 0) throw disagreement(result.disagreements, `the report in ${flags.out} was written anyway`);
      });
  },
};

function parseModels(value: string): string[] {
  const ids = value.split(',').map((s) => s.trim()).filter(Boolean);
  const known = MODELS.map((m) => m.id);
  const bad = ids.filter((id) => !known.includes(id));
  if (ids.length === 0 || bad.length > 0) throw new InvalidArgumentError(`--models expects a comma-separated list of ${known.join(', ')}${bad.length ? `; unknown: ${bad.join(', ')}` : ''}`);
  return known.filter((id) => ids.includes(id));
}
