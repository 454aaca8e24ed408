// The PyTorch twin's backward modes (issue 25): `unrolled` and `phantom:k`
// regions agree with twnn's model.onnx, grad.onnx and train.onnx on a tiny
// dense region built here — outputs, forward sweeps and adjoint steps per
// sample, the loss and every gradient, one optimizer step — in both of the
// twin's sweep modes (`twnn bench torch`'s agreement check). The adjoint
// steps tell the modes apart: unrolled replays each row's own forward steps
// (up to its best iterate when it never settled), phantom:k takes k − 1 on
// every row, where implicit would take as many as its tolerance asks. The
// wormholes' gates start nearly open (bias 4), so the sweep's Jacobian is large
// enough for the modes' gradients to differ: measured on these seeds, the twin
// computing the implicit gradient instead of the 3-sweep unrolled one misses
// twnn's grad.onnx by 2.7e-2 of the largest entry (limit 1e-3; the twin:
// 3.2e-6), instead of phantom:2's by 1.1e-2 and of phantom:1's by 1.0e-1.
// With rows that settle, unrolled and implicit gradients agree (to 3.4e-5
// here): there the per-row adjoint steps are what tells them apart.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { benchTorch, type AgreementCheck, type TorchBenchModel } from '../../lab/bench/torch.js';
import { Rng } from '../../src/common/rng.js';
import { floatTensor, makeDataset } from '../../src/data/batches.js';
import { defineModel, dense, region, sequential, tanh, type RegionSpec } from '../../src/index.js';
import { buildInferenceGraph } from '../../src/lower/inference.js';
import { buildTrainGraph } from '../../src/lower/training.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { describeForTorch } from '../../src/runtime/torch/arch.js';
import { python, REPO } from '../cli/run-cli.js';

const ROWS = 16;
const CHECK = { repeats: 0, inferenceBatches: [], trainBatch: ROWS, rowScale: 1, agreementRows: ROWS, gradRows: 8, tuningPasses: 1, torchThreads: [1], openblasThreads: [1], agreementOnly: true, keepGoing: true };

/**
 * A stem, a region of three tanh blocks with wormholes from blocks 2 and 3 into block 1 (two states, gate bias 4), a
 * head; the seed-0 weights, the blocks' and the projections' times `gain` (2: some rows' residuals rise again, so
 * their best iterate comes before their last sweep).
 */
function tinyRegion(name: string, settings: Partial<RegionSpec>, gain = 1): TorchBenchModel {
  const block = () => sequential(dense(16, 16), tanh());
  const spec = defineModel({
    name,
    input: { shape: ['B', 16], dtype: 'float' },
    net: sequential({
      stem: sequential(dense(16, 16), tanh()),
      region1: region({ blocks: [block(), block(), block()], wormholes: [{ from: 2, to: 1, gateBias: 4 }, { from: 3, to: 1, gateBias: 4 }], ...settings }),
      head: dense(16, 1),
    }),
    task: { loss: 'mse' },
  });
  const rng = new Rng(`torch-twin-modes:${name}`);
  const draw = (shape: number[]) => floatTensor('float32', shape, Array.from({ length: shape[0] * shape[1] }, () => rng.next() * 2 - 1));
  const data = makeDataset(`${name}/noise`, draw([ROWS, 16]), draw([ROWS, 1]));
  const scaled = /^region1\.(b\d\.|wormhole_b\d_b\d\.proj\.)/;
  const weights = new Map(buildInferenceGraph(spec, {}).params.map((p) => [p.name, scaled.test(p.name) ? floatTensor('float32', [...p.shape], p.value.toNumbers().map((v) => v * gain)) : p.value]));
  return { id: name, title: name, graph: `(built in ${import.meta.url.split('/').pop()})`, spec, weights, weightsFrom: `seed 0, region weights x${gain}`, data, targets: {}, passRows: {} };
}

function expectWithinLimits(checks: readonly AgreementCheck[]): void {
  for (const c of checks) expect(c.value, `${c.what} (${c.mode})${c.note ? `; ${c.note}` : ''}`).toBeLessThanOrEqual(c.limit);
}

const CASES: readonly [string, string, Partial<RegionSpec>, number, number?][] = [
  // Every row settles, each after its own number of sweeps; the twin backpropagates through exactly those.
  ['unrolled-settling', 'unrolled, rows settling after their own sweeps', { backward: 'unrolled', iterate: { tol: 1e-4, maxIter: 60 } }, 16],
  // tol out of reach in 3 sweeps: every row returns its best iterate, and the replay starts there.
  ['unrolled-best', 'unrolled, rows out of sweeps returning their best iterate', { backward: 'unrolled', iterate: { tol: 1e-9, maxIter: 3 }, sweeps: 'dense' }, 16],
  // Weights x2, 8 sweeps: rows whose best iterate is an earlier sweep's, replayed from there (the unrolled FD test below counts them).
  ['unrolled-best-earlier', 'unrolled, rows whose best iterate is not their last', { backward: 'unrolled', iterate: { tol: 1e-9, maxIter: 8 } }, 16, 2],
  // With a Jacobian penalty: its cotangent on S* goes through the truncated adjoint too (train.onnx's jacobian_penalty checked).
  ['phantom-2', 'phantom:2 with a Jacobian penalty', { backward: 'phantom:2', iterate: { tol: 1e-4, maxIter: 60 }, jacobianPenalty: 1 }, 18],
  // k = 1: Jacobian-free backprop, no adjoint step at all.
  ['phantom-1', 'phantom:1', { backward: 'phantom:1', iterate: { tol: 1e-4, maxIter: 60 } }, 16],
];

describe('the torch twin of unrolled and phantom regions', () => {
  for (const [name, what, settings, checks, gain] of CASES) {
    it(`${what}: outputs, sweeps, adjoint steps, gradients and one optimizer step agree with twnn`, async () => {
      const [m] = (await benchTorch({ ...CHECK, models: [tinyRegion(`modes-${name}`, settings, gain)] })).models;
      expect(m.agreement).toHaveLength(checks);
      expectWithinLimits(m.agreement);
    }, 300_000);
  }
});

// The twin's unrolled gradient in float64 against central differences of its own training loss (the sweep at S* after
// the settling, as train.onnx computes y). tol out of reach: every row takes maxIter sweeps at any weights, so the loss
// is a smooth function of them. The implicit gradient of the same region, beside it, shows the check can tell.
// Measured: within 2.1e-8 of each tensor's largest entry (h = 1e-4; the error grows as 1/h below it, rounding), the
// implicit gradient 1.4e-2 away; with the weights x2 and 8 sweeps, 3 of 6 rows replay from an earlier best iterate
// (adjoint steps 7, 7, 3, 7, 6, 2), within 1.2e-7.
const FINITE_DIFFERENCES = `
import json, sys, torch
sys.path.insert(0, sys.argv[2])
import twnn_torch
twin = twnn_torch.Twin(json.load(open(sys.argv[1])))
twin.net.double()
gen = torch.Generator().manual_seed(0)
x = torch.rand(6, 16, generator=gen, dtype=torch.float64) * 2 - 1
target = torch.rand(6, 1, generator=gen, dtype=torch.float64) * 2 - 1
params = dict(twin.net.named_parameters())
twin.set_key(None)
def loss():
    return twin.loss_of(twin.net(x), target)
def gradients(backward):
    for r in twin.regions:
        r.backward = backward
    return [g.clone() for g in torch.autograd.grad(loss(), list(params.values()))]
out = {}
for mode in ('dense', 'active'):
    twin.set_mode(mode)
    grads = gradients('unrolled')
    out[mode] = {'adjointSteps': twin.counts('iterations_backward').tolist(), 'worst': 0.0}
    for (name, p), g in zip(params.items(), grads):
        scale = g.abs().max().item()
        for i in torch.randint(p.numel(), (4,), generator=gen).tolist():
            flat, h = p.data.view(-1), 1e-4
            old = flat[i].item()
            flat[i] = old + h
            up = loss().item()
            flat[i] = old - h
            down = loss().item()
            flat[i] = old
            out[mode]['worst'] = max(out[mode]['worst'], abs((up - down) / (2 * h) - g.view(-1)[i].item()) / scale)
    implicit = gradients('implicit')
    out[mode]['implicit'] = max(((a - b).abs().max() / a.abs().max()).item() for a, b in zip(grads, implicit))
print(json.dumps(out))
`;

describe("the torch twin's unrolled gradient", () => {
  const dir = mkdtempSync(join(tmpdir(), 'twnn-torch-twin-modes-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The twin of `model` (its spec and weights) in float64: per sweep mode, its adjoint steps, the worst FD error, the implicit gradient's distance. */
  function finiteDifferences(model: TorchBenchModel): Record<string, { adjointSteps: number[]; worst: number; implicit: number }> {
    const built = buildInferenceGraph(model.spec, model.weights ? { weights: model.weights } : {});
    const train = buildTrainGraph(model.spec, {});
    const path = join(dir, `${model.id}.onnx`);
    writeFileSync(path, serializeModel(built.graph));
    const load = { model: path, arch: describeForTorch(model.spec, built.graph, built.params), loss: train.loss, optimizer: train.optimizer, fpCorrection: null };
    writeFileSync(join(dir, `${model.id}.json`), JSON.stringify(load));
    return JSON.parse(python(FINITE_DIFFERENCES, [join(dir, `${model.id}.json`), join(REPO, 'python')]));
  }

  it('is the derivative of its training loss (central differences, float64), in both sweep modes', () => {
    const out = finiteDifferences(tinyRegion('modes-fd', { backward: 'unrolled', iterate: { tol: 1e-9, maxIter: 3 } }));
    for (const mode of ['dense', 'active']) {
      expect(out[mode].adjointSteps, mode).toEqual(Array(6).fill(2));
      expect(out[mode].worst, mode).toBeLessThan(1e-6);
      expect(out[mode].implicit, mode).toBeGreaterThan(1e-3);
    }
  }, 120_000);

  it('replays each row from its best iterate, an earlier sweep than its last on some rows', () => {
    const out = finiteDifferences(tinyRegion('modes-fd-earlier', { backward: 'unrolled', iterate: { tol: 1e-9, maxIter: 8 } }, 2));
    for (const mode of ['dense', 'active']) {
      expect(out[mode].adjointSteps.some((n) => n < 7), `${mode}: ${out[mode].adjointSteps}`).toBe(true);
      expect(out[mode].adjointSteps.every((n) => n >= 1 && n <= 7), `${mode}: ${out[mode].adjointSteps}`).toBe(true);
      expect(out[mode].worst, mode).toBeLessThan(1e-6);
    }
    expect(out.active.adjointSteps).toEqual(out.dense.adjointSteps);
  }, 120_000);
});
