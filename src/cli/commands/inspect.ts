import type { Command } from 'commander';
import { readModelFile } from '../../onnx/load.js';
import { formatInspect, inspectModel } from '../../contract/inspect.js';

/**
 * `twnn inspect <model.onnx>`: opset, I/O, op counts, Loops, parameter count.
 *
 * @example registerInspect(program);
 */
export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('summarise any .onnx file: opset, inputs and outputs, op counts, Loops with their tol/maxIter, parameter count')
    .argument('<model>', 'the .onnx file')
    .option('--json', 'print the report as JSON')
    .action(async (model: string, flags: { json?: boolean }) => {
      const report = inspectModel(await readModelFile(model));
      process.stdout.write(`${flags.json ? JSON.stringify(report, null, 2) : formatInspect(report)}\n`);
    });
}
