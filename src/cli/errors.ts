import { CommanderError } from 'commander';
import { TwnnError } from '../common/errors.js';
import { oneLine, printable } from '../ir/text.js';
import { fileErrorCause } from '../common/files.js';

/** Exit status of a usage error, a bad input file or any other TwnnError. */
export const EXIT_USAGE = 2;
/** Exit status of an unexpected internal error (printed with its stack). */
export const EXIT_INTERNAL = 1;

/**
 * Print `err` the CLI's way and return the exit status: a TwnnError, a
 * commander usage error or a file-system error is one `twnn: error: <message>`
 * line (exit 2); anything else is a bug, printed with its stack (exit 1).
 *
 * @example process.exitCode = reportError(new TwnnError('bad input'));
 */
export function reportError(err: unknown, stderr: (text: string) => void = (t) => process.stderr.write(t)): number {
  const message = userMessage(err);
  if (message !== undefined) {
    // One line, inert: a message may quote a model's names (newlines would forge lines, escapes drive the terminal).
    stderr(`twnn: error: ${printable(oneLine(message))}\n`);
    return EXIT_USAGE;
  }
  stderr(`twnn: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT_INTERNAL;
}

/** The one-line message for an error the user can act on, or undefined for a bug. */
function userMessage(err: unknown): string | undefined {
  if (err instanceof TwnnError) return err.message;
  if (err instanceof CommanderError) return err.message.replace(/^error: /, '');
  const e = err as NodeJS.ErrnoException;
  if (e instanceof Error && typeof e.code === 'string' && typeof e.syscall === 'string') {
    return `cannot ${e.syscall}${e.path ? ` '${e.path}'` : ''}: ${fileErrorCause(e)}`;
  }
  return undefined;
}
