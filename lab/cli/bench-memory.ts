import { InvalidArgumentError, type Command } from 'commander';
import { TwnnError } from '../../src/common/errors.js';
import { parseDevice } from '../../src/runtime/device.js';
import { deviceOption } from '../../src/cli/device-option.js';
import { formatMemoryReport, MEMORY_DEFAULTS, runMemoryBench, type BackwardName } from '../bench/memory.js';
import { parseBackward } from '../../src/twnn/region.js';
import { parseInteger } from '../../src/cli/options.js';
import type { BenchSubcommand } from './subcommand.js';

interface MemoryFlags {
  sweeps: number[];
  backward: BackwardName[];
  batch: number;
  width: number;
  inputSize: number;
  classes: number;
  arena?: boolean;
  json?: boolean;
}

/**
 * `twnn bench memory`: peak memory of one training step against forced sweep
 * counts, per backward mode (lab/bench/memory.ts), as a table or JSON.
 *
 * @example BENCH_SUBCOMMANDS.push(memoryCommand);
 */
export const memoryCommand: BenchSubcommand = {
  name: 'memory',
  register(bench: Command) {
    const shape = MEMORY_DEFAULTS.shape;
    bench
      .command('memory')
      .description(
        'peak memory of one train.onnx step of a TWNN MLP whose region is forced to N sweeps, per backward mode, each in a fresh process: ' +
          'implicit and phantom:k stay flat in N, unrolled grows',
      )
      .option('--sweeps <list>', 'forced sweep counts, comma-separated (each >= 2)', parseSweeps, MEMORY_DEFAULTS.sweeps)
      .option('--backward <list>', 'backward modes, comma-separated: implicit, unrolled, phantom:k', parseModes, MEMORY_DEFAULTS.backward)
      .option('--batch <n>', 'batch size', (v) => parseInteger(v, '--batch', 1), shape.batch)
      .option('--width <n>', 'width of the region blocks', (v) => parseInteger(v, '--width', 1), shape.width)
      .option('--input-size <n>', 'input features', (v) => parseInteger(v, '--input-size', 1), shape.inputSize)
      .option('--classes <n>', 'output classes', (v) => parseInteger(v, '--classes', 2), shape.classes)
      .option('--arena', "keep onnxruntime's CPU memory arena on (default off: the peak is then the step's own buffers)")
      .option('--json', 'print the report as JSON')
      .addOption(deviceOption())
      .action(async (flags: MemoryFlags & { device: string }) => {
        // The measurement is the process's peak resident memory (VmHWM): host memory only.
        // On a GPU the step's buffers live in device memory, which it cannot see.
        if (parseDevice(flags.device).kind !== 'cpu') {
          throw new TwnnError(`bench memory: --device ${flags.device}: it measures host memory (peak RSS), which does not include GPU memory; run it with --device cpu`);
        }
        const report = await runMemoryBench(
          { sweeps: flags.sweeps, backward: flags.backward, batch: flags.batch, width: flags.width, inputSize: flags.inputSize, classes: flags.classes, arena: flags.arena ?? false },
          (m) => process.stderr.write(`  ${m.backward}, ${m.sweeps} sweeps: peak ${(m.peakKiB / 1024).toFixed(1)} MiB (+${(m.increaseKiB / 1024).toFixed(1)} MiB)\n`),
        );
        process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatMemoryReport(report));
      });
  },
};

function parseSweeps(value: string): number[] {
  return list(value, '--sweeps').map((s) => parseInteger(s, '--sweeps', 2));
}

function parseModes(value: string): BackwardName[] {
  return list(value, '--backward').map((s) => {
    try {
      parseBackward(s);
    } catch {
      throw new InvalidArgumentError(`--backward: '${s}' is not implicit, unrolled or phantom:k (k >= 1)`);
    }
    return s as BackwardName;
  });
}

function list(value: string, flag: string): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new InvalidArgumentError(`${flag} expects a comma-separated list, got '${value}'`);
  return items;
}
