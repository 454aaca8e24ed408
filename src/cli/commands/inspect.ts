import type { Command } from 'commander';
import { FormatError } from '../../common/errors.js';
import { MANIFEST_FILE } from '../../contract/files.js';
import { formatInspect, inspectModel } from '../../contract/inspect.js';
import { verifyModelBytes } from '../../contract/verify.js';
import { printable } from '../../ir/text.js';
import { parseModel, readModelBytes } from '../../onnx/load.js';

/**
 * `twnn inspect <model.onnx>`: opset, I/O, op counts, Loops, parameter count,
 * and whether the file matches the manifest.json beside it. A file that does
 * not is still inspected (that is what one inspects a suspect file for), with
 * a warning on stderr.
 *
 * @example registerInspect(program);
 */
export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description(`summarise any .onnx file: opset, inputs and outputs, op counts, Loops with their tol/maxIter, parameter count, and whether it matches the ${MANIFEST_FILE} beside it`)
    .argument('<model>', 'the .onnx file')
    .option('--json', 'print the report as JSON')
    .action(async (model: string, flags: { json?: boolean }) => {
      const bytes = await readModelBytes(model);
      const report = inspectModel(parseModel(bytes, model));
      const manifest = await manifestCheck(model, bytes);
      if (manifest.startsWith('does not match')) process.stderr.write(`twnn: warning: ${printable(manifest)}\n`);
      process.stdout.write(`${flags.json ? JSON.stringify({ ...report, manifest }, null, 2) : `${formatInspect(report)}\nmanifest\n  ${printable(manifest)}`}\n`);
    });
}

/** What the manifest beside the model says of it, as one line. */
async function manifestCheck(model: string, bytes: Uint8Array): Promise<string> {
  try {
    const v = await verifyModelBytes(model, bytes);
    return v.status === 'verified' ? `verified: the sha256 of ${v.as} in the ${MANIFEST_FILE} beside it` : `no ${MANIFEST_FILE} beside it (nothing to check against)`;
  } catch (err) {
    if (err instanceof FormatError) return `does not match: ${err.message}`;
    throw err;
  }
}
