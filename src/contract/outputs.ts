// What the outputs of an exported graph mean (docs/DESIGN.md §3): the names
// lower gives them and codegen documents in a wrapper.

/**
 * The meaning of a model.onnx output by its name, or undefined for a name the
 * contract does not define.
 *
 * @example outputMeaning('unsettled.region2') // 'per sample, 1 where region region2 ran all maxIter sweeps without settling'
 */
export function outputMeaning(name: string): string | undefined {
  if (name === 'y') return "the model's output";
  if (name === 'iterations') return 'forward sweeps per sample, summed over the fixed-point regions (1 for a network without regions)';
  if (name === 'residual') return "per sample, the last sweep's change max|S_new - S_old| (the largest over the regions; 0 without regions)";
  if (name === 'unsettled') return 'per sample, in how many regions it ran all maxIter sweeps without settling (0 without regions)';
  const region = /^(iterations|residual|unsettled)\.(.+)$/.exec(name);
  if (region?.[1] === 'iterations') return `forward sweeps per sample in region ${region[2]}`;
  if (region?.[1] === 'residual') return `per sample, region ${region[2]}'s last change`;
  if (region?.[1] === 'unsettled') return `per sample, 1 where region ${region[2]} ran all maxIter sweeps without settling`;
  const gate = /^skip_gate\.(.+)$/.exec(name);
  if (gate) return `per sample, block ${gate[1]}'s skip gate at its fixed point (skipped below the manifest's threshold)`;
  return undefined;
}

/**
 * The meaning of a train.onnx (and train_steps.onnx, per step) output that
 * adds to or reports on what the optimizer minimises besides `loss`, or
 * undefined for any other name.
 *
 * @example trainingOutputMeaning('fp_correction') // '[n]: the task loss of each fixed-point correction term, ...'
 */
export function trainingOutputMeaning(name: string): string | undefined {
  if (name === 'fp_correction') {
    return (
      "[n]: the task loss of each fixed-point correction term, the earliest iterate first (task.train.fpCorrection); train.onnx minimises " +
      "loss + Σ_k weights[k]·fp_correction[k] with the manifest's training.fpCorrection.weights, and `loss` stays the task loss"
    );
  }
  if (name === 'jacobian_penalty') return "the regions' Jacobian penalties, added to what train.onnx minimises (`loss` stays the task loss)";
  if (name === 'skip_cost') return "the skip-gated blocks' costs γ·mean(s), added to what train.onnx minimises";
  return undefined;
}
