import type { Command } from 'commander';
import { printable } from '../../ir/text.js';
import { parseInteger } from '../options.js';
import { MAX_BATCH, WEB_TASKS } from '../../web/tasks.js';

interface WebFlags {
  port: number;
  host: string;
  steps: number;
  batch: number;
  drawEvery: number;
}

/**
 * `twnn web <dir>`: serve a page on 127.0.0.1 (GET and HEAD only, for
 * loopback Host headers only) that trains an exported TWNN's train.onnx in
 * the browser with onnxruntime-web (the tasks in `WEB_TASKS`), with controls,
 * live charts and the sweeps each sample takes. Runs until interrupted.
 *
 * @example registerWeb(program);
 */
export function registerWeb(program: Command): void {
  program
    .command('web')
    .description('train an exported TWNN (sine or MNIST MLP) in the browser: serve a page that runs its train.onnx in onnxruntime-web, with start/pause/reset, lr, batch and steps, live charts of the loss and the sweeps, and a maxIter slider for inference')
    .argument('<dir>', 'the export folder with train.onnx (e.g. exported/sine, from twnn build graphs/sine.ts)')
    .option('--port <n>', 'port to listen on, 0 to 65535 (0: any free one)', (v) => parseInteger(v, '--port', 0, 65535), 8765)
    .option('--host <address>', 'address to listen on; anything but loopback lets other machines fetch the model and its weights (a warning says so)', '127.0.0.1')
    .option('--steps <n>', 'optimizer steps the page runs (its default; the page and its URL may change it)', (v) => parseInteger(v, '--steps', 1), 300)
    .option('--batch <n>', 'rows per step (its default; the page and its URL may change it)', (v) => parseInteger(v, '--batch', 1, MAX_BATCH), 32)
    .option('--draw-every <n>', 'evaluate on the test sample (wave or accuracy, sweeps histogram) every n steps', (v) => parseInteger(v, '--draw-every', 1), 25)
    .addHelpText(
      'after',
      [
        '',
        'Supported tasks (the export\'s task.data; any other is an error naming it):',
        ...Object.entries(WEB_TASKS).map(([kind, what]) => `  ${kind}: ${what}`),
        '',
        'The page\'s URL query sets what its controls set, so a link reproduces a run:',
        '  ?lr=0.001&batch=32&steps=300&maxIter=300 (also drawEvery, and autostart=0 to wait for start).',
        '',
        'The server answers GET and HEAD only (other methods: 405, Allow: GET, HEAD),',
        'and only for a Host header of 127.0.0.1, localhost or [::1] with its port,',
        'or the --host address (for 0.0.0.0 or ::, this machine\'s own addresses);',
        'any other Host gets 403, so a page on another site cannot read the model',
        'through DNS rebinding. A request without Host (HTTP/1.0) is answered only',
        'on a loopback address. A --host that is not loopback prints a warning:',
        'other machines can then reach the server and download the model and its',
        'weights.',
        '',
      ].join('\n'),
    )
    .action(async (dir: string, flags: WebFlags) => {
      const { isLoopback, startWebServer } = await import('../../web/server.js');
      const web = await startWebServer({ dir, port: flags.port, host: flags.host, steps: flags.steps, batch: flags.batch, drawEvery: flags.drawEvery });
      if (!isLoopback(flags.host)) {
        process.stderr.write(`twnn: warning: --host ${printable(flags.host)}: the server is reachable from other machines, and serves them the model and its weights\n`);
      }
      process.stdout.write(`twnn web: open ${web.url} to train ${dir} in the browser (${flags.steps} steps of ${flags.batch}); Ctrl-C stops the server\n`);
      await new Promise<void>((done) => process.once('SIGINT', () => void web.close().then(done)));
    });
}
