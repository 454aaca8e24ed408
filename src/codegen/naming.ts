import { printable } from '../ir/text.js';
// Names and literals for generated TypeScript: class and file names from a
// model name, property keys and string literals that are always valid source.

const RESERVED = new Set([
  'break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default', 'delete', 'do', 'else', 'enum',
  'export', 'extends', 'false', 'finally', 'for', 'function', 'if', 'import', 'in', 'instanceof', 'new', 'null',
  'return', 'super', 'switch', 'this', 'throw', 'true', 'try', 'typeof', 'var', 'void', 'while', 'with',
]);

/** Type names every wrapper declares besides its class (a class of the same name would clash). */
export const HELPER_TYPES = { tensor: 'TypedTensor', dim: 'Dim' } as const;

/** Words of a name: runs of letters and digits, split at case changes (`mnistMLP2` -> mnist, MLP2). */
function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w !== '');
}

/**
 * A PascalCase class name for a model name; `Model` when nothing usable is
 * left, and a `Model` prefix when it would start with a digit.
 *
 * @example pascalCase('mnist-mlp') // 'MnistMlp'
 * @example pascalCase('3d_unet') // 'Model3dUnet'
 */
export function pascalCase(name: string): string {
  const joined = words(name).map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  if (joined === '') return 'Model';
  return /^[0-9]/.test(joined) ? `Model${joined}` : joined;
}

/**
 * The wrapper class name for a model name: its PascalCase, with a `Model`
 * suffix where that would clash with a helper type of the wrapper.
 *
 * @example className('mnist-mlp') // 'MnistMlp'
 * @example className('dim') // 'DimModel'
 */
export function className(name: string): string {
  const pascal = pascalCase(name);
  return (Object.values(HELPER_TYPES) as string[]).includes(pascal) ? `${pascal}Model` : pascal;
}

/**
 * A lower-case, dash-separated file stem for a model name.
 *
 * @example kebabCase('MnistMLP train_steps') // 'mnist-mlp-train-steps'
 */
export function kebabCase(name: string): string {
  return words(name).map((w) => w.toLowerCase()).join('-') || 'model';
}

/** Whether `name` can be written as a bare property name or `.name` access. */
export function isIdentifier(name: string): boolean {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) && !RESERVED.has(name);
}

/**
 * A single-quoted TypeScript string literal.
 *
 * @example stringLiteral("it's") // "'it\\'s'"
 */
export function stringLiteral(text: string): string {
  // Control characters too: the generated source stays plain text, whatever the model's names hold.
  const escaped = text.replace(/[\\'\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) =>
    c === '\\' ? '\\\\' : c === "'" ? "\\'" : c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return `'${escaped}'`;
}

/**
 * A property name as written in an interface or object literal: bare when it
 * is an identifier, quoted otherwise (ONNX names such as `stem.0.weight`).
 *
 * @example propertyKey('stem.0.weight') // "'stem.0.weight'"
 */
export function propertyKey(name: string): string {
  return isIdentifier(name) ? name : stringLiteral(name);
}

/**
 * Reading property `name` of `object` in source: `object.name` or `object['a.b']`.
 *
 * @example propertyAccess('inputs', 'x') // 'inputs.x'
 */
export function propertyAccess(object: string, name: string): string {
  return isIdentifier(name) ? `${object}.${name}` : `${object}[${stringLiteral(name)}]`;
}

/**
 * A JSON-like value (strings, numbers, null, arrays) as a TypeScript literal.
 *
 * @example literal(['B', 784]) // "['B', 784]"
 */
export function literal(value: string | number | null | readonly (string | number | null)[]): string {
  if (Array.isArray(value)) return `[${value.map((v) => literal(v as string | number | null)).join(', ')}]`;
  if (typeof value === 'string') return stringLiteral(value);
  return String(value);
}

/**
 * Text made safe for a doc comment: a star-slash that would end it early, and
 * a slash-star that would open a comment inside it (ts-morph then cannot place
 * the next declaration), get a backslash between the two; line endings become `\n`.
 *
 * @example docText('glob: data/' + '*.npy') // 'glob: data/\\*.npy'
 */
export function docText(text: string): string {
  // Lines stay lines; any other control character (from a model's strings) is written as an escape.
  return text.replace(/\*\//g, '*\\/').replace(/\/\*/g, '/\\*').replace(/\r\n?/g, '\n').split('\n').map(printable).join('\n');
}
