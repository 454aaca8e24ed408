// The seam between the CLI and the research lab. Benchmarks, the paper and
// study runners and their run lists live in the repository's lab/ folder,
// outside src/, so `tsc -p tsconfig.build.json` compiles none of them into
// dist/ and the published package carries none. No file of src/ imports the
// lab statically: `twnn bench` is registered from lab/cli/bench.ts when a
// checkout has it (bin/twnn.js has tsx's loader registered, so the .ts file
// imports as is), and as a command that says where the benchmarks are when an
// installed package has not.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { TwnnError } from '../common/errors.js';

/** What the lab's registration module (lab/cli/bench.ts) exports. */
interface LabModule {
  registerBench(program: Command): void;
}

/** lab/cli/bench.ts: src/cli/ in a checkout and dist/cli/ in a package both sit two folders below the root. */
const LAB_BENCH = new URL('../../lab/cli/bench.ts', import.meta.url);

/**
 * Register `twnn bench` on `program`: the lab's subcommands when `lab` (by
 * default the checkout's lab/cli/bench.ts) exists, otherwise a `bench` that
 * fails with one line saying the benchmarks run from a checkout.
 *
 * @example await registerLab(program); // twnn bench paper|study|stability|memory|solvers|torch|to-accuracy|budget in a checkout
 */
export async function registerLab(program: Command, lab: URL = LAB_BENCH): Promise<void> {
  if (existsSync(lab)) {
    const { registerBench } = (await import(lab.href)) as LabModule;
    registerBench(program);
    return;
  }
  program
    .command('bench')
    .description('benchmarks and reports: they run from a checkout of the twnn repository (its lab/ folder), not from the installed package')
    .argument('[args...]')
    .allowUnknownOption()
    .helpOption(false)
    .action(() => {
      throw new TwnnError(
        'twnn bench: the benchmarks (paper, study, stability, memory, solvers, torch, to-accuracy, budget) run from a checkout of the twnn repository ' +
          "(its lab/ folder, with 'node bin/twnn.js bench ...'); the installed package does not ship them",
      );
    });
}
