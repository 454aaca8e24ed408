// `twnn bench study`: the Fashion-MNIST study of issue 14 (lab/bench/study.ts).
import type { Command } from 'commander';
import { assertDeviceAvailable } from '../../src/runtime/device.js';
import { deviceFromFlags, deviceOption, tf32Option, type DeviceFlags } from '../../src/cli/device-option.js';
import { loadModelSpec } from '../../src/cli/graph-file.js';
import { parseInteger } from '../../src/cli/options.js';
import type { BenchSubcommand } from './subcommand.js';
import { EVAL_BATCH } from '../../src/common/training.js';

interface StudyFlags extends DeviceFlags {
  train: boolean;
  out: string;
  evalBatch: number;
  stepRepeats: number;
  stepRounds: number;
  memory: boolean;
  skipSamples: number;
  skipBatches: number;
  long: boolean;
}

/** `twnn bench study`: docs/STUDY.md and docs/study.json from the study's runs (training the missing ones with --train). */
export const studyCommand: BenchSubcommand = {
  name: 'study',
  register(bench: Command) {
    bench
      .command('study')
      .description(
        'do wormholes help? the TWNN ResNet, with and without block skipping, against plain ResNets of the same and of twice the blocks, ' +
          'on Fashion-MNIST at equal epochs from 3 seeds each (exported/study/<model>-s<seed>): re-evaluated accuracy, step time and memory, ' +
          "skip rates and savings, and the paper's claims judged; beside them a longer-training check (every model 8 epochs from seed 0, " +
          'exported/study/long/); writes STUDY.md and study.json',
      )
      .option('--train', 'first train the runs whose folders hold none, one at a time, with the command each lists', false)
      .option('-o, --out <dir>', 'folder for STUDY.md and study.json', 'docs')
      .option('--eval-batch <n>', 'rows per inference run in the re-evaluation', (v) => parseInteger(v, '--eval-batch', 1), EVAL_BATCH)
      .option('--step-repeats <n>', 'timed training steps per model per round (0 skips the step timing)', (v) => parseInteger(v, '--step-repeats', 0), 3)
      .option('--step-rounds <n>', 'rounds over the models (the best round counts)', (v) => parseInteger(v, '--step-rounds', 1), 3)
      .option('--no-memory', 'skip the peak-memory measurement')
      .option('--no-long', 'leave out the longer-training check (exported/study/long/)')
      .option('--skip-samples <n>', 'test samples timed at batch 1 with and without skipping', (v) => parseInteger(v, '--skip-samples', 1), 200)
      .option('--skip-batches <n>', 'test batches of 64 timed with and without skipping', (v) => parseInteger(v, '--skip-batches', 1), 20)
      .addOption(deviceOption())
      .addOption(tf32Option())
      .action(async (flags: StudyFlags) => {
        const device = deviceFromFlags(flags);
        assertDeviceAvailable(device);
        const [{ benchStudy }, { longStudyRuns }, { train }] = await Promise.all([import('../bench/study.js'), import('../bench/study-runs.js'), import('../../src/runtime/trainer.js')]);
        const log = (line: string) => process.stderr.write(`${line}\n`);
        const { files } = await benchStudy({
          outDir: flags.out,
          loadSpec: loadModelSpec,
          longRuns: flags.long ? longStudyRuns() : [],
          ...(flags.train
            ? {
                train: async (run) => {
                  await train({
                    spec: await loadModelSpec(run.model.graph),
                    outDir: run.dir,
                    seed: run.seed,
                    ...(run.epochs !== undefined ? { epochs: run.epochs } : {}),
                    device,
                    onProgress: (e) => {
                      if (e.kind === 'epoch') log(`${run.model.id} seed ${run.seed}: epoch ${e.epoch}/${e.epochs}, test accuracy ${((e.test.accuracy ?? NaN) * 100).toFixed(2)}%`);
                    },
                  });
                },
              }
            : {}),
          evalBatch: flags.evalBatch,
          stepRepeats: flags.stepRepeats,
          stepRounds: flags.stepRounds,
          skipMemory: !flags.memory,
          skipTimingSamples: flags.skipSamples,
          skipTimingBatches: flags.skipBatches,
          device,
          command: ['twnn bench study', flags.out !== 'docs' ? `-o ${flags.out}` : '', flags.memory ? '' : '--no-memory', flags.long ? '' : '--no-long'].filter(Boolean).join(' '),
          log,
        });
        process.stdout.write(`wrote ${files.length} files:\n${files.map((f) => `  ${f}`).join('\n')}\n`);
      });
  },
};
