import { InvalidArgumentError, Option } from 'commander';
import type { BudgetSetting } from '../runtime/budget.js';

/** The flags `tolOption` and `maxIterOption` add to a command. */
export interface BudgetFlags {
  tol?: BudgetSetting;
  maxIter?: BudgetSetting;
}

/**
 * `--tol <[region=]x>`: the run-time tolerance of every fixed-point region,
 * or of one (`--tol region2=0.01`); repeatable, and a region's own value wins
 * over the one for all. Shared by run and eval.
 *
 * @example command.addOption(tolOption()).addOption(maxIterOption());
 */
export function tolOption(): Option {
  return new Option('--tol <[region=]x>', "each fixed-point region's tolerance instead of the built one (a number >= 0; region=x for one region; repeatable)").argParser(
    (v: string, prev?: BudgetSetting) => collect(v, prev, 'tol', '--tol', parseTol),
  );
}

/**
 * `--max-iter <[region=]n>`: the run-time sweep budget of every fixed-point
 * region, or of one (`--max-iter region2=5`), as `tolOption`.
 *
 * @example command.addOption(tolOption()).addOption(maxIterOption());
 */
export function maxIterOption(): Option {
  return new Option('--max-iter <[region=]n>', "each fixed-point region's most sweeps instead of the built maxIter (an integer >= 2; region=n for one region; repeatable)").argParser(
    (v: string, prev?: BudgetSetting) => collect(v, prev, 'maxIter', '--max-iter', parseMaxIter),
  );
}

/**
 * The budget the flags set, for openSession's `budget` (regions' own values
 * merged from both flags).
 *
 * @example await openSession(model, { budget: budgetFromFlags(flags) });
 */
export function budgetFromFlags(flags: BudgetFlags): BudgetSetting {
  const regions: Record<string, { tol?: number; maxIter?: number }> = {};
  for (const s of [flags.tol, flags.maxIter]) for (const [r, v] of Object.entries(s?.regions ?? {})) regions[r] = { ...regions[r], ...v };
  return {
    ...(flags.tol?.tol !== undefined ? { tol: flags.tol.tol } : {}),
    ...(flags.maxIter?.maxIter !== undefined ? { maxIter: flags.maxIter.maxIter } : {}),
    ...(Object.keys(regions).length > 0 ? { regions } : {}),
  };
}

function collect(value: string, prev: BudgetSetting | undefined, key: 'tol' | 'maxIter', flag: string, parse: (v: string, flag: string) => number): BudgetSetting {
  const at = value.lastIndexOf('=');
  const region = at >= 0 ? value.slice(0, at) : undefined;
  if (region === '') throw new InvalidArgumentError(`${flag} expects [region=]value, got '${value}'`);
  const n = parse(value.slice(at + 1), flag);
  if (region === undefined) return { ...prev, [key]: n };
  return { ...prev, regions: { ...prev?.regions, [region]: { ...prev?.regions?.[region], [key]: n } } };
}

// Only the form is checked here: the range, naming the region, is the runtime's (src/runtime/budget.ts).
function parseTol(v: string, flag: string): number {
  const n = Number(v);
  if (v.trim() === '' || Number.isNaN(n)) throw new InvalidArgumentError(`${flag} expects a number, got '${v}'`);
  return n;
}

function parseMaxIter(v: string, flag: string): number {
  if (!/^-?\d+$/.test(v.trim())) throw new InvalidArgumentError(`${flag} expects an integer, got '${v}'`);
  return Number(v);
}
