// The shape of one `twnn bench <name>` subcommand, apart from the list that
// registers them (bench.ts): each subcommand's file imports this, never the
// list, so the list importing the subcommands closes no cycle.
import type { Command } from 'commander';

/**
 * One `twnn bench <name>` subcommand: `register` adds it to the `bench`
 * command. Add a benchmark by appending to `BENCH_SUBCOMMANDS` (bench.ts).
 */
export interface BenchSubcommand {
  name: string;
  register(bench: Command): void;
}
