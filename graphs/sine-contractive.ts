// graphs/sine.ts with a contractive region (issue 24, item 1;
// src/twnn/contractive.ts): the sweep's Lipschitz constant in the state is at
// most 0.9 by construction (the wormhole's projection scaled from certified
// bounds of the two dense tanh blocks; the gate reads the block input alone).
// README, "Contractive regions", compares the two.
import { sineTwnn } from './sine.js';

export default sineTwnn({ name: 'sine-contractive', region: { contractive: { bound: 0.9 } }, note: 'contractive region (Lip <= 0.9)' });
