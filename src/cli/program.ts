import { Command, CommanderError } from 'commander';
import { PRODUCER_VERSION } from '../onnx/serialize.js';
import { registerBuild } from './commands/build.js';
import { registerCodegen } from './commands/codegen.js';
import { registerDoctor } from './commands/doctor.js';
import { registerEval } from './commands/eval.js';
import { registerInspect } from './commands/inspect.js';
import { registerRun } from './commands/run.js';
import { registerTrain } from './commands/train.js';
import { registerWeb } from './commands/web.js';
import { EXIT_USAGE, reportError } from './errors.js';
import { registerLab } from './lab.js';

/**
 * The `twnn` program with every subcommand registered (one file per command
 * under `commands/`). Commander's own error output is silenced: `runCli`
 * prints every error as one `twnn: error:` line. Asynchronous because
 * `bench` comes from the lab, imported only when the checkout has it (lab.ts).
 *
 * @example (await createProgram()).parseAsync(['inspect', 'model.onnx'], { from: 'user' });
 */
export async function createProgram(): Promise<Command> {
  const program = new Command('twnn')
    .description('Temporal Wormhole Neural Networks: build models, lower them to ONNX, and run them through onnxruntime-node')
    .version(PRODUCER_VERSION, '-V, --version', 'print the twnn version')
    .helpOption('-h, --help', 'show help for a command')
    .showSuggestionAfterError(false)
    .exitOverride()
    .configureOutput({ writeErr: () => {}, outputError: () => {} });
  registerBuild(program);
  registerTrain(program);
  registerRun(program);
  registerEval(program);
  registerInspect(program);
  registerCodegen(program);
  registerDoctor(program);
  await registerLab(program);
  registerWeb(program);
  return program;
}

/**
 * Run the CLI on `args` (without `node` and the script) and return the exit
 * status: 0 on success, 2 for usage and input errors (one line on stderr),
 * 1 for internal errors (with the stack).
 *
 * @example process.exitCode = await runCli(['run', 'model.onnx', '--input', 'x.json']);
 */
export async function runCli(args: readonly string[]): Promise<number> {
  const program = await createProgram();
  try {
    await program.parseAsync([...args], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError && err.exitCode === 0) return 0; // --help, --version
    if (err instanceof CommanderError && err.code === 'commander.help') {
      const names = program.commands.map((c) => c.name()).join(', ');
      return reportError(new CommanderError(EXIT_USAGE, err.code, `missing command: expected one of ${names} (see 'twnn --help')`));
    }
    return reportError(err);
  }
}
