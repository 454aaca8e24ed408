// graphs/mnist-resnet.ts with Jacobian regularisation (Bai, Koltun & Kolter 2021)
// on both regions: the training loss adds γ·‖∂F/∂S‖²_F/d with γ = 1 (one Rademacher
// probe per step), which keeps each region's sweep contractive as training opens its
// wormhole gates, so the sweeps per sample stay lower.
// Measured over the first epoch (docs/FIXED-POINT.md §3, same seed and batches):
// - lr 1e-3 (this file): forward sweeps per sample 9.9 in the last 100 steps against
//   12.2 without the penalty, adjoint steps 6.2 against 7.9, the same loss, test
//   accuracy 97.88% against 97.53%, and no slower per epoch (285 s against 288 s);
// - lr 2e-3, which made the plain TWNN ResNet's sweeps climb and its loss go NaN
//   before (graphs/mnist-resnet.ts), does not train with the penalty either: the loss
//   collapses to chance (2.30) by step 300, with or without it (10% and 38% test
//   accuracy after one epoch). The penalty keeps the sweeps low (9) but does not
//   rescue that learning rate.
import { mnistResnet } from './mnist-resnet.js';

export default mnistResnet({ name: 'mnist-resnet-jacobian', note: 'Jacobian penalty 1 on both regions', regions: { jacobianPenalty: 1 } });
