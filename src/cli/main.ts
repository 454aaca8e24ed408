// The `twnn` executable's entry point (bin/twnn.js imports it under tsx; `npm run twnn` runs it directly).
import { runCli } from './program.js';

// `twnn run ... | head` closes the pipe early; that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

process.exitCode = await runCli(process.argv.slice(2));
