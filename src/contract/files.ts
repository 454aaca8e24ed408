// The files of an export folder (docs/DESIGN.md §3): what `twnn build` and
// `twnn train` write, and what every reader opens by these names.

/**
 * The inference graph's file name in an export folder.
 *
 * @example const session = await openSession(`exported/sine/${MODEL_FILE}`);
 */
export const MODEL_FILE = 'model.onnx';
/**
 * The gradient graph's file name: the loss of a batch and its gradient for every parameter.
 *
 * @example const grad = await openSession(`exported/sine/${GRAD_FILE}`);
 */
export const GRAD_FILE = 'grad.onnx';
/**
 * One optimizer step's file name: weights and optimizer state in, `<name>.new` out.
 *
 * @example const step = await openSession(`exported/sine/${TRAIN_FILE}`);
 */
export const TRAIN_FILE = 'train.onnx';
/**
 * K optimizer steps in one run, over a `[K, B, ...]` stack of batches.
 *
 * @example const steps = await openSession(`exported/sine/${TRAIN_STEPS_FILE}`);
 */
export const TRAIN_STEPS_FILE = 'train_steps.onnx';
/** Forward mode (`--jvp`): `y` and its derivative along `x_dot`. */
export const JVP_FILE = 'jvp.onnx';
/** Spectral diagnostics (`--spectral`): per sample, the spectral radius of each region's sweep Jacobian at its fixed point. */
export const SPECTRAL_FILE = 'spectral.onnx';
/**
 * The export's description: inputs, outputs, parameters, iterators, and each file's sha256.
 *
 * @example const manifest = await readManifest(`exported/sine/${MANIFEST_FILE}`); manifest.files[MODEL_FILE].sha256
 */
export const MANIFEST_FILE = 'manifest.json';
