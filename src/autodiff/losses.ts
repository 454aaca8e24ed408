// Training losses as ONNX nodes, each reducing to a rank-0 scalar in the
// prediction's dtype, with PyTorch's 'mean' reduction. Built from primitive ops
// whose VJP rules exist, so `backward` differentiates them like any other node.
import { formatShape, isFloat, ShapeError, Tensor, type Graph, type Value } from '../ir/index.js';
import { cast, constant, equal, logSoftmax, mul, neg, reduceMean, reduceSum, sub, unsqueeze } from '../ops/index.js';

/**
 * Mean squared error over every element: `mean((y − target)²)`
 * (torch.nn.MSELoss(reduction='mean')). `target` must have `y`'s dtype and shape.
 *
 * @example
 * const loss = mseLoss(g, y, g.input('target', 'float32', y.shape)); // float32 []
 */
export function mseLoss(g: Graph, y: Value, target: Value): Value {
  if (!isFloat(y.dtype) || target.dtype !== y.dtype) {
    throw new ShapeError(`mseLoss: prediction '${y.describe()}' and target '${target.describe()}' must share one float dtype`);
  }
  const sameShape = y.rank === target.rank && y.shape.every((d, i) => d === target.shape[i]);
  if (!sameShape) {
    throw new ShapeError(`mseLoss: target shape ${formatShape(target.shape)} must equal the prediction's ${formatShape(y.shape)} ('${target.name}' vs '${y.name}')`);
  }
  const diff = sub(g, y, target);
  return reduceMean(g, mul(g, diff, diff), [], false);
}

/**
 * Softmax cross-entropy with integer labels: `mean_b(−logsoftmax(logits)[b, labels[b]])`
 * (torch.nn.CrossEntropyLoss(reduction='mean')). `logits` is `[B, C]` with a
 * known C, `labels` int64 `[B]` in `[0, C)`. The label's entry is picked with a
 * one-hot mask, `Equal(Unsqueeze(labels, 1), [0..C))`, rather than OneHot or
 * GatherElements, so the gradient needs only elementwise and reduce rules. A
 * label outside `[0, C)` selects nothing and contributes 0.
 *
 * @example
 * const loss = softmaxCrossEntropy(g, logits, g.input('target', 'int64', ['B'])); // float32 []
 */
export function softmaxCrossEntropy(g: Graph, logits: Value, labels: Value): Value {
  const classes = logits.shape[1];
  if (!isFloat(logits.dtype) || logits.rank !== 2 || typeof classes !== 'number') {
    throw new ShapeError(`softmaxCrossEntropy: logits must be float [B, C] with a known C, got '${logits.describe()}'`);
  }
  if (labels.dtype !== 'int64' || labels.rank !== 1) {
    throw new ShapeError(`softmaxCrossEntropy: labels must be int64 [B] class indices, got '${labels.describe()}'`);
  }
  const [b, l] = [logits.shape[0], labels.shape[0]];
  if (typeof b === 'number' && typeof l === 'number' && b !== l) {
    throw new ShapeError(`softmaxCrossEntropy: ${l} labels for a batch of ${b} logits ('${labels.name}' vs '${logits.name}')`);
  }
  const classIds = constant(g, Tensor.fromNumbers('int64', [classes], [...Array(classes).keys()]));
  const oneHot = cast(g, equal(g, unsqueeze(g, labels, [1]), classIds), logits.dtype);
  const picked = reduceSum(g, mul(g, logSoftmax(g, logits, -1), oneHot), [1], false);
  return neg(g, reduceMean(g, picked, [], false));
}
