// A plain ResNet of twice the blocks (graphs/mnist-resnet-deep-plain.ts) on
// Fashion-MNIST: the paper's deeper baseline for the TWNN ResNet.
import mnistResnetDeepPlain from './mnist-resnet-deep-plain.js';
import { onFashionMnist } from './fashion-resnet.js';

export default onFashionMnist(mnistResnetDeepPlain, 'fashion-resnet-deep-plain');
