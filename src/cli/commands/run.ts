import { Option, type Command } from 'commander';
import { writeNpy } from '../../data/npy.js';
import { writeFileAtomic } from '../../onnx/files.js';
import { formatShape } from '../../ir/shape.js';
import { parseDevice } from '../../runtime/device.js';
import { checkFixedPoint } from '../../runtime/guard.js';
import { openSession } from '../../runtime/session.js';
import { formatOutput, outputsJsonText } from '../format.js';
import { readInputFile } from '../inputs.js';

interface RunFlags {
  input: string;
  output?: string;
  device: string;
  json?: boolean;
}

/**
 * `twnn run <model.onnx> --input x.json|x.npy`: one inference.
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
    .addOption(new Option('-d, --device <device>', 'cpu, cuda or cuda:N (never falls back to the CPU)').default('cpu'))
    .option('--json', 'print every output as JSON: {"<name>": {"dtype", "shape", "data"}}')
    .action(async (model: string, flags: RunFlags) => {
      const device = parseDevice(flags.device);
      const session = await openSession(model, { device });
      try {
        const feeds = await readInputFile(flags.input, session.inputs);
        const outputs = await session.run(feeds);
        checkFixedPoint(outputs, model);
        // With --json, stdout carries only the JSON; notes go to stderr.
        const note = (text: string) => (flags.json ? process.stderr : process.stdout).write(`${text}\n`);
        if (flags.json) process.stdout.write(outputsJsonText(outputs));
        else process.stdout.write(`${Object.entries(outputs).map(([name, t]) => formatOutput(name, t)).join('\n')}\n`);
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
