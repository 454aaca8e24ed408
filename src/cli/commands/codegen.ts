import type { Command } from 'commander';
import { noVerifyOption } from '../options.js';

interface CodegenFlags {
  out?: string;
  name?: string;
  manifest: boolean;
  verify: boolean;
}

/**
 * `twnn codegen <model.onnx>`: write a typed TypeScript wrapper for a model.
 *
 * @example registerCodegen(program);
 */
export function registerCodegen(program: Command): void {
  program
    .command('codegen')
    .description(
      'write a typed TypeScript wrapper for an .onnx model: interfaces for its inputs and outputs and a class with load, run ' +
        '(shape-checked), predict (twnn models) and close; it needs only onnxruntime-node',
    )
    .argument('<model>', 'the .onnx file (e.g. exported/mnist-mlp/model.onnx)')
    .option('-o, --out <file.ts>', "the module to write (default: <model dir>/<model name>.ts; the name is the manifest's, else the file's)")
    .option('--name <name>', 'model name for the class (PascalCase of it) and the default file name')
    .option('--no-manifest', 'ignore the manifest.json beside the model')
    .addOption(noVerifyOption())
    .action(async (model: string, flags: CodegenFlags) => {
      // ts-morph is large: load it only when this command runs, not on every CLI start.
      const { writeWrapper } = await import('../../codegen/generate.js');
      const { path, model: info } = await writeWrapper(model, {
        manifest: flags.manifest,
        verify: flags.verify,
        ...(flags.out !== undefined ? { out: flags.out } : {}),
        ...(flags.name !== undefined ? { name: flags.name } : {}),
      });
      const methods = ['load', 'run', ...(info.predict ? ['predict'] : []), 'close'];
      const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
      process.stdout.write(`wrote ${path}: class ${info.className} (${methods.join(', ')}), ${count(info.inputs.length, 'input')}, ${count(info.outputs.length, 'output')}\n`);
    });
}
