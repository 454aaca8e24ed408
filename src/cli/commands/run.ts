import type { Command } from 'commander';
import { writeNpy } from '../../data/npy.js';
import { writeFileAtomic } from '../../common/files.js';
import { formatShape } from '../../ir/shape.js';
import { readModelFile } from '../../onnx/load.js';
import { checkFixedPoint, checkSettled, nonFiniteWarnings, regionIterations, regionLimits, unsettledSamples, unsettledWarnings } from '../../runtime/guard.js';
import { openSession } from '../../runtime/session.js';
import { budgetFromFlags, maxIterOption, tolOption, type BudgetFlags } from '../budget-option.js';
import { limitsUnderBudget } from '../../runtime/budget.js';
import { deviceFromFlags, deviceOption, tf32Option, type DeviceFlags } from '../device-option.js';
import { formatOutput, formatValues, INT_PRINT_LIMIT, outputsJsonText } from '../format.js';
import { readInputFile } from '../inputs.js';
import { noVerifyOption } from '../options.js';
import { superviseTimeout, timeoutOption } from '../timeout.js';
import { printable } from '../../ir/text.js';

interface RunFlags extends DeviceFlags, BudgetFlags {
  input: string;
  verify: boolean;
  timeout?: number;
  output?: string;
  json?: boolean;
}

/**
 * `twnn run <model.onnx> --input x.json|x.npy`: one inference. Besides the
 * outputs it prints each fixed-point region's sweeps per sample, warns (on
 * stderr) about samples that ran out of sweeps without settling, or fails
 * before printing anything where the region's iterate.onMaxIter is 'error',
 * and fails on a non-finite residual, naming the region and the samples; the
 * regions and their tol/maxIter/onMaxIter come from the model's `twnn.loop:` metadata,
 * tol and maxIter overridden by `--tol` / `--max-iter` (a model's budget inputs).
 *
 * @example registerRun(program);
 */
export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run an ONNX model on an input through onnxruntime-node and print its outputs')
    .argument('<model>', 'the .onnx file (e.g. exported/sine-mlp/model.onnx)')
    .requiredOption(
      '-i, --input <file>',
      'input: .json (a nested array for the single input x, or {"<input>": nestedArray, ...}) or .npy (C order; float arrays are converted to the input\'s float type)',
    )
    .option('-o, --output <file.npy>', "write output 'y' (or the first output) to a .npy file")
    .addOption(tolOption())
    .addOption(maxIterOption())
    .addOption(deviceOption())
    .addOption(tf32Option())
    .option('--json', 'print every output as JSON: {"<name>": {"dtype", "shape", "data"}}')
    .addOption(noVerifyOption())
    .addOption(timeoutOption())
    .action(async (model: string, flags: RunFlags) => {
      await superviseTimeout(flags.timeout, model);
      const device = deviceFromFlags(flags);
      const session = await openSession(model, { device, verify: flags.verify, budget: budgetFromFlags(flags) });
      try {
        const regions = limitsUnderBudget(regionLimits(await readModelFile(model)), session.budget);
        const feeds = await readInputFile(flags.input, session.dataInputs);
        const outputs = await session.run(feeds);
        checkFixedPoint(outputs, model, regions.map((r) => r.region));
        checkSettled(unsettledSamples(outputs, regions), model);
        // With --json, stdout carries only the JSON; notes go to stderr.
        // Notes are one line each, and may name the model's regions and outputs: escaped (issue 13).
        const note = (text: string) => (flags.json ? process.stderr : process.stdout).write(`${printable(text)}\n`);
        if (flags.json) process.stdout.write(outputsJsonText(outputs));
        else process.stdout.write(`${Object.entries(outputs).map(([name, t]) => formatOutput(printable(name), t)).join('\n')}\n`);
        for (const r of regionIterations(outputs, regions)) {
          const counts = r.iterations.toNumbers();
          // reduce, not Math.min(...counts): a spread of a very large batch would overflow the call stack.
          const [min, max] = counts.reduce(([lo, hi], n) => [Math.min(lo, n), Math.max(hi, n)], [Infinity, -Infinity]);
          note(
            `${r.region}: sweeps per sample ${formatValues(r.iterations, r.iterations.size > INT_PRINT_LIMIT)} ` +
              `(min ${min}, max ${max}; tol ${r.tol}, maxIter ${r.maxIter})`,
          );
        }
        for (const w of unsettledWarnings(outputs, regions, model)) process.stderr.write(`twnn: warning: ${printable(w)}\n`);
        // A fixed point's divergence is an error above; any other NaN or infinity (a foreign model dividing by zero) is printed, and said (issue 23, item 13).
        for (const w of nonFiniteWarnings(outputs, model)) process.stderr.write(`twnn: warning: ${printable(w)}\n`);
        if (flags.output) {
          const name = 'y' in outputs ? 'y' : session.outputNames[0];
          const t = outputs[name];
          await writeFileAtomic(flags.output, writeNpy(t));
          note(`wrote ${flags.output} (${name}: ${t.dtype} ${formatShape(t.shape)})`);
        }
      } finally {
        await session.close();
      }
    });
}
