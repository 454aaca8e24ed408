// The training graphs of docs/DESIGN.md §3, built from the same network as model.onnx
// with parameters as plain graph inputs and train-mode layers:
//
//   grad.onnx         x, target, params           -> loss, grad.<param>, grad.x,
//                                                     iterations, iterations_backward, unsettled
//   train.onnx        x, target, lr, step, params, states, buffers
//                       -> loss, <param>.new, <param>.m.new, <param>.v.new, <buffer>.new,
//                          iterations, iterations_backward, unsettled (regions each sample ran
//                          out of sweeps in; unsettled.<region> too with several regions),
//                          jacobian_penalty (with a region's jacobianPenalty),
//                          skip_cost (with skip-gated blocks that have a cost),
//                          fp_correction (with task.train.fpCorrection: [n], each term's loss)
//   train_steps.onnx  the same inputs with x and target stacked [K, B, ...]; an outer
//                     Loop runs K train.onnx steps (its nodes copied into the body)
//                     with step, step+1, ...; per-step loss [K] and counts [K, B]
//
// Input order: x, target, (lr, step), every parameter and buffer in declaration
// order, then the optimizer states parameter by parameter. Output order:
// loss, then per trainable parameter its new value and new states, then each
// buffer's new value, then the counts.
//
// `loss` is the task's loss. A region's Jacobian penalty (src/lower/jacobian.ts)
// is added to what train.onnx minimises and reported apart; grad.onnx, which
// has no step to draw the penalty's probe from, is the task loss's gradient.
// So do skip-gated blocks' costs γ·mean(s) (src/twnn/skip-gate.ts): train.onnx
// minimises them with the loss and outputs their sum as `skip_cost`; grad.onnx
// is the task loss's gradient alone. And so does a fixed-point correction
// (task.train.fpCorrection, src/lower/fp-correction.ts): train.onnx minimises
// loss + Σ_k γ^(n+1−k)·ℓ_k and outputs the terms' losses ℓ_k as `fp_correction`
// [n]; grad.onnx is the task loss's gradient.
import { pruneDeadNodes } from './prune.js';
import { Graph, SpecError, type Dim, type Value } from '../ir/index.js';
import { add, gather, identity, loop, scalar, shapeOf } from '../ops/index.js';
import { mseLoss, softmaxCrossEntropy } from '../autodiff/losses.js';
import { optimizerState, optimizerStep, resolveOptimizer, type OptimizerConfig, type OptimizerSettings, type StateSlot } from '../autodiff/optimizers.js';
import { backward } from '../autodiff/transform.js';
import type { IteratorReport } from '../twnn/iterator.js';
import type { ParamInfo } from '../twnn/module.js';
import type { ModelSpec } from '../twnn/spec.js';
import { checkFpCorrection, lossForData, type FixedPointCorrection, type LossKind } from '../twnn/task.js';
import { buildNetwork, checkFloat64Kernels, type BuildOptions, type BuiltNetwork } from './inference.js';
import { inlineGraph } from './inline.js';
import { fixedPointCorrection } from './fp-correction.js';
import { backwardIterations, totalIterations, unsettledCounts } from './iterations.js';
import { skipCost } from './skip-gates.js';

/** Build options of the training graphs. */
export interface TrainingBuildOptions extends BuildOptions {
  /** Default: the spec's `task.loss`, else the loss its data set implies, else 'mse'. */
  loss?: LossKind;
  /** train.onnx / train_steps.onnx: overrides of the task's training defaults. */
  optimizer?: OptimizerConfig;
  /** train.onnx / train_steps.onnx: replaces the task's `train.fpCorrection`; null turns it off. */
  fpCorrection?: FixedPointCorrection | null;
}

/** A built training graph and what a trainer needs to drive it. */
export interface TrainingGraph {
  graph: Graph;
  /** Every parameter and buffer, in declaration order, with its initial value. */
  params: ParamInfo[];
  loss: LossKind;
  /** Names of the parameters the optimizer updates. */
  trainable: string[];
  /** Names of the non-trainable buffers (BatchNorm running statistics). */
  buffers: string[];
  /** The optimizer (train graphs only). */
  optimizer?: OptimizerSettings;
  /** Optimizer state slots per trainable parameter (train graphs only). */
  state: Record<string, StateSlot[]>;
  /** The fixed-point correction train.onnx minimises (train graphs with one only). */
  fpCorrection?: Required<FixedPointCorrection>;
}

/**
 * The loss a spec trains with: `task.loss`, else the one its data set calls
 * for (mnist and cifar10: cross_entropy, sine: mse), else mse.
 *
 * @example taskLoss(mnistMlp) // 'cross_entropy'
 */
export function taskLoss(spec: ModelSpec): LossKind {
  if (spec.task?.loss) return spec.task.loss;
  if (spec.task?.data) return lossForData(spec.task.data.kind);
  return 'mse';
}

/**
 * grad.onnx: the loss on a batch and its gradient with respect to every
 * trainable parameter (`grad.<name>`) and the input (`grad.x`), in train mode.
 * Buffers are inputs only where the graph reads them.
 *
 * @example
 * const { graph } = buildGradGraph(sineMlp, { dtype: 'float64' });
 * graph.outputs.map((v) => v.name) // ['loss', 'grad.0.weight', ..., 'grad.x']
 */
export function buildGradGraph(spec: ModelSpec, options: TrainingBuildOptions = {}): TrainingGraph {
  const t = buildLoss(spec, options, undefined);
  const { graph: g, x } = t.net;
  const grads = backward(g, t.lossValue, [...t.trainableValues, x], { allowUnused: true });
  g.output('loss', t.lossValue);
  t.trainable.forEach((name, i) => g.output(`grad.${name}`, grads[i]));
  g.output('grad.x', grads[grads.length - 1]);
  countOutputs(g, x, t.net.context.iterators);
  pruneDeadNodes(g);
  const read = readValues(g);
  orderInputs(g, ['x', 'target', ...t.net.params.map((p) => p.name)], (v) => !t.buffers.includes(v.name) || read.has(v));
  checkKernels(spec, g, options);
  return { graph: g, params: t.net.params, loss: t.loss, trainable: t.trainable, buffers: t.buffers, state: {} };
}

/**
 * train.onnx: one optimizer step. Feeds `lr` (build dtype scalar) and `step`
 * (int64 scalar, 1 on the first step) besides the batch, the parameters,
 * their optimizer states (zeros at the start) and the buffers.
 *
 * @example
 * const { graph, state } = buildTrainGraph(sineMlp, { optimizer: { kind: 'sgd', momentum: 0.9 } });
 * state['0.weight'] // ['m']
 */
export function buildTrainGraph(spec: ModelSpec, options: TrainingBuildOptions = {}): TrainingGraph {
  const optimizer = resolveOptimizer(options.optimizer, spec.task?.train);
  const correction = fpCorrectionOf(spec, options);
  const t = buildLoss(spec, options, correction);
  const { graph: g, x, params, context } = t.net;
  const dtype = x.dtype;
  const step = g.input('step', 'int64', []);
  // Regions with a Jacobian penalty add it to what the optimizer minimises, probed afresh each step.
  const penalties = g.scope('loss', () => context.iterators.flatMap((r) => (r.penalty ? [r.penalty(step)] : [])));
  const penalty = penalties.length > 0 ? penalties.reduce((a, b) => add(g, a, b)) : undefined;
  // Skip-gated blocks pay for their open gates (src/twnn/skip-gate.ts).
  const cost = g.scope('loss', () => skipCost(g, context));
  const fp = correction && fixedPointCorrection(g, { context, net: spec.net, x, settings: correction, lossOf: t.lossOf, model: spec.name });
  const objective = [penalty, cost, fp?.objective].reduce<Value>((sum, term) => (term ? add(g, sum, term) : sum), t.lossValue);
  const grads = backward(g, objective, t.trainableValues, { allowUnused: true });
  const lr = g.input('lr', dtype, []);
  const slots = optimizerState(optimizer);
  const trainableInfo = params.filter((p) => p.trainable);
  const stateInputs = trainableInfo.map((p) => Object.fromEntries(slots.map((s) => [s, g.input(`${p.name}.${s}`, dtype, p.shape)])));
  const updates = optimizerStep(
    g,
    optimizer,
    t.trainableValues.map((param, i) => ({ param, grad: grads[i], state: stateInputs[i] })),
    { lr, step },
  );

  g.output('loss', t.lossValue);
  trainableInfo.forEach((p, i) => {
    g.output(`${p.name}.new`, updates[i].param);
    for (const s of slots) g.output(`${p.name}.${s}.new`, updates[i].state[s]!);
  });
  for (const name of t.buffers) g.output(`${name}.new`, context.bufferUpdates.get(name) ?? identity(g, inputNamed(g, name)));
  countOutputs(g, x, context.iterators);
  if (penalty) g.output('jacobian_penalty', penalty);
  if (cost) g.output('skip_cost', cost);
  if (fp) g.output('fp_correction', fp.terms);
  pruneDeadNodes(g);
  const stateNames = trainableInfo.flatMap((p) => slots.map((s) => `${p.name}.${s}`));
  orderInputs(g, ['x', 'target', 'lr', 'step', ...params.map((p) => p.name), ...stateNames], () => true);
  checkKernels(spec, g, options);
  const state = Object.fromEntries(t.trainable.map((n) => [n, [...slots]]));
  return { graph: g, params, loss: t.loss, trainable: t.trainable, buffers: t.buffers, optimizer, state, ...(correction ? { fpCorrection: correction } : {}) };
}

/**
 * train_steps.onnx: K optimizer steps in one run. Inputs as train.onnx's, but
 * `x` and `target` stacked `[K, B, ...]` (K is read from x's shape at run
 * time); `step` is the first step's number. The parameters, states and buffers
 * are carried through a Loop whose body is train.onnx's step, copied node for
 * node; outputs as train.onnx's, with `loss` `[K]` and the counts `[K, B]`
 * stacked per step, and the carried values after the last step.
 *
 * @example
 * const steps = buildTrainStepsGraph(sineMlp); // K read at run time from x: [K, B, 16]
 */
export function buildTrainStepsGraph(spec: ModelSpec, options: TrainingBuildOptions = {}, train = buildTrainGraph(spec, options)): TrainingGraph {
  const one = train.graph;
  const g = new Graph(one.name, undefined, one.opset);
  if (one.docString) g.docString = one.docString;
  const [x1, target1, lr1, step1, ...carried1] = one.inputs;
  if ([x1, target1, lr1, step1].map((v) => v?.name).join() !== 'x,target,lr,step') {
    throw new SpecError(`train_steps: train graph '${one.name}' must start with inputs x, target, lr, step`);
  }
  const stacked = (v: Value) => g.input(v.name, v.dtype, ['K', ...v.shape] as Dim[]);
  const xs = stacked(x1);
  const targets = stacked(target1);
  const lr = g.input('lr', lr1.dtype, []);
  const step = g.input('step', 'int64', []);
  const carriedIn = carried1.map((v) => g.input(v.name, v.dtype, v.shape));
  const outputIndex = (name: string) => {
    const i = one.outputs.findIndex((v) => v.name === name);
    if (i < 0) throw new SpecError(`train_steps: train graph has no output '${name}'`);
    return i;
  };
  const newIndex = carried1.map((v) => outputIndex(`${v.name}.new`));
  const perStep = (name: string) => ['loss', 'iterations', 'iterations_backward', 'unsettled', 'jacobian_penalty', 'skip_cost', 'fp_correction'].includes(name) || name.startsWith('unsettled.');
  const scanNames = one.outputs.map((v) => v.name).filter(perStep);
  const scanIndex = scanNames.map(outputIndex);

  const result = loop(g, {
    name: 'steps',
    // Named like the regions' Loops, and its body's values after the parameters and outputs they carry.
    fixedName: 'steps',
    maxTrip: gather(g, shapeOf(g, xs), 0),
    carried: [step, ...carriedIn],
    carriedNames: ['step', ...carried1.map((v) => v.name)],
    scanNames,
    doc: 'one train.onnx optimizer step per slice of the x/target stack',
    body: (b, it) => {
      const [stepNow, ...state] = it.carried;
      const bindings = new Map<Value, Value>([
        [x1, gather(b, xs, it.iteration, 0)],
        [target1, gather(b, targets, it.iteration, 0)],
        [lr1, lr],
        [step1, stepNow],
        ...carried1.map((v, i): [Value, Value] => [v, state[i]]),
      ]);
      const outs = inlineGraph(b, one, bindings, 'steps/step');
      return {
        carried: [add(b, stepNow, scalar(b, 1, 'int64')), ...newIndex.map((i) => outs[i])],
        scans: scanIndex.map((i) => outs[i]),
      };
    },
  });
  const stepsNode = result.carried[0].source.kind === 'node' ? result.carried[0].source.node : undefined;
  if (stepsNode) stepsNode.loopConfig = { role: 'train_steps', steps: 'K, from x: [K, B, ...]', perStep: scanNames };
  // Outputs in train.onnx's order: stacked per-step values, or the carried values after the last step.
  const [, ...finals] = result.carried;
  for (const [i, v] of one.outputs.entries()) {
    const scan = scanIndex.indexOf(i);
    const carried = newIndex.indexOf(i);
    if (scan < 0 && carried < 0) throw new SpecError(`train_steps: train graph output '${v.name}' is neither per-step nor the new value of an input`);
    g.output(v.name, scan >= 0 ? result.scans[scan] : finals[carried]);
  }
  return { ...train, graph: g };
}

/** The per-sample counts grad.onnx and train.onnx end with: iterations, iterations_backward, unsettled. */
function countOutputs(g: Graph, x: Value, reports: readonly IteratorReport[]): void {
  g.output('iterations', totalIterations(g, x, reports));
  g.output('iterations_backward', backwardIterations(g, x, reports));
  g.output('unsettled', unsettledCounts(g, x, reports));
  // Per region too where there are several, as model.onnx's iterations.<region>: each region has its own onMaxIter.
  if (reports.length > 1) for (const r of reports) g.output(`unsettled.${r.region}`, unsettledCounts(g, x, [r]));
}

/**
 * The fixed-point correction train.onnx builds: the build option's, else
 * `task.train.fpCorrection`, with torchdeq's defaults filled in.
 *
 * @example fpCorrectionOf(spec, { fpCorrection: null }) // undefined
 */
export function fpCorrectionOf(spec: ModelSpec, options: TrainingBuildOptions = {}): Required<FixedPointCorrection> | undefined {
  const given = options.fpCorrection === undefined ? spec.task?.train?.fpCorrection : options.fpCorrection;
  return given ? checkFpCorrection(options.fpCorrection ? 'fpCorrection' : `model '${spec.name}': task.train.fpCorrection`, given) : undefined;
}

interface LossBuild {
  net: BuiltNetwork;
  loss: LossKind;
  lossValue: Value;
  /** The same loss of another output of the network (the same target). */
  lossOf: (y: Value) => Value;
  trainable: string[];
  trainableValues: Value[];
  buffers: string[];
}

/** The train-mode network with a `target` input and the scalar loss (its regions keeping `correction`'s iterates). */
function buildLoss(spec: ModelSpec, options: TrainingBuildOptions, correction: Required<FixedPointCorrection> | undefined): LossBuild {
  const loss = options.loss ?? taskLoss(spec);
  const net = buildNetwork(spec, { ...options, ...(correction ? { correctionTerms: correction.terms } : {}) }, 'input', true);
  const { graph: g, y } = net;
  if (loss === 'cross_entropy' && (y.rank !== 2 || typeof y.shape[1] !== 'number')) {
    throw new SpecError(`model '${spec.name}': cross_entropy needs logits [B, classes], but the network's output is ${y.describe()}`);
  }
  const target = loss === 'mse' ? g.input('target', y.dtype, y.shape) : g.input('target', 'int64', [y.shape[0]]);
  const lossOf = (out: Value) => g.scope('loss', () => (loss === 'mse' ? mseLoss(g, out, target) : softmaxCrossEntropy(g, out, target)));
  const lossValue = lossOf(y);
  const trainable = net.params.filter((p) => p.trainable).map((p) => p.name);
  const buffers = net.params.filter((p) => !p.trainable).map((p) => p.name);
  if (trainable.length === 0) throw new SpecError(`model '${spec.name}': has no trainable parameters to train`);
  return { net, loss, lossValue, lossOf, trainable, trainableValues: trainable.map((n) => inputNamed(g, n)), buffers };
}

function inputNamed(g: Graph, name: string): Value {
  const v = g.inputs.find((i) => i.name === name);
  if (!v) throw new SpecError(`graph '${g.name}': no input '${name}'`);
  return v;
}

/** Backward rules may emit ops without float64 kernels too: check the whole graph again. */
function checkKernels(spec: ModelSpec, g: Graph, options: BuildOptions): void {
  if ((options.dtype ?? 'float32') === 'float64') checkFloat64Kernels(spec.name, g);
}


/** Values any node (or subgraph node, or output) of `g` reads. */
function readValues(g: Graph): Set<Value> {
  const read = new Set<Value>(g.outputs);
  for (const n of g.nodes) for (const v of [...n.inputs, ...n.captures()]) if (v) read.add(v);
  return read;
}

/**
 * Put the graph inputs in the documented order (the builder creates them as
 * the network declares parameters, before the target exists), dropping those
 * `keep` rejects. Every input must be named in `order`.
 */
function orderInputs(g: Graph, order: readonly string[], keep: (v: Value) => boolean): void {
  const byName = new Map(g.inputs.map((v) => [v.name, v]));
  const missing = g.inputs.filter((v) => !order.includes(v.name));
  if (missing.length > 0) throw new SpecError(`graph '${g.name}': unexpected inputs ${missing.map((v) => v.name).join(', ')}`);
  const ordered = order.map((n) => byName.get(n)).filter((v): v is Value => v !== undefined && keep(v));
  g.inputs.splice(0, g.inputs.length, ...ordered);
}
