// graphs/fashion-resnet.ts (the TWNN ResNet on Fashion-MNIST, Jacobian penalty 1
// on both regions) as it is, but without gradient clipping: Table II's settings
// (Adam, lr 1e-3, batch 64) exactly. The baseline of issue 24's experiment
// (`twnn bench stability`), against fixed-point correction
// (fashion-resnet-fpcorr.ts) and contractive wormholes
// (fashion-resnet-contractive.ts), all three without clipping.
import { fashionTwnn } from './fashion-resnet.js';

export default fashionTwnn({ name: 'fashion-resnet-noclip', note: 'Jacobian penalty 1 on both regions' }, { clip: false });
