// `twnn bench stability`: issue 24's experiment (lab/bench/stability.ts).
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { TwnnError } from '../../src/common/errors.js';
import { assertDeviceAvailable } from '../../src/runtime/device.js';
import { deviceFromFlags, deviceOption, tf32Option, type DeviceFlags } from '../../src/cli/device-option.js';
import { loadModelSpec } from '../../src/cli/graph-file.js';
import { parseInteger } from '../../src/cli/options.js';
import type { BenchSubcommand } from './subcommand.js';
import { EVAL_BATCH } from '../../src/common/training.js';

interface StabilityFlags extends DeviceFlags {
  train: boolean;
  out: string;
  only?: string;
  runsDir: string;
  evalBatch: number;
}

/** `twnn bench stability`: docs/STABILITY.md and docs/stability.json from the experiment's runs (training the unfinished ones with --train). */
export const stabilityCommand: BenchSubcommand = {
  name: 'stability',
  register(bench: Command) {
    bench
      .command('stability')
      .description(
        'does the TWNN ResNet train without gradient clipping? contractive wormholes, fixed-point correction and the model as it is now, ' +
          'on Fashion-MNIST at lr 1e-3 and 2e-3 from 3 seeds each (exported/stability/<variant>-lr<lr>-s<seed>): collapses and where they began, ' +
          're-evaluated accuracy and unsettled test samples, s/epoch, sweeps, spectral radius per epoch; writes STABILITY.md and stability.json',
      )
      .option('--train', 'first train the runs that are not finished, one at a time, with the command each lists (a stopped run resumes from its checkpoint)', false)
      .option('--only <names>', 'only these runs, comma-separated: variants (contractive, fpcorr, noclip) and/or lrs (1e-3, 2e-3); noclip,2e-3 is noclip at 2e-3')
      .option('-o, --out <dir>', 'folder for STABILITY.md and stability.json', 'docs')
      .option('--runs-dir <dir>', 'folder of the run folders', 'exported/stability')
      .option('--eval-batch <n>', 'rows per inference run in the re-evaluation', (v) => parseInteger(v, '--eval-batch', 1), EVAL_BATCH)
      .addOption(deviceOption())
      .addOption(tf32Option())
      .action(async (flags: StabilityFlags) => {
        const device = deviceFromFlags(flags);
        assertDeviceAvailable(device);
        const [{ benchStability }, { selectRuns, stabilityRuns, STABILITY_CHECKPOINT_EVERY, STABILITY_LRS, STABILITY_SEEDS, STABILITY_VARIANTS }, { train }] = await Promise.all([
          import('../bench/stability.js'),
          import('../bench/stability-runs.js'),
          import('../../src/runtime/trainer.js'),
        ]);
        const all = stabilityRuns(STABILITY_VARIANTS, STABILITY_LRS, STABILITY_SEEDS, flags.runsDir);
        const runs = flags.only !== undefined ? selectRuns(all, flags.only) : all;
        const absent = [...new Set(runs.map((r) => r.variant.graph))].filter((g) => !existsSync(g));
        if (flags.train && absent.length > 0) {
          throw new TwnnError(`bench stability --train: ${absent.join(', ')} not found (run from the repository root; a variant not merged yet can be left out with --only)`);
        }
        const log = (line: string) => process.stderr.write(`${line}\n`);
        const { files } = await benchStability({
          runs,
          outDir: flags.out,
          loadSpec: loadModelSpec,
          ...(flags.train
            ? {
                train: async (run, resume) => {
                  await train({
                    spec: await loadModelSpec(run.variant.graph),
                    outDir: run.dir,
                    seed: run.seed,
                    lr: run.lr,
                    spectral: true,
                    checkpointEvery: STABILITY_CHECKPOINT_EVERY,
                    resume,
                    device,
                    onProgress: (e) => {
                      if (e.kind === 'epoch') log(`${run.variant.id} lr ${run.lr} seed ${run.seed}: epoch ${e.epoch}/${e.epochs}, test accuracy ${((e.test.accuracy ?? NaN) * 100).toFixed(2)}%`);
                    },
                  });
                },
              }
            : {}),
          evalBatch: flags.evalBatch,
          device,
          command: ['twnn bench stability', flags.only !== undefined ? `--only ${flags.only}` : '', flags.out !== 'docs' ? `-o ${flags.out}` : '', flags.runsDir !== 'exported/stability' ? `--runs-dir ${flags.runsDir}` : '']
            .filter(Boolean)
            .join(' '),
          log,
        });
        process.stdout.write(`wrote ${files.length} files:\n${files.map((f) => `  ${f}`).join('\n')}\n`);
      });
  },
};
