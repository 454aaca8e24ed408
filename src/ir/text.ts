// Text that goes to a terminal or a log line. Strings read from a model
// (names, doc strings, metadata) are untrusted: an escape sequence in one
// could clear the screen or set the title, and a newline forge an output line,
// so everything printed from a model goes through `printable` (issue 13).

/** C0 and C1 controls, DEL, and the Unicode bidirectional overrides that reorder what a line appears to say. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\e' };

/**
 * `text` with every control character shown as an escape (`\n`, `\e`,
 * `\u{7}`), so it prints as one inert line.
 *
 * @example printable('y\u001b[2J') // 'y\\e[2J'
 */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => NAMED[c] ?? `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

/**
 * Collapse whitespace runs (an onnxruntime message is often several lines) to
 * one space and trim; longer than `max` characters, cut with `…`.
 *
 * @example oneLine('a\n  b') // 'a b'
 */
export function oneLine(text: string, max = Infinity): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
