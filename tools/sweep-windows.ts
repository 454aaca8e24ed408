// Forward sweeps, adjoint steps, loss and unsettled samples of training runs,
// averaged over windows of steps, side by side: how a setting (a Jacobian
// penalty, a learning rate) changes the sweeps as training opens the gates.
//
//   node --import tsx tools/sweep-windows.ts LABEL=path/metrics.jsonl ... [--window 100] [--steps 938]
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { readMetrics, type MetricsRecord } from '../src/runtime/metrics.js';

type StepRecord = Extract<MetricsRecord, { kind: 'step' }>;

export interface WindowRow {
  from: number;
  to: number;
  /** Per run, by label: means over the window's steps, or undefined where the run has no step there. */
  runs: Record<string, { iterations: number; backward: number; loss: number; unsettled: number } | undefined>;
}

/**
 * Mean step metrics of each run over consecutive windows of `window` steps, up to `steps`.
 *
 * @example sweepWindows({ plain: readMetrics('a/metrics.jsonl') }, 100, 938)
 */
export function sweepWindows(runs: Record<string, readonly MetricsRecord[]>, window: number, steps: number): WindowRow[] {
  const rows: WindowRow[] = [];
  for (let from = 1; from <= steps; from += window) {
    const to = Math.min(steps, from + window - 1);
    const row: WindowRow = { from, to, runs: {} };
    for (const [label, records] of Object.entries(runs)) {
      const inWindow = records.filter((r): r is StepRecord => r.kind === 'step' && r.step >= from && r.step <= to);
      const mean = (f: (r: StepRecord) => number) => inWindow.reduce((s, r) => s + f(r), 0) / inWindow.length;
      row.runs[label] = inWindow.length === 0 ? undefined : { iterations: mean((r) => r.iterations), backward: mean((r) => r.iterations_backward), loss: mean((r) => r.loss), unsettled: mean((r) => r.unsettled ?? 0) };
    }
    rows.push(row);
  }
  return rows;
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { window: { type: 'string', default: '100' }, steps: { type: 'string', default: '938' } } });
  const runs = Object.fromEntries(positionals.map((arg) => {
    const at = arg.indexOf('=');
    return [arg.slice(0, at), readMetrics(arg.slice(at + 1))];
  }));
  const labels = Object.keys(runs);
  const rows = sweepWindows(runs, Number(values.window), Number(values.steps));
  console.log(`| steps | ${labels.map((l) => `${l}: fwd sweeps / adjoint steps / loss`).join(' | ')} |`);
  console.log(`|---|${labels.map(() => '---').join('|')}|`);
  for (const row of rows) {
    const cells = labels.map((l) => {
      const r = row.runs[l];
      return r ? `${r.iterations.toFixed(1)} / ${r.backward.toFixed(1)} / ${r.loss.toFixed(3)}${r.unsettled > 0 ? ` (${r.unsettled.toFixed(2)} unsettled per batch)` : ''}` : '— (stopped)';
    });
    console.log(`| ${row.from}–${row.to} | ${cells.join(' | ')} |`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
