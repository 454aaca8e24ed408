// `twnn bench`: the lab's benchmarks and reports, one subcommand each. The
// CLI (src/cli/lab.ts) imports this module when a checkout has lab/, so the
// published package, which ships only src/ compiled, carries none of it.
import type { Command } from 'commander';
import { accuracyCommand } from './bench-accuracy.js';
import { budgetCommand } from './bench-budget.js';
import { memoryCommand } from './bench-memory.js';
import { paperCommand } from './bench-paper.js';
import { solversCommand } from './bench-solvers.js';
import { stabilityCommand } from './bench-stability.js';
import { studyCommand } from './bench-study.js';
import { torchCommand } from './bench-torch.js';
import type { BenchSubcommand } from './subcommand.js';

/** Every `twnn bench` subcommand, in help order. */
export const BENCH_SUBCOMMANDS: BenchSubcommand[] = [paperCommand, studyCommand, stabilityCommand, memoryCommand, solversCommand, torchCommand, accuracyCommand, budgetCommand];

/**
 * `twnn bench <name>`: benchmarks and reports, one subcommand each.
 *
 * @example registerBench(program);
 */
export function registerBench(program: Command): void {
  const bench = program.command('bench').description(`benchmarks and reports: ${BENCH_SUBCOMMANDS.map((s) => s.name).join(', ')}`);
  for (const sub of BENCH_SUBCOMMANDS) sub.register(bench);
}
