// Optimizer update graphs against torch.optim (torch_optim.py): same initial
// parameters, the same gradients fed for 3 steps (with a changing lr), then
// parameters and state compared after every step.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  clipGradNorm,
  optimizerState,
  optimizerStep,
  resolveOptimizer,
  type OptimizerConfig,
  type OptimizerSettings,
} from '../../src/autodiff/optimizers.js';
import { Graph, SpecError, Tensor, type DType } from '../../src/ir/index.js';
import { compileGraph, runGraph } from '../helpers/ort.js';
import { randn, seededRandom } from '../helpers/rng.js';

const SHAPES = [[3, 4], [4], [2, 2]];
const LRS = [0.1, 0.05, 0.02];

interface TorchStep {
  params: number[][];
  state: { m?: number[]; v?: number[] }[];
}

interface OptimCase {
  dtype: DType;
  settings: OptimizerSettings;
  params: number[][];
  grads: number[][][];
}

/** Run every case through torch_optim.py in one process (importing torch takes seconds). */
function torchSteps(cases: readonly OptimCase[]): TorchStep[][] {
  const dir = mkdtempSync(join(tmpdir(), 'twnn-optim-'));
  try {
    const file = join(dir, 'cases.json');
    const payload = cases.map((c) => ({
      dtype: c.dtype,
      optimizer: c.settings,
      params: c.params.map((data, i) => ({ shape: SHAPES[i], data })),
      steps: c.grads.map((g, i) => ({ lr: LRS[i], grads: g })),
    }));
    writeFileSync(file, JSON.stringify(payload));
    const script = resolve(fileURLToPath(import.meta.url), '../torch_optim.py');
    // The first python3 on PATH does not see Debian's torch.
    const run = spawnSync('/usr/bin/python3', [script, file], { encoding: 'utf8', timeout: 120_000 });
    if (run.status !== 0) throw new Error(`torch_optim.py failed (exit ${run.status}): ${run.stderr || run.error?.message}`);
    return JSON.parse(run.stdout) as TorchStep[][];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A graph running one optimizer step on parameters `p<i>` with gradients `g<i>` fed as inputs. */
function stepGraph(settings: OptimizerSettings, dtype: DType): Graph {
  const g = new Graph('optimizer_step');
  const lr = g.input('lr', dtype, []);
  const step = g.input('step', 'int64', []);
  const slots = optimizerState(settings);
  const params = SHAPES.map((shape, i) => ({
    param: g.input(`p${i}`, dtype, shape),
    grad: g.input(`g${i}`, dtype, shape),
    state: Object.fromEntries(slots.map((s) => [s, g.input(`p${i}.${s}`, dtype, shape)])),
  }));
  const updates = optimizerStep(g, settings, params, { lr, step });
  updates.forEach((u, i) => {
    g.output(`p${i}.new`, u.param);
    for (const s of slots) g.output(`p${i}.${s}.new`, u.state[s]!);
  });
  return g;
}

function expectClose(actual: readonly number[], expected: readonly number[], rtol: number, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  const scale = expected.reduce((m, e) => Math.max(m, Math.abs(e)), 0);
  const bad = actual.findIndex((a, i) => !(Math.abs(a - expected[i]) <= rtol * Math.max(Math.abs(expected[i]), 1e-3 * scale)));
  if (bad >= 0) expect.fail(`${what}: element ${bad} is ${actual[bad]}, torch has ${expected[bad]} (rtol ${rtol})`);
}

/** Initial parameters and 3 steps of gradients, rounded to `dtype` so torch starts from the very same numbers. */
function makeCase(config: OptimizerConfig, dtype: DType, gradScale = 1): OptimCase {
  const random = seededRandom(17);
  const draw = (shape: number[], scale: number) => randn(random, shape.reduce((a, b) => a * b, 1)).map((v) => v * scale);
  const round = (v: number[]) => (dtype === 'float32' ? Array.from(Float32Array.from(v)) : v);
  return {
    dtype,
    settings: resolveOptimizer(config),
    params: SHAPES.map((s) => round(draw(s, 1))),
    grads: LRS.map(() => SHAPES.map((s) => round(draw(s, gradScale)))),
  };
}

async function compareWithTorch(c: OptimCase, reference: readonly TorchStep[]): Promise<void> {
  const { dtype, settings } = c;
  const model = await compileGraph(stepGraph(settings, dtype));
  const slots = optimizerState(settings);
  try {
    let params = c.params.map((data, i) => Tensor.fromNumbers(dtype, SHAPES[i], data));
    let state = params.map((p) => Object.fromEntries(slots.map((s) => [s, Tensor.zeros(dtype, p.shape)])));
    const rtol = dtype === 'float64' ? 1e-11 : 2e-5;
    for (let k = 0; k < LRS.length; k++) {
      const feeds: Record<string, Tensor> = { lr: Tensor.scalar(LRS[k], dtype), step: Tensor.scalar(k + 1, 'int64') };
      params.forEach((p, i) => {
        feeds[`p${i}`] = p;
        feeds[`g${i}`] = Tensor.fromNumbers(dtype, SHAPES[i], c.grads[k][i]);
        for (const s of slots) feeds[`p${i}.${s}`] = state[i][s];
      });
      const out = await model.run(feeds);
      params = params.map((_, i) => out[`p${i}.new`]);
      state = params.map((_, i) => Object.fromEntries(slots.map((s) => [s, out[`p${i}.${s}.new`]])));
      params.forEach((p, i) => {
        expectClose(p.toNumbers(), reference[k].params[i], rtol, `step ${k + 1}, param ${i}`);
        for (const s of slots) expectClose(state[i][s].toNumbers(), reference[k].state[i][s]!, rtol, `step ${k + 1}, param ${i}, state ${s}`);
      });
      // The parameters must really move, or the comparison above proves little.
      expect(params[0].toNumbers()).not.toEqual(k === 0 ? c.params[0] : reference[k - 1].params[0]);
    }
  } finally {
    await model.release();
  }
}

describe('optimizers match torch.optim over 3 steps', () => {
  const configs: [string, OptimizerConfig, number?][] = [
    ['plain SGD', { kind: 'sgd' }],
    ['SGD with momentum and weight decay', { kind: 'sgd', momentum: 0.9, weightDecay: 0.05 }],
    ['Adam', { kind: 'adam' }],
    ['Adam with L2 weight decay and other betas', { kind: 'adam', weightDecay: 0.1, betas: [0.8, 0.99], eps: 1e-6 }],
    ['AdamW', { kind: 'adamw', weightDecay: 0.1 }],
    ['SGD with momentum, clipped (active: norm ~7 > 1)', { kind: 'sgd', momentum: 0.9, clipNorm: 1 }, 2],
    ['Adam, clipped (inactive: coefficient clamped to 1)', { kind: 'adam', clipNorm: 100 }],
    ['AdamW, clipped (active)', { kind: 'adamw', clipNorm: 0.5 }],
  ];
  const float32 = new Set(['SGD with momentum and weight decay', 'Adam', 'AdamW, clipped (active)']);
  const cases: [string, OptimCase][] = [
    ...configs.map(([name, config, scale]): [string, OptimCase] => [`${name} in float64`, makeCase(config, 'float64', scale)]),
    ...configs.filter(([name]) => float32.has(name)).map(([name, config, scale]): [string, OptimCase] => [`${name} in float32`, makeCase(config, 'float32', scale)]),
  ];
  const references = torchSteps(cases.map(([, c]) => c));
  it.each(cases.map(([name, c], i) => [name, c, references[i]] as const))('%s', async (_, c, reference) => {
    await compareWithTorch(c, reference);
  });
});

describe('clipGradNorm', () => {
  it("scales by max_norm / (‖g‖ + 1e-6), torch's coefficient, and leaves small gradients alone", async () => {
    const g = new Graph('clip');
    const a = g.input('a', 'float64', [2]);
    const b = g.input('b', 'float64', [1]);
    clipGradNorm(g, [a, b], 2.5).forEach((v, i) => g.output(`c${i}`, v));
    // ‖(3, 4, 12)‖ = 13 → coefficient 2.5 / (13 + 1e-6)
    const big = await runGraph(g, { a: Tensor.fromNumbers('float64', [2], [3, 4]), b: Tensor.fromNumbers('float64', [1], [12]) });
    const coef = 2.5 / (13 + 1e-6);
    expect(big.c0.toNumbers()).toEqual([3 * coef, 4 * coef]);
    expect(big.c1.toNumbers()).toEqual([12 * coef]);
    const small = await runGraph(g, { a: Tensor.fromNumbers('float64', [2], [0.3, 0.4]), b: Tensor.fromNumbers('float64', [1], [1.2]) });
    expect([...small.c0.toNumbers(), ...small.c1.toNumbers()]).toEqual([0.3, 0.4, 1.2]);
  });
});

describe('resolveOptimizer', () => {
  it("fills torch's defaults, with adam when nothing is said", () => {
    expect(resolveOptimizer()).toEqual({ kind: 'adam', lr: 1e-3, momentum: 0, weightDecay: 0, betas: [0.9, 0.999], eps: 1e-8, clipNorm: null });
    expect(resolveOptimizer({ kind: 'adamw' }).weightDecay).toBe(1e-2);
  });

  it('takes the config first, then the task defaults', () => {
    const s = resolveOptimizer({ lr: 0.5 }, { optimizer: 'sgd', lr: 0.1, momentum: 0.8, clipNorm: 3 });
    expect(s).toMatchObject({ kind: 'sgd', lr: 0.5, momentum: 0.8, clipNorm: 3 });
  });

  it('lists the state each optimizer keeps', () => {
    expect(optimizerState(resolveOptimizer({ kind: 'sgd' }))).toEqual([]);
    expect(optimizerState(resolveOptimizer({ kind: 'sgd', momentum: 0.9 }))).toEqual(['m']);
    expect(optimizerState(resolveOptimizer({ kind: 'adamw' }))).toEqual(['m', 'v']);
  });

  const bad: [string, OptimizerConfig, RegExp][] = [
    ['an unknown kind', { kind: 'rmsprop' as never }, /optimizer: kind must be 'sgd', 'adam' or 'adamw', got "rmsprop"/],
    ['a zero lr', { lr: 0 }, /optimizer: lr must be a finite number > 0, got 0/],
    ['momentum 1', { kind: 'sgd', momentum: 1 }, /momentum must be a finite number in \[0, 1\), got 1/],
    ['a negative weight decay', { weightDecay: -1 }, /weightDecay must be a finite number >= 0/],
    ['beta2 of 1', { betas: [0.9, 1] }, /betas\[1\] must be a finite number in \[0, 1\)/],
    ['a zero clip norm', { clipNorm: 0 }, /clipNorm must be a finite number > 0/],
  ];
  it.each(bad)('rejects %s', (_, config, message) => {
    expect(() => resolveOptimizer(config)).toThrow(SpecError);
    expect(() => resolveOptimizer(config)).toThrow(message);
  });

  it('rejects a step that is not an int64 scalar, and missing state', () => {
    const g = new Graph('bad');
    const p = g.input('p', 'float32', [2]);
    const lr = g.input('lr', 'float32', []);
    const adam = resolveOptimizer();
    expect(() => optimizerStep(g, adam, [{ param: p, grad: p, state: {} }], { lr, step: lr })).toThrow(/parameter 'p' has no 'm' state input/);
    expect(() => optimizerStep(g, adam, [{ param: p, grad: p, state: { m: p, v: p } }], { lr, step: lr })).toThrow(/step 'lr: float32\[\]' must be an int64 scalar/);
  });
});
