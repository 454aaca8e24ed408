// graphs/fashion-resnet.ts (the TWNN ResNet on Fashion-MNIST, Jacobian penalty 1
// on both regions) with a fixed-point correction (torchdeq's fp_correction,
// src/lower/fp-correction.ts) instead of gradient clipping: at Table II's
// settings (Adam, lr 1e-3, batch 64), for issue 24's experiment, which trains it
// against fashion-resnet.ts without clipping. train.onnx also minimises the task
// loss of two intermediate iterates of each region, at 1/3 and 2/3 of each
// sample's sweeps, each one phantom sweep from the detached iterate, weighted
// 0.64 and 0.8 (torchdeq's exp weights, gamma 0.8); `loss` stays the task loss and
// metrics.jsonl's `fp_correction` holds the two terms' losses.
// Cost: per step, up to 2/3 of each region's forward sweeps again (plain, not
// differentiated, over the whole batch) plus one differentiated sweep per term
// and region, and the stem and head once more per term.
import { defineModel, type FixedPointCorrection, type ModelSpec } from '../src/index.js';
import { fashionTwnn } from './fashion-resnet.js';

/** The correction this variant trains with: torchdeq's defaults with two intermediate states. */
export const FASHION_FP_CORRECTION: FixedPointCorrection = { terms: 2, gamma: 0.8, phantomSteps: 1 };

/**
 * `spec` trained with `fpCorrection` and without gradient clipping, named `name`.
 *
 * @example export default withFpCorrection(fashionTwnn({ name: 'x' }), 'fashion-resnet-fpcorr');
 */
export function withFpCorrection(spec: ModelSpec, name: string, fpCorrection: FixedPointCorrection = FASHION_FP_CORRECTION): ModelSpec {
  const train = { ...spec.task?.train };
  delete train.clipNorm;
  return defineModel({
    name,
    description: `${spec.description ?? spec.name}; fixed-point correction (${fpCorrection.terms} terms), no gradient clipping`,
    input: { shape: [...spec.input.shape], dtype: 'float' },
    net: spec.net,
    task: { ...spec.task, train: { ...train, fpCorrection } },
  });
}

export default withFpCorrection(fashionTwnn({ name: 'fashion-resnet-fpcorr', note: 'Jacobian penalty 1 on both regions' }), 'fashion-resnet-fpcorr');
