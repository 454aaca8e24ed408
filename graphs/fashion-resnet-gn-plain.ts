// graphs/fashion-resnet.ts without its wormholes: the same GroupNorm blocks
// B1..B4, run once front to back (graphs/mnist-resnet-gn-plain.ts on Fashion-MNIST).
import mnistResnetGnPlain from './mnist-resnet-gn-plain.js';
import { onFashionMnist } from './fashion-resnet.js';

export default onFashionMnist(mnistResnetGnPlain, 'fashion-resnet-gn-plain');
