// The PyTorch twin of every graph in graphs/ (issue 25, part 1): each one the
// twin can express agrees with twnn's model.onnx, grad.onnx and train.onnx
// (outputs, sweeps per sample, the loss and every gradient, one optimizer
// step, in both of the twin's sweep modes: `twnn bench torch`'s agreement
// check; with train.onnx's Jacobian penalty, skip cost and fixed-point
// correction where it has them), and each one it cannot express is refused by
// name (none today). The input is
// seeded noise of the graph's input shape (no data set is read), the weights
// the spec's seed-0 initial values.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchTorch, type AgreementCheck, type TorchBenchModel } from '../../lab/bench/torch.js';
import { Rng } from '../../src/common/rng.js';
import { floatTensor, makeDataset, takeBatch } from '../../src/data/batches.js';
import { Tensor } from '../../src/ir/tensor.js';
import { buildInferenceGraph } from '../../src/lower/inference.js';
import { buildGradGraph } from '../../src/lower/training.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { openSession } from '../../src/runtime/session.js';
import { firstStepFeeds } from '../../src/runtime/train-feeds.js';
import type { ModelSpec } from '../../src/twnn/spec.js';
import { mnistResnet } from '../../graphs/mnist-resnet.js';
import { defineModel, dense, region, sequential, tanh, type RegionSpec } from '../../src/index.js';
import { REPO } from '../cli/run-cli.js';
import { stiffRegionModel, stiffWeights } from '../../lab/bench/stiff-region.js';

/** What the twin refuses, and the words it refuses with. */
const REFUSED: Readonly<Record<string, RegExp>> = {
};

/** Graphs whose train.onnx has these outputs, checked too in each sweep mode: the Jacobian penalty, the skip gates' cost. */
const EXTRA_TERMS: Readonly<Record<string, readonly string[]>> = {
  jacobian_penalty: ['fashion-resnet', 'fashion-resnet-fpcorr', 'fashion-resnet-noclip', 'fashion-resnet-skip', 'mnist-resnet-jacobian'],
  skip_cost: ['fashion-resnet-skip'],
  fp_correction: ['fashion-resnet-fpcorr'],
};

/**
 * Checks allowed more than `twnn bench torch`'s limit, with the value measured. The deep plain
 * CIFAR ResNet's input gradient (grad.x, its worst tensor) differs by 2.96e-3 of its largest entry on
 * this noise, while every parameter gradient is within 1e-3; on other noise (torch.rand, seed 0) twnn's
 * float32 grad.x is within 7.4e-7 of torch's float64 one, so this looks like float32 rounding at a
 * ReLU/max-pool kink of one of these inputs, not a different rule; it is not proven.
 */
const LOOSER: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  'cifar-resnet-deep-plain': { 'grad.onnx gradients, worst tensor': 5e-3 },
};

const ROWS = 16;
const CHECK = { repeats: 0, inferenceBatches: [], trainBatch: ROWS, rowScale: 1, agreementRows: ROWS, gradRows: 8, tuningPasses: 1, torchThreads: [1], openblasThreads: [1], agreementOnly: true, keepGoing: true };
const graphs = readdirSync(join(REPO, 'graphs')).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).sort();

/** Seeded noise of the model's input shape, with targets of its loss's kind. */
function noise(spec: ModelSpec): TorchBenchModel['data'] {
  const y = buildInferenceGraph(spec, {}).graph.outputs[0];
  const rng = new Rng(`torch-twin-graphs:${spec.name}`);
  const draw = (shape: number[]) => floatTensor('float32', shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.next() * 2 - 1));
  const x = draw([ROWS, ...spec.input.shape.slice(1).map(Number)]);
  const classes = Number(y.shape[1]);
  const target = spec.task?.loss === 'mse' ? draw([ROWS, ...y.shape.slice(1).map(Number)]) : Tensor.fromNumbers('int64', [ROWS], Array.from({ length: ROWS }, () => Math.floor(rng.next() * classes)));
  return makeDataset(`${spec.name}/noise`, x, target);
}

/** Every check within its limit, or the looser one given for it. */
function expectWithinLimits(checks: readonly AgreementCheck[], looser: Readonly<Record<string, number>> = {}): void {
  for (const c of checks) expect(c.value, `${c.what} (${c.mode})${c.note ? `; ${c.note}` : ''}`).toBeLessThanOrEqual(looser[c.what] ?? c.limit);
}

async function twinOf(name: string, given?: ModelSpec): Promise<TorchBenchModel> {
  const spec = given ?? ((await import(join(REPO, 'graphs', `${name}.ts`))).default as ModelSpec);
  return { id: name, title: name, graph: `graphs/${name}.ts`, spec, weightsFrom: 'seed 0', data: noise(spec), targets: {}, passRows: {} };
}

describe('the torch twin of every graph in graphs/', () => {
  // twnn's sessions here use onnxruntime's own convolution kernels, not the blocked ones openSession
  // picks on the CPU (src/onnx/blocked-conv.ts). On these seeded-noise weights a few rows stop right at
  // the tolerance, so a kernel that rounds differently moves one row's count by a sweep. Seen: mnist-resnet,
  // 1 of grad.onnx's 8 rows (6 sweeps against 7), against a limit of 1% of rows. And cifar-resnet's grad.x
  // moves by 1.26e-2 of its largest entry in 81 of its 24,576 entries: a few ReLUs whose input sits at 0
  // flip (no max-pool there; the loss, counts and parameter gradients agree). The checks here are of the
  // twin's semantics.
  // The blocked kernels are checked against onnxruntime's own in test/runtime/blocked-conv.test.ts, and
  // `twnn bench torch` checks them against the twin on trained weights and 64 real rows.
  const saved = process.env.TWNN_BLOCKED_CONV;
  beforeAll(() => {
    process.env.TWNN_BLOCKED_CONV = '0';
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.TWNN_BLOCKED_CONV;
    else process.env.TWNN_BLOCKED_CONV = saved;
  });

  it('knows every graph: each is either checked or refused by name', () => {
    expect(graphs.length).toBeGreaterThan(10);
    for (const name of Object.keys(REFUSED)) expect(graphs, name).toContain(name);
  });

  for (const name of graphs) {
    if (REFUSED[name]) {
      it(`${name}: refused, by name`, async () => {
        await expect(benchTorch({ ...CHECK, models: [await twinOf(name)] })).rejects.toThrow(REFUSED[name]);
      }, 300_000);
    } else {
      it(`${name}: outputs, sweeps, gradients and one optimizer step agree with twnn`, async () => {
        const [m] = (await benchTorch({ ...CHECK, models: [await twinOf(name)] })).models;
        // Per sweep mode: inference sweeps and y; grad.onnx loss, counts, gradients; train.onnx loss, counts, moves (and penalty).
        const terms = Object.keys(EXTRA_TERMS).filter((t) => EXTRA_TERMS[t].includes(name));
        expect(m.agreement).toHaveLength(16 + 2 * terms.length);
        for (const t of Object.keys(EXTRA_TERMS)) expect(m.agreement.filter((c) => c.what === `train.onnx ${t}`)).toHaveLength(terms.includes(t) ? 2 : 0);
        expectWithinLimits(m.agreement, LOOSER[name]);
      }, 300_000);
    }
  }

  // fashion-resnet-skip's gates start open (gate bias 1) on every row, so its check never skips a block; with bias 0
  // some rows' gates are below the threshold, and the twin must drop those rows' branches as twnn does.
  it('skip gates closed on some rows: outputs, sweeps, gradients and one optimizer step agree with twnn', async () => {
    const spec = mnistResnet({ name: 'mnist-resnet-skip-closing', skip: { gateBias: 0, cost: 0.05 } });
    const model = await twinOf(spec.name, spec);
    const gates = await (await openSession(serializeModel(buildInferenceGraph(spec, {}).graph))).run({ x: model.data.x });
    const closed = Object.entries(gates).filter(([k]) => k.startsWith('skip_gate.')).flatMap(([, t]) => t.toNumbers().filter((g) => g < 0.5));
    expect(closed.length).toBeGreaterThan(0);
    const [m] = (await benchTorch({ ...CHECK, models: [model] })).models;
    expect(m.agreement).toHaveLength(18);
    expectWithinLimits(m.agreement);
  }, 300_000);

  // Every graph's region carries one state; with two (blocks 2 and 3 into block 1) the penalty probes the second with
  // its own salt, and a contractive region's budget sums the bound over both sources.
  for (const [what, option] of [['a Jacobian penalty', { jacobianPenalty: 1 }], ['a contractive bound', { contractive: { bound: 0.9 } }]] as const) {
    it(`a region with two states and ${what}: outputs, sweeps, gradients and one optimizer step agree with twnn`, async () => {
      const block = () => sequential(dense(16, 16), tanh());
      const settings: Partial<RegionSpec> = option;
      const spec = defineModel({
        name: 'two-states',
        input: { shape: ['B', 16], dtype: 'float' },
        net: sequential({
          stem: sequential(dense(16, 16), tanh()),
          region1: region({ blocks: [block(), block(), block()], wormholes: [{ from: 2, to: 1, gateBias: 0 }, { from: 3, to: 1, gateBias: 0 }], iterate: { tol: 1e-4, maxIter: 60 }, ...settings }),
          head: dense(16, 1),
        }),
        task: { loss: 'mse' },
      });
      const [m] = (await benchTorch({ ...CHECK, models: [await twinOf(spec.name, spec)] })).models;
      expect(m.agreement).toHaveLength('jacobianPenalty' in option ? 18 : 16);
      expectWithinLimits(m.agreement);
    }, 300_000);
  }
});

// The twin's solvers (src/lower/solvers/, python/twnn_solvers.py): Anderson and Broyden as the forward solver (the
// adjoint then takes it too, by default) and as the backwardSolver of a plainly iterated region. The region has two
// states, so a solver's rows join and split both, and its blocks' weights are scaled up (×2.5) from the seed-0 draw
// so that plain iteration needs 10 to 45 sweeps and adjoint steps: the solvers' histories fill and wrap
// (lab/bench/stiff-region.ts). Each check first shows that the solver moves twnn's own counts (or, out of sweeps, its
// loss) away from the same region iterated plainly, so a twin that iterated plainly would fail the agreement.
// Stiffer regions (×2.75, ×3) have rows whose count hangs on float32 rounding, for plain iteration too, but most for
// Broyden with a short history: there the twin disagrees with twnn on as many rows as with itself in float64
// (tools/twin-solver-rounding.ts measures it; README, "Training on PyTorch DDP").
describe("the torch twin's solvers", () => {
  const SCALE = 2.5;
  /** twnn's grad.onnx sweeps, adjoint steps and loss on the rows the agreement check differentiates. */
  const twnnCounts = async (spec: ModelSpec, data: TorchBenchModel['data']) => {
    const built = buildGradGraph(spec, { weights: stiffWeights(spec, SCALE) });
    const session = await openSession(serializeModel(built.graph));
    try {
      const out = await session.run(firstStepFeeds(built, takeBatch(data, [...Array(CHECK.gradRows).keys()])));
      return { sweeps: out.iterations.toNumbers(), adjoint: out.iterations_backward.toNumbers(), loss: out.loss.toNumbers() };
    } finally {
      await session.close();
    }
  };
  const cases: readonly [string, Partial<RegionSpec>, RegionSpec['iterate'], 'sweeps' | 'adjoint' | 'loss'][] = [
    ['anderson', {}, { solver: 'anderson' }, 'sweeps'],
    ['anderson-damped', {}, { solver: 'anderson', history: 3, mixing: 0.5, regularization: 1e-4 }, 'sweeps'],
    ['broyden', {}, { solver: 'broyden', history: 4 }, 'sweeps'],
    ['backward-anderson', { backwardSolver: 'anderson' }, {}, 'adjoint'],
    ['backward-broyden', { backwardSolver: 'broyden' }, {}, 'adjoint'],
    // One state (block 3 into block 1): its row is the state itself, not a copy joined from several.
    ['anderson-one-state', { wormholes: [{ from: 3, to: 1, gateBias: 0 }] }, { solver: 'anderson' }, 'sweeps'],
    ['broyden-one-state', { wormholes: [{ from: 3, to: 1, gateBias: 0 }] }, { solver: 'broyden' }, 'sweeps'],
    // Out of sweeps: each row returns its best sweep output, or its last iterate (a mix, not a sweep output).
    ['anderson-unsettled-best', {}, { solver: 'anderson', maxIter: 6 }, 'loss'],
    ['broyden-unsettled-last', {}, { solver: 'broyden', maxIter: 6, returnIterate: 'last' }, 'loss'],
  ];
  for (const [name, options, iterate, moves] of cases) {
    it(`${name}: outputs, sweeps, adjoint steps, gradients and one optimizer step agree with twnn`, async () => {
      const spec = stiffRegionModel(name, options, iterate);
      const plain = stiffRegionModel(`${name}-plain`, { ...options, backwardSolver: 'plain' }, { ...iterate, solver: 'plain', history: undefined, mixing: undefined, regularization: undefined });
      const model = { ...(await twinOf(name, spec)), weights: stiffWeights(spec, SCALE), weightsFrom: `seed 0, region blocks ×${SCALE}` };
      const [ours, theirs] = await Promise.all([twnnCounts(spec, model.data), twnnCounts(plain, model.data)]);
      expect(ours[moves], `twnn's ${moves} with ${name} against plain iteration`).not.toEqual(theirs[moves]);
      const [m] = (await benchTorch({ ...CHECK, models: [model] })).models;
      expect(m.agreement).toHaveLength(16);
      expectWithinLimits(m.agreement);
    }, 300_000);
  }

  // Convolutional states ([B, C, H, W], flattened to rows: a view of the state, which the twin's active mode writes in
  // place) in two regions whose Loops sweep lazily compacted working sets (compactBelow 0.9): Anderson forward, Broyden
  // in the adjoint. The seed-0 ResNet settles in 3 to 4 sweeps a region, where the solvers take plain iteration's
  // counts, so this checks the rows and their memory, not the acceleration: with the memory's last x sharing the
  // state's storage, 2 of 16 rows' sweeps differed from twnn's. (Its gates opened to let the solvers gain, region1
  // stops settling in eval mode, plain iteration too.)
  it('the MNIST ResNet with anderson and a broyden adjoint: outputs, sweeps, adjoint steps, gradients and one optimizer step agree with twnn', async () => {
    const spec = mnistResnet({ name: 'mnist-resnet-solvers', regions: { iterate: { solver: 'anderson' }, backwardSolver: 'broyden' } });
    const [m] = (await benchTorch({ ...CHECK, models: [await twinOf(spec.name, spec)] })).models;
    expect(m.agreement).toHaveLength(16);
    expectWithinLimits(m.agreement);
  }, 300_000);
});
