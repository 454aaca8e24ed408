// graphs/fashion-resnet.ts (Jacobian penalty included) with block skipping
// (paper Eq. 5-6: "this model skipped block B4 during training"): each of
// B1..B4 carries a learned per-sample skip gate on its residual branch,
// relu(shortcut + s·[s >= 0.5] ⊙ main(x)). Training computes that function
// densely and adds γ·mean(s) per block to the loss (γ = 0.05), so a gate closes
// where its block does not pay for itself; model.onnx runs a block's branch only
// for the samples whose gate is open, inside the regions' Loops too, and outputs
// each block's gates (skip_gate.region1.B1, ...). `twnn bench study` reports how
// often each block is skipped and what skipping costs and saves.
import { fashionTwnn } from './fashion-resnet.js';

// The gates start at s = sigmoid(1) = 0.73, not the default sigmoid(3) = 0.95:
// Adam moves a bias by at most about lr per step, about 1.2 in all over two
// cosine-decayed epochs, so from 3 no gate could reach the 0.5 threshold in this
// run (a 300-step pilot from 3 skipped 0-2.7% of samples per block).
export default fashionTwnn({ name: 'fashion-resnet-skip', skip: { cost: 0.05, gateBias: 1 }, note: 'Jacobian penalty 1 on both regions, skip gates on B1..B4' });
