// graphs/mnist-resnet.ts with Jacobian regularisation (Bai, Koltun & Kolter 2021)
// on both regions: the training loss adds γ·‖∂F/∂S‖²_F/d (one Rademacher probe per
// step), which keeps each region's sweep contractive as its wormhole gates open, so
// the sweeps per sample stay low through training. With it, lr 2e-3 — which made the
// plain TWNN ResNet's sweeps climb to 27 per sample and its loss go NaN within 525
// steps — is tried again; docs/RESULTS.md reports what happened.
import { mnistResnet } from './mnist-resnet.js';

export default mnistResnet({ name: 'mnist-resnet-jacobian', note: 'Jacobian penalty 1 on both regions, lr 2e-3', regions: { jacobianPenalty: 1 }, lr: 2e-3 });
