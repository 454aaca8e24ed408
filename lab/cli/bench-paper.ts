// `twnn bench paper`: the paper's results page from saved runs (lab/bench/paper.ts).
import { readFileSync } from 'node:fs';
import type { BenchRun } from '../bench/runs.js';
import { FormatError, TwnnError } from '../../src/common/errors.js';
import { parseInteger } from '../../src/cli/options.js';
import { assertDeviceAvailable } from '../../src/runtime/device.js';
import { deviceFromFlags, deviceOption, tf32Option, type DeviceFlags } from '../../src/cli/device-option.js';
import { loadModelSpec } from '../../src/cli/graph-file.js';
import type { BenchSubcommand } from './subcommand.js';
import { EVAL_BATCH } from '../../src/common/training.js';

interface PaperFlags extends DeviceFlags {
  runs?: string;
  out: string;
  evalBatch: number;
  memory: boolean;
  latencyCount: number;
  latencyRepeats: number;
  stepRepeats: number;
  sineReport?: string;
}

/**
 * `twnn bench paper`: docs/RESULTS.md and docs/figures/ from saved runs.
 *
 * @example BENCH_SUBCOMMANDS.push(paperCommand);
 */
export const paperCommand: BenchSubcommand = {
  name: 'paper',
  register(bench) {
    bench
      .command('paper')
      .description(
        "regenerate RESULTS.md and its figures from saved training runs (the paper's Table III analogue, settings, dynamic-depth evidence): " +
          're-evaluates each run\'s model.onnx on the test set through onnxruntime, measures the peak memory of a training step in a child process; never retrains',
      )
      .option('--runs <file>', 'JSON list of runs [{ id, label, family, role: "twnn"|"baseline", dir, command, device?, note?, target?, graph? }] (default: the built-in paper runs)')
      .option('-o, --out <dir>', 'folder for RESULTS.md and figures/', 'docs')
      .option('--eval-batch <n>', 'rows per inference run in the re-evaluation', (v) => parseInteger(v, '--eval-batch', 1), EVAL_BATCH)
      .option('--no-memory', 'skip the peak-memory measurement')
      .option('--latency-count <n>', 'easy and hard samples timed at batch 1', (v) => parseInteger(v, '--latency-count', 1), 100)
      .option('--latency-repeats <n>', 'timed runs per sample (the median is kept)', (v) => parseInteger(v, '--latency-repeats', 1), 3)
      .option('--step-repeats <n>', 'timed training steps per run (the median is kept; 0 skips the step timing)', (v) => parseInteger(v, '--step-repeats', 0), 5)
      .option('--sine-report <file>', 'the sine task report to include (default: exported/sine/report.json, when present)')
      .addOption(deviceOption())
      .addOption(tf32Option())
      .action(async (flags: PaperFlags) => {
        const device = deviceFromFlags(flags);
        // Fail before any progress line: a missing CUDA EP is one clear line, not a half-done report.
        assertDeviceAvailable(device);
        // The report code loads vega and resvg: import it when the command runs, not on every CLI start.
        const [{ benchPaper }, { PAPER_RUNS }, { parseRuns }] = await Promise.all([
          import('../bench/paper.js'),
          import('../bench/paper-runs.js'),
          import('../bench/runs.js'),
        ]);
        const runs = flags.runs ? readRuns(flags.runs, parseRuns) : PAPER_RUNS;
        const { files } = await benchPaper({
          runs,
          outDir: flags.out,
          evalBatch: flags.evalBatch,
          skipMemory: !flags.memory,
          latencyCount: flags.latencyCount,
          latencyRepeats: flags.latencyRepeats,
          stepRepeats: flags.stepRepeats,
          device,
          // A committed run has no train.onnx: its graph file is exported again to time and measure a step.
          loadSpec: loadModelSpec,
          ...(flags.sineReport ? { sineReport: flags.sineReport } : {}),
          command: commandLine(flags),
          log: (line) => process.stderr.write(`${line}\n`),
        });
        process.stdout.write(`wrote ${files.length} files:\n${files.map((f) => `  ${f}`).join('\n')}\n`);
      });
  },
};

/** The command as the report's header shows it: `twnn bench paper` and the flags that change what it reports. */
function commandLine(flags: PaperFlags): string {
  const parts = ['twnn bench paper'];
  if (flags.runs) parts.push(`--runs ${flags.runs}`);
  if (flags.out !== 'docs') parts.push(`-o ${flags.out}`);
  if (!flags.memory) parts.push('--no-memory');
  if (flags.sineReport) parts.push(`--sine-report ${flags.sineReport}`);
  return parts.join(' ');
}

function readRuns(path: string, parseRuns: (value: unknown, where: string) => BenchRun[]): BenchRun[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TwnnError(`--runs ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new FormatError(`--runs ${path}: not valid JSON (${(err as Error).message})`);
  }
  return parseRuns(value, path);
}
