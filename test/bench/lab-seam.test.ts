// The CLI's seam to the lab (src/cli/lab.ts): in a checkout `twnn bench` is the
// lab's, with every subcommand; where lab/ is absent (an installed package) it
// is a command that says, in one line, that the benchmarks run from a checkout.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { TwnnError } from '../../src/common/errors.js';
import { registerLab } from '../../src/cli/lab.js';
import { BENCH_SUBCOMMANDS } from '../../lab/cli/bench.js';

const program = () => new Command('twnn').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });

describe('twnn bench through the seam', () => {
  it("registers the lab's subcommands from a checkout", async () => {
    const p = program();
    await registerLab(p);
    const bench = p.commands.find((c) => c.name() === 'bench')!;
    expect(bench.commands.map((c) => c.name())).toEqual(['paper', 'study', 'stability', 'memory', 'solvers', 'torch', 'to-accuracy', 'budget']);
  });

  it('without lab/, says the benchmarks run from a checkout, whatever the arguments', async () => {
    const p = program();
    await registerLab(p, new URL('../../lab/cli/no-such-bench.ts', import.meta.url));
    const bench = p.commands.find((c) => c.name() === 'bench')!;
    expect(bench.description()).toMatch(/from a checkout of the twnn repository/);
    // The line names the lab's subcommands as the lab has them (src/ cannot import the list).
    const names = BENCH_SUBCOMMANDS.map((s) => s.name).join(', ');
    for (const args of [['paper', '--runs', 'x.json'], [], ['--help']]) {
      const run = p.parseAsync(['bench', ...args], { from: 'user' });
      await expect(run).rejects.toThrow(TwnnError);
      await expect(run).rejects.toThrow(`twnn bench: the benchmarks (${names}) run from a checkout of the twnn repository`);
    }
  });
});
