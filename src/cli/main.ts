// The `twnn` executable's entry point (bin/twnn.js imports it under tsx; `npm run twnn` runs it directly).
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv.slice(2));
