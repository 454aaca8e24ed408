import type { Command } from 'commander';
import { parseInteger } from '../options.js';

interface WebFlags {
  port: number;
  host: string;
  steps: number;
  batch: number;
}

/**
 * `twnn web <dir>`: serve a page on 127.0.0.1 that trains an exported sine
 * TWNN's train.onnx in the browser with onnxruntime-web, drawing the loss and
 * the generated wave as it goes. Runs until interrupted.
 *
 * @example registerWeb(program);
 */
export function registerWeb(program: Command): void {
  program
    .command('web')
    .description("train an exported sine TWNN in the browser: serve a page that runs its train.onnx in onnxruntime-web and draws the loss and the generated wave")
    .argument('<dir>', 'the export folder (e.g. exported/sine, from twnn train graphs/sine.ts)')
    .option('--port <n>', 'port to listen on (0: any free one)', (v) => parseInteger(v, '--port', 0), 8765)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--steps <n>', 'optimizer steps the page runs', (v) => parseInteger(v, '--steps', 1), 300)
    .option('--batch <n>', 'rows per step', (v) => parseInteger(v, '--batch', 1), 32)
    .action(async (dir: string, flags: WebFlags) => {
      const { startWebServer } = await import('../../web/server.js');
      const web = await startWebServer({ dir, port: flags.port, host: flags.host, steps: flags.steps, batch: flags.batch });
      process.stdout.write(`twnn web: open ${web.url} to train ${dir} in the browser (${flags.steps} steps of ${flags.batch}); Ctrl-C stops the server\n`);
      await new Promise<void>((done) => process.once('SIGINT', () => void web.close().then(done)));
    });
}
