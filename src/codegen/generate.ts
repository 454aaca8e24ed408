// `twnn codegen`: a typed TypeScript wrapper module for an .onnx model, written beside it.
import { dirname, join, relative, resolve, sep } from 'node:path';
import { TwnnError } from '../common/errors.js';
import { writeFileAtomic } from '../common/files.js';
import { emitWrapper } from './emit.js';
import { describeModel, type DescribeOptions, type WrapperModel } from './model-info.js';

/** Where and how to generate. */
export interface CodegenOptions extends DescribeOptions {
  /** The module to write (`.ts` or `.mts`); default `<model dir>/<model name>.ts`. */
  out?: string;
}

/** A generated wrapper. */
export interface GeneratedWrapper {
  /** Where it goes (or went). */
  path: string;
  text: string;
  model: WrapperModel;
}

/**
 * Generate the wrapper for `modelPath` without writing it. The module finds
 * the model through a path relative to itself, so the two can move together.
 *
 * @example
 * const { path, text } = await generateWrapper('exported/mnist-mlp/model.onnx');
 * path // 'exported/mnist-mlp/mnist-mlp.ts'
 */
export async function generateWrapper(modelPath: string, options: CodegenOptions = {}): Promise<GeneratedWrapper> {
  if (options.out !== undefined && !/\.m?ts$/.test(options.out)) {
    throw new TwnnError(`--out ${options.out}: the wrapper is a TypeScript module; name a .ts or .mts file`);
  }
  const model = await describeModel(modelPath, options);
  const path = options.out ?? join(dirname(modelPath), `${model.fileStem}.ts`);
  return { path, text: emitWrapper(model, { modelUrl: modelUrl(path, modelPath) }), model };
}

/**
 * Generate the wrapper for `modelPath` and write it atomically.
 *
 * @example
 * const { path, model } = await writeWrapper('test/fixtures/conv-net.onnx', { out: 'conv-net.ts' });
 * model.className // 'ConvNet'
 */
export async function writeWrapper(modelPath: string, options: CodegenOptions = {}): Promise<GeneratedWrapper> {
  const generated = await generateWrapper(modelPath, options);
  await writeFileAtomic(generated.path, generated.text);
  return generated;
}

/**
 * The model's path relative to the module, as a URL path (`/`, each segment
 * percent-encoded: `#` or `?` in a file name must not end the path).
 */
function modelUrl(modulePath: string, modelPath: string): string {
  const rel = relative(dirname(resolve(modulePath)), resolve(modelPath)).split(sep).map(encodeURIComponent).join('/');
  return rel.startsWith('../') ? rel : `./${rel}`;
}

