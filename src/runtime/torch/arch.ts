// The network of a model spec as python/twnn_torch.py builds
// its PyTorch twin: a JSON tree of layers whose scope names are twnn's, so
// the twin's state_dict keys are twnn's parameter names.
//
// Where a module shows its settings (sequential's children, a region's blocks,
// wormholes and config, batchNorm2d's momentum) they are read from it. A
// region's blocks and a residual block keep their layers private, so those are
// read from the graph the spec builds: the first sweep of each region is the
// plain feed-forward network, emitted in the main graph with scoped node names
// (`region1/B1/conv1/Conv_3`), and each scope's nodes and parameters say which
// layer it is (a Gemm with `weight`, `bias`: dense; a Conv with its strides and
// pads: conv2d; rows of `groups` normalised per sample with a per-channel
// affine: groupNorm2d; a scope whose own nodes are Add, Relu after its children:
// relu(main(x) + downsample(x)), the residual block; with a `skip_gate` child,
// its skip-gated form, whose threshold and cost a training build reports). Each region's settling
// rule is its `twnn.loop:<region>/iterate` metadata, as exported. The
// agreement check of `twnn bench torch` is what proves a description right.
import { SpecError, type Graph, type Node } from '../../ir/index.js';
import { iteratorRecordsOf } from '../../lower/fixed-point.js';
import { buildNetwork } from '../../lower/inference.js';
import { LOOP_METADATA_PREFIX } from '../../contract/iterator-record.js';
import type { ParamInfo } from '../../twnn/module.js';
import { batchNorm2d, type BatchNorm2dModule } from '../../twnn/norm.js';
import type { RegionModule } from '../../twnn/region.js';
import type { SequentialModule } from '../../twnn/sequential.js';
import type { ModelSpec } from '../../twnn/spec.js';

/** One layer of the torch twin (twnn_torch.py's `build`). */
export type TorchArch = { kind: string; [setting: string]: unknown };

/** A scope of the built graph: its own nodes, its parameters by local name, its child scopes in build order. */
interface Scope {
  path: string;
  nodes: Node[];
  params: Map<string, readonly number[]>;
  children: string[];
}

/** Op types that carry no layer of their own (constants, shape plumbing, per-channel broadcasting). */
const PLUMBING = new Set(['Constant', 'Shape', 'Reshape', 'Unsqueeze', 'Squeeze', 'Identity', 'ConstantOfShape']);
const ACTIVATIONS: Readonly<Record<string, string>> = { Relu: 'relu', Tanh: 'tanh', Sigmoid: 'sigmoid' };

/**
 * The torch twin's description of `spec`, from its inference graph `graph`
 * (built with `params`).
 *
 * @example const arch = describeForTorch(spec, built.graph, built.params); // { kind: 'sequential', children: [...] }
 */
export function describeForTorch(spec: ModelSpec, graph: Graph, params: readonly ParamInfo[]): TorchArch {
  const scopes = traceScopes(graph, params);
  const iterators = new Map(iteratorRecordsOf(graph).map((r) => [r.node, r]));
  let gates: Map<string, { threshold: number; cost: number }> | undefined;
  // A skip gate's cost appears in the training graphs only: read both settings from a training build, once.
  const skipGate = (path: string) => {
    gates ??= new Map(buildNetwork(spec, {}, 'initializer', true).context.settledSkipGates().map((r) => [r.block, { threshold: r.threshold, cost: r.cost }]));
    const gate = gates.get(path);
    if (!gate) throw new SpecError(`${where(path)}: a skip_gate scope, but the training build reports no skip gate of this block`);
    return gate;
  };
  const where = (path: string) => `model '${spec.name}', ${path ? `scope '${path}'` : 'the network'}`;

  const traced = (path: string): TorchArch => {
    const scope = scopes.get(path);
    if (!scope) throw new SpecError(`${where(path)}: built no nodes, so the torch reference cannot tell what it is`);
    const own = scope.nodes.map((n) => n.opType).filter((op) => !PLUMBING.has(op));
    const child = (name: string) => traced(join(path, name));
    if (scope.children.length > 0) {
      if (own.length === 0) return { kind: 'sequential', children: scope.children.map((c) => [c, child(c)]) };
      const residual = (skip?: { channels: number; threshold: number; cost: number }): TorchArch => {
        const main = scope.children.filter((c) => c !== 'downsample' && c !== 'skip_gate');
        return { kind: 'residual', main: main.map((c) => [c, child(c)]), downsample: scope.children.includes('downsample') ? child('downsample') : null, ...(skip ? { skip } : {}) };
      };
      if (own.join() === 'Add,Relu') return residual();
      // relu(shortcut + s ⊙ main(x)), s the per-sample gate (src/twnn/skip-gate.ts), its weights in scope skip_gate.
      const gateWeight = scopes.get(join(path, 'skip_gate'))?.params.get('weight');
      if (gateWeight?.length === 2) return residual({ channels: gateWeight[1], ...skipGate(path) });
      throw new SpecError(`${where(path)}: a module with children [${scope.children.join(', ')}] and its own ops [${own.join(', ')}] has no torch twin`);
    }
    return leaf(scope, own, where(path));
  };

  const describe = (m: unknown, path: string): TorchArch => {
    const kind = (m as { kind: string }).kind;
    if (kind === 'sequential') {
      return { kind, children: (m as SequentialModule).children.map(([name, c]) => [name, describe(c, join(path, name))]) };
    }
    if (kind === 'region') return describeRegion(m as RegionModule, path);
    if (kind === 'batchNorm2d') {
      const bn = m as BatchNorm2dModule;
      return { kind, channels: bn.channels, eps: bn.eps, momentum: bn.momentum };
    }
    return traced(path);
  };

  const describeRegion = (r: RegionModule, path: string): TorchArch => {
    const node = `${path.split('.').join('/')}/iterate`;
    const config = iterators.get(node);
    if (!config) throw new SpecError(`${where(path)}: the built graph has no '${LOOP_METADATA_PREFIX}${node}' metadata`);
    const shape = (name: string) => scopes.get(path)?.params.get(name) ?? paramShape(params, `${path}.${name}`);
    return {
      kind: 'region',
      path,
      blocks: r.blockNames.map((b) => [b, traced(join(path, b))]),
      wormholes: r.wormholes.map((w) => {
        const proj = w.projection === 'identity' ? undefined : shape(`${w.scopeName}.proj.weight`);
        const gate = shape(`${w.scopeName}.gate.weight`);
        if (!gate) throw new SpecError(`${where(path)}: wormhole ${w.from} -> ${w.to} has no gate weight`);
        return { from: w.from, to: w.to, scope: w.scopeName, projection: projection(proj, `${where(path)}, wormhole ${w.from} -> ${w.to}`), gate: { kind: gate.length === 2 ? 'dense' : 'conv', features: gate[0] } };
      }),
      config,
    };
  };

  return describe(spec.net, '');
}

/** What a wormhole's projection is, from its weight's shape (src/twnn/wormhole.ts): none, a matrix, a 1x1 conv, or a transposed conv with kernel = stride. */
function projection(weight: readonly number[] | undefined, where: string): TorchArch {
  if (!weight) return { kind: 'identity' };
  if (weight.length === 2) return { kind: 'linear', inFeatures: weight[1], outFeatures: weight[0] };
  const [a, b, kh, kw] = weight;
  if (weight.length === 4 && kh === 1 && kw === 1) return { kind: 'conv1x1', inChannels: b, outChannels: a };
  if (weight.length === 4 && kh === kw && kh >= 2) return { kind: 'convTranspose', inChannels: a, outChannels: b, stride: kh };
  throw new SpecError(`${where}: a projection weight of shape [${weight.join(', ')}] has no torch twin`);
}

/** A scope without children: the layer its key op and parameters make. */
function leaf(scope: Scope, own: readonly string[], where: string): TorchArch {
  const p = scope.params;
  const node = (op: string) => scope.nodes.find((n) => n.opType === op);
  const weight = p.get('weight');
  const gemm = node('Gemm');
  if (gemm && weight?.length === 2) return { kind: 'dense', inFeatures: weight[1], outFeatures: weight[0], bias: p.has('bias') };
  const conv = node('Conv');
  if (conv && weight?.length === 4) {
    const pads = conv.attr<number[]>('pads', [0, 0, 0, 0]);
    if (pads[0] !== pads[2] || pads[1] !== pads[3]) throw new SpecError(`${where}: asymmetric conv padding [${pads.join(', ')}] has no torch twin`);
    const group = conv.attr<number>('group', 1);
    return {
      kind: 'conv2d',
      inChannels: weight[1] * group,
      outChannels: weight[0],
      kernel: weight.slice(2),
      stride: conv.attr<number[]>('strides', [1, 1]),
      padding: [pads[0], pads[1]],
      dilation: conv.attr<number[]>('dilations', [1, 1]),
      groups: group,
      bias: p.has('bias'),
    };
  }
  const bn = node('BatchNormalization');
  if (bn && weight) return { kind: 'batchNorm2d', channels: weight[0], eps: bn.attr<number>('epsilon', 1e-5), momentum: batchNorm2d(1).momentum };
  if (weight?.length === 1 && p.has('bias') && !p.has('running_mean')) return groupNorm(scope, weight[0], where);
  if (own.length === 1 && ACTIVATIONS[own[0]]) return { kind: ACTIVATIONS[own[0]] };
  if (own.length === 1 && own[0] === 'LeakyRelu') return { kind: 'leakyRelu', slope: scope.nodes.find((n) => n.opType === 'LeakyRelu')!.attr<number>('alpha', 0.01) };
  if (own.length === 1 && own[0] === 'GlobalAveragePool') return { kind: 'globalAvgPool' };
  if (own.length === 1 && own[0] === 'Flatten') return { kind: 'flatten' };
  const pool = node('MaxPool') ?? node('AveragePool');
  if (pool && own.length === 1) {
    const pads = pool.attr<number[]>('pads', [0, 0, 0, 0]);
    return { kind: pool.opType === 'MaxPool' ? 'maxPool2d' : 'avgPool2d', kernel: pool.attr<number[]>('kernel_shape'), stride: pool.attr<number[]>('strides', [1, 1]), padding: [pads[0], pads[1]] };
  }
  throw new SpecError(`${where}: a layer with ops [${own.join(', ')}] and parameters [${[...p.keys()].join(', ')}] has no torch twin`);
}

/**
 * GroupNorm (src/twnn/group-norm.ts): each sample's channels reshaped to
 * [B, groups, rest] rows and normalised (a fused kernel's `epsilon`, or the
 * composite's `+ eps`), then the per-channel affine.
 */
function groupNorm(scope: Scope, channels: number, where: string): TorchArch {
  const grouped = scope.nodes.find((n) => n.opType === 'Reshape' && n.outputs[0].rank === 3);
  const fromAttr = scope.nodes.find((n) => 'num_groups' in n.attrs);
  const groups = fromAttr ? fromAttr.attr<number>('num_groups') : grouped?.outputs[0].shape[1];
  const withEps = scope.nodes.find((n) => 'epsilon' in n.attrs);
  const added = scope.nodes.flatMap((n) => (n.opType === 'Add' ? n.inputs.filter((v) => v?.constant?.size === 1 && v.shape.length === 0).map((v) => v!.constant!.get(0)) : []));
  const eps = withEps ? withEps.attr<number>('epsilon') : added[0];
  if (typeof groups !== 'number' || typeof eps !== 'number') {
    throw new SpecError(`${where}: a per-sample normalisation of ${channels} channels whose groups or eps the graph does not show (ops ${scope.nodes.map((n) => n.opType).join(', ')})`);
  }
  return { kind: 'groupNorm2d', groups, channels, eps };
}

/** The scope tree of `graph`'s own nodes (not its subgraphs') and of the parameters, children in build order. */
function traceScopes(graph: Graph, params: readonly ParamInfo[]): Map<string, Scope> {
  const scopes = new Map<string, Scope>();
  const get = (path: string): Scope => {
    let s = scopes.get(path);
    if (!s) {
      s = { path, nodes: [], params: new Map(), children: [] };
      scopes.set(path, s);
      if (path) {
        const cut = path.lastIndexOf('.');
        get(cut < 0 ? '' : path.slice(0, cut)).children.push(path.slice(cut + 1));
      }
    }
    return s;
  };
  for (const n of graph.nodes) get(n.name.split('/').slice(0, -1).join('.')).nodes.push(n);
  for (const p of params) {
    const cut = p.name.lastIndexOf('.');
    get(cut < 0 ? '' : p.name.slice(0, cut)).params.set(p.name.slice(cut + 1), p.shape);
  }
  return scopes;
}

function paramShape(params: readonly ParamInfo[], name: string): readonly number[] | undefined {
  return params.find((p) => p.name === name)?.shape;
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}
