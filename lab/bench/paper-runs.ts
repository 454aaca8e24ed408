// The runs docs/RESULTS.md is made from: each TWNN of the paper's tasks with
// its plain baselines, and the exact command that trained it. `twnn bench
// paper` reads their folders (only model.onnx, manifest.json and metrics.jsonl
// are committed; `graph` is what a step's train.onnx is exported from again
// where the folder has none); `--runs file.json` replaces this list. The
// folders sit under exported/paper/ so that a plain `twnn build` or `twnn
// train` of the same graph (into exported/<name>/) does not overwrite them.
import type { BenchRun } from './runs.js';

export const PAPER_RUNS: readonly BenchRun[] = [
  {
    id: 'mnist-mlp',
    label: 'TWNN MLP',
    family: 'MLP',
    role: 'twnn',
    dir: 'exported/paper/mnist-mlp',
    graph: 'graphs/mnist-mlp.ts',
    command: 'twnn train graphs/mnist-mlp.ts --epochs 4 --lr-schedule cosine -o exported/paper/mnist-mlp',
    note:
      "Table II's Adam, batch 64, lr 1e-3, tol 1e-3, maxIter 300, but 4 epochs with a cosine decay of the lr instead of the graph's default 2 epochs at a constant lr " +
      '(this run had 96.30% after epoch 1 and 97.45% after epoch 2; metrics.jsonl).',
    target: 0.98,
  },
  {
    id: 'mnist-mlp-plain',
    label: 'Plain MLP',
    family: 'MLP',
    role: 'baseline',
    dir: 'exported/paper/mnist-mlp-plain',
    graph: 'graphs/mnist-mlp-plain.ts',
    command: 'twnn train graphs/mnist-mlp-plain.ts --epochs 4 --lr 1e-3 -o exported/paper/mnist-mlp-plain',
    note:
      "Trained 4 epochs with the TWNN MLP's settings (lr 1e-3, cosine), as the TWNN was, rather than the graph's default 2 epochs at lr 2e-3. " +
      'Test accuracy after epochs 1-4: 96.73, 97.72, 98.18, 98.32% (metrics.jsonl).',
  },
  {
    id: 'mnist-resnet',
    label: 'TWNN ResNet',
    family: 'ResNet',
    role: 'twnn',
    dir: 'exported/paper/mnist-resnet',
    graph: 'graphs/mnist-resnet.ts',
    command: 'twnn train graphs/mnist-resnet.ts -o exported/paper/mnist-resnet',
    note:
      "Paper Fig. 5 at MNIST scale; Table II's Adam, batch 64, lr 1e-3, tol 1e-3, maxIter 300, with a cosine decay of the lr over 8 epochs " +
      '(graphs/mnist-resnet.ts says why, and why not lr 2e-3). Test accuracy after epochs 1-8: 97.85, 97.76, 99.15, 98.85, 99.16, 99.37, 99.38, 99.39% (metrics.jsonl).',
    target: 0.993,
  },
  {
    id: 'mnist-resnet-gn-plain',
    label: 'Plain ResNet, same blocks',
    family: 'ResNet',
    role: 'baseline',
    dir: 'exported/paper/mnist-resnet-gn-plain',
    graph: 'graphs/mnist-resnet-gn-plain.ts',
    command: 'twnn train graphs/mnist-resnet-gn-plain.ts --epochs 8 -o exported/paper/mnist-resnet-gn-plain',
    note:
      'The TWNN ResNet without its wormholes: the same GroupNorm blocks, stem and head (paper Table III: "ResNet-36" against "TWRNN"). ' +
      "Trained 8 epochs with the TWNN's settings (lr 1e-3, cosine), as the TWNN was. Test accuracy after epochs 1-8: 97.33, 98.28, 98.72, 98.92, 99.13, 99.26, 99.26, 99.27% (metrics.jsonl).",
  },
  {
    id: 'mnist-resnet-deep-plain',
    label: 'Deep plain ResNet (8 blocks)',
    family: 'ResNet',
    role: 'baseline',
    dir: 'exported/paper/mnist-resnet-deep-plain',
    graph: 'graphs/mnist-resnet-deep-plain.ts',
    command: 'twnn train graphs/mnist-resnet-deep-plain.ts --epochs 8 -o exported/paper/mnist-resnet-deep-plain',
    note:
      'Twice the blocks of the TWNN ResNet, no wormholes (paper Table III: "ResNet-50"). Trained 8 epochs with the TWNN\'s settings, as the TWNN was. ' +
      'Test accuracy after epochs 1-8: 96.92, 98.26, 98.87, 99.07, 99.14, 99.34, 99.48, 99.46% (metrics.jsonl).',
  },
];
