// Optimizers as ONNX update subgraphs, with torch.optim's exact semantics
// (PyTorch 1.13, single-tensor path, no nesterov/amsgrad/maximize):
//
//   SGD    d = g + λp;  m ← μm + d (m starts at 0, so step 1 gives m = d);  p ← p − lr·m   (μ = 0: p ← p − lr·d)
//   Adam   d = g + λp;  m ← β1·m + (1−β1)·d;  v ← β2·v + (1−β2)·d²;
//          p ← p − lr/(1−β1^t) · m / (√v / √(1−β2^t) + ε)        (ε outside the root)
//   AdamW  p ← p·(1 − lr·λ) first, then Adam's update with d = g
//
// `lr` (a scalar of the build dtype) and `step` t (int64 scalar, 1-based) are
// graph inputs, so a schedule needs no rebuild; everything else is baked in as
// constants. Gradient clipping by global norm (torch.nn.utils.clip_grad_norm_)
// runs before the update, on the raw gradients.
import { SpecError, type Graph, type Value } from '../ir/index.js';
import { add, cast, div, less, mul, pow, reduceSum, scalar, sqrt, sub, where } from '../ops/index.js';
import { optimizerKind, TRAIN_FALLBACKS, type OptimizerKind } from '../common/training.js';
import type { TrainDefaults } from '../twnn/task.js';

/** A fully resolved optimizer: every hyperparameter explicit (the manifest's `training.optimizer`). */
export interface OptimizerSettings {
  kind: OptimizerKind;
  /** The default learning rate; train.onnx takes the rate as its `lr` input, so this is what trainers feed. */
  lr: number;
  /** SGD momentum μ (0: no momentum buffer). Unused by adam/adamw. */
  momentum: number;
  /** λ: L2 added to the gradient (sgd, adam) or decoupled decay (adamw). */
  weightDecay: number;
  /** (β1, β2), adam/adamw only. */
  betas: [number, number];
  /** ε, adam/adamw only. */
  eps: number;
  /** Maximum global L2 norm of the gradients, or null for no clipping. */
  clipNorm: number | null;
}

/** Optimizer options as callers give them: any field may be left to the task's defaults or torch's. */
export type OptimizerConfig = Partial<OptimizerSettings>;

/** Names of per-parameter optimizer state tensors: train.onnx's `<param>.m`, `<param>.v`. */
export type StateSlot = 'm' | 'v';

/**
 * Fill an optimizer config field by field: `config`, then the task's training
 * defaults, then torch.optim's defaults (lr 1e-3, betas [0.9, 0.999], eps 1e-8,
 * weight decay 0, or 1e-2 for adamw), with kind 'adam' when nobody says.
 *
 * @example resolveOptimizer({ lr: 0.01 }, spec.task?.train) // { kind: 'adam', lr: 0.01, ... }
 */
export function resolveOptimizer(config: OptimizerConfig = {}, defaults: TrainDefaults = {}): OptimizerSettings {
  const kind = optimizerKind(config.kind ?? defaults.optimizer ?? TRAIN_FALLBACKS.optimizer, 'optimizer: kind', SpecError);
  const settings: OptimizerSettings = {
    kind,
    lr: config.lr ?? defaults.lr ?? TRAIN_FALLBACKS.lr,
    momentum: config.momentum ?? defaults.momentum ?? 0,
    weightDecay: config.weightDecay ?? defaults.weightDecay ?? (kind === 'adamw' ? 1e-2 : 0),
    betas: [...(config.betas ?? defaults.betas ?? [0.9, 0.999])] as [number, number],
    eps: config.eps ?? defaults.eps ?? 1e-8,
    clipNorm: config.clipNorm ?? defaults.clipNorm ?? null,
  };
  const check = (name: string, value: number, ok: boolean, range: string) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || !ok) throw new SpecError(`optimizer: ${name} must be a finite number ${range}, got ${value}`);
  };
  check('lr', settings.lr, settings.lr > 0, '> 0');
  check('momentum', settings.momentum, settings.momentum >= 0 && settings.momentum < 1, 'in [0, 1)');
  check('weightDecay', settings.weightDecay, settings.weightDecay >= 0, '>= 0');
  if (settings.betas.length !== 2) throw new SpecError(`optimizer: betas must be a pair [beta1, beta2], got [${settings.betas.join(', ')}]`);
  settings.betas.forEach((b, i) => check(`betas[${i}]`, b, b >= 0 && b < 1, 'in [0, 1)'));
  check('eps', settings.eps, settings.eps > 0, '> 0');
  if (settings.clipNorm !== null) check('clipNorm', settings.clipNorm, settings.clipNorm > 0, '> 0');
  return settings;
}

/**
 * The state tensors each parameter carries: adam/adamw keep `m` and `v`,
 * SGD keeps `m` only with momentum.
 *
 * @example optimizerState(resolveOptimizer({ kind: 'sgd', momentum: 0.9 })) // ['m']
 */
export function optimizerState(settings: OptimizerSettings): StateSlot[] {
  if (settings.kind === 'sgd') return settings.momentum !== 0 ? ['m'] : [];
  return ['m', 'v'];
}

/** One parameter going through an optimizer step. */
export interface ParamSlot {
  param: Value;
  grad: Value;
  /** Its state inputs, one per `optimizerState(settings)` slot. */
  state: Partial<Record<StateSlot, Value>>;
}

/** The updated parameter and state of one ParamSlot. */
export interface ParamUpdate {
  param: Value;
  state: Partial<Record<StateSlot, Value>>;
}

/**
 * Emit one optimizer step over all `slots` (clipping first, when configured):
 * returns the new parameter and state values, in slot order.
 *
 * @example
 * const lr = g.input('lr', 'float32', []);
 * const step = g.input('step', 'int64', []);
 * const [upd] = optimizerStep(g, resolveOptimizer({ kind: 'adam' }), [{ param: w, grad: gw, state: { m, v } }], { lr, step });
 * g.output('w.new', upd.param);
 */
export function optimizerStep(g: Graph, settings: OptimizerSettings, slots: readonly ParamSlot[], inputs: { lr: Value; step: Value }): ParamUpdate[] {
  const needed = optimizerState(settings);
  for (const s of slots) {
    const missing = needed.find((k) => !s.state[k]);
    if (missing) throw new SpecError(`optimizer ${settings.kind}: parameter '${s.param.name}' has no '${missing}' state input`);
  }
  return g.scope('optimizer', () => {
    const grads = settings.clipNorm === null ? slots.map((s) => s.grad) : clipGradNorm(g, slots.map((s) => s.grad), settings.clipNorm);
    const clipped = slots.map((s, i) => ({ ...s, grad: grads[i] }));
    if (settings.kind === 'sgd') return clipped.map((s) => sgdUpdate(g, settings, s, inputs.lr));
    const corrections = biasCorrections(g, settings, inputs.step, inputs.lr);
    return clipped.map((s) => adamUpdate(g, settings, s, inputs.lr, corrections));
  });
}

/**
 * Scale `grads` so their global L2 norm is at most `maxNorm`, as
 * torch.nn.utils.clip_grad_norm_: total = ‖(‖g_1‖, …, ‖g_n‖)‖,
 * coef = min(maxNorm / (total + 1e-6), 1), every g_i multiplied by coef.
 *
 * @example const [gw, gb] = clipGradNorm(g, [gradW, gradB], 1.0);
 */
export function clipGradNorm(g: Graph, grads: readonly Value[], maxNorm: number): Value[] {
  if (grads.length === 0) return [];
  const dtype = grads[0].dtype;
  return g.scope('clip', () => {
    const squaredNorms = grads.map((gr) => {
      const norm = sqrt(g, reduceSum(g, mul(g, gr, gr), [], false));
      return mul(g, norm, norm);
    });
    const total = sqrt(g, squaredNorms.reduce((a, b) => add(g, a, b)));
    const coef = div(g, scalar(g, maxNorm, dtype), add(g, total, scalar(g, 1e-6, dtype)));
    const one = scalar(g, 1, dtype);
    const clamped = where(g, less(g, coef, one), coef, one);
    return grads.map((gr) => mul(g, gr, clamped));
  });
}

/** d = g + λp, torch's `grad.add(param, alpha=weight_decay)`; no node when λ = 0. */
function withL2(g: Graph, s: ParamSlot, weightDecay: number): Value {
  if (weightDecay === 0) return s.grad;
  return add(g, s.grad, mul(g, s.param, scalar(g, weightDecay, s.param.dtype)));
}

function sgdUpdate(g: Graph, settings: OptimizerSettings, s: ParamSlot, lr: Value): ParamUpdate {
  const d = withL2(g, s, settings.weightDecay);
  if (settings.momentum === 0) return { param: sub(g, s.param, mul(g, lr, d)), state: {} };
  // torch sets buf = d on the first step; with buf starting at 0 and dampening 0, μ·0 + d is the same number.
  const m = add(g, mul(g, s.state.m!, scalar(g, settings.momentum, d.dtype)), d);
  return { param: sub(g, s.param, mul(g, lr, m)), state: { m } };
}

interface BiasCorrections {
  /** lr / (1 − β1^t) */
  stepSize: Value;
  /** √(1 − β2^t) */
  rootCorrection2: Value;
}

/**
 * Adam's per-step scalars, shared by every parameter. Computed in float64 and
 * rounded once, as torch computes them in Python floats: in float32,
 * 1 − 0.999^t would lose five digits to cancellation.
 */
function biasCorrections(g: Graph, settings: OptimizerSettings, step: Value, lr: Value): BiasCorrections {
  if (step.dtype !== 'int64' || step.rank !== 0) throw new SpecError(`optimizer: step '${step.describe()}' must be an int64 scalar`);
  const t = cast(g, step, 'float64');
  const one = scalar(g, 1, 'float64');
  const [beta1, beta2] = settings.betas;
  const correction1 = sub(g, one, pow(g, scalar(g, beta1, 'float64'), t));
  const correction2 = sub(g, one, pow(g, scalar(g, beta2, 'float64'), t));
  return {
    stepSize: cast(g, div(g, cast(g, lr, 'float64'), correction1), lr.dtype),
    rootCorrection2: cast(g, sqrt(g, correction2), lr.dtype),
  };
}

function adamUpdate(g: Graph, settings: OptimizerSettings, s: ParamSlot, lr: Value, c: BiasCorrections): ParamUpdate {
  const dtype = s.param.dtype;
  const [beta1, beta2] = settings.betas;
  const decoupled = settings.kind === 'adamw';
  // AdamW shrinks the parameter before the Adam step: torch's param.mul_(1 − lr·λ).
  const p =
    decoupled && settings.weightDecay !== 0
      ? mul(g, s.param, sub(g, scalar(g, 1, dtype), mul(g, lr, scalar(g, settings.weightDecay, dtype))))
      : s.param;
  const d = decoupled ? s.grad : withL2(g, s, settings.weightDecay);
  const m = add(g, mul(g, s.state.m!, scalar(g, beta1, dtype)), mul(g, d, scalar(g, 1 - beta1, dtype)));
  const v = add(g, mul(g, s.state.v!, scalar(g, beta2, dtype)), mul(g, mul(g, d, scalar(g, 1 - beta2, dtype)), d));
  const denom = add(g, div(g, sqrt(g, v), c.rootCorrection2), scalar(g, settings.eps, dtype));
  return { param: sub(g, p, mul(g, c.stepSize, div(g, m, denom))), state: { m, v } };
}
