// Convolutions whose weights are graph inputs, moved onto onnxruntime's
// blocked (NCHWc) CPU kernels at session time (issue 21).
//
// Why: train.onnx, grad.onnx and the tangent graphs take every weight as a
// graph input, since it changes each step. onnxruntime's CPU provider moves a
// Conv to its fast NCHWc kernels only when W is an initializer (its NchwcTransformer
// reorders W once, at load time), so every Conv and ConvTranspose of a training
// step ran on the slower im2col path: 1.7-3.4x the same Conv with constant
// weights (docs/performance/engine-changes.md, 11). The NCHWc kernel itself
// reads W at run time, so the reorder can be done in the graph instead:
//
//   W [O, I, kh, kw] --Reshape [O/B, B, I/B, B, kh·kw]--Transpose [0,2,4,3,1]--Reshape [O, I, kh, kw]
//
// is MLAS's OIHWBiBo layout (block B = MlasNchwcGetBlockSize(): 16 with
// AVX-512, 8 with AVX2; src/runtime/blocked-conv-probe.ts measures it). Each W
// is an input of the main graph, so its reorder runs once per run at the top
// of the graph and every Loop body reads the result from the outer scope.
// The activations go through com.microsoft.nchwc ReorderInput/ReorderOutput
// around each kernel.
//
// A stride-1 ConvTranspose (the input gradient in the adjoint, one per conv
// per step) is the Conv of its input with W's kernels flipped and its
// channels swapped: W'[j, i, a, b] = W[i, j, kh-1-a, kw-1-b], with pads
// k-1-p on each side. It takes the same path.
//
// Nothing is rewritten unless it is certain to be accepted: W a declared main
// input with a static 4-D shape and no initializer of the same name, group 1,
// explicit pads (no auto_pad), both channel counts multiples of B; a
// ConvTranspose also needs stride 1, dilation 1, no output_padding or
// output_shape, and pads under its kernel. Exported files never contain these
// ops: the rewrite happens in memory, for onnxruntime's CPU provider only.
import { onnx, toNumber, type OnnxTypes } from './proto.js';

/** The com.microsoft.nchwc operator domain (onnxruntime's CPU contrib ops). */
export const NCHWC_DOMAIN = 'com.microsoft.nchwc';

type Node = OnnxTypes.INodeProto;
type Graph = OnnxTypes.IGraphProto;
type Attribute = OnnxTypes.IAttributeProto;

/** What the rewrite changed. */
export interface BlockedConvRewrite {
  /** The rewritten model (the input is left as it was). */
  model: OnnxTypes.IModelProto;
  /** Conv nodes moved onto the NCHWc kernel, in every subgraph. */
  convs: number;
  /** Stride-1 ConvTranspose nodes turned into NCHWc Convs. */
  transposed: number;
}

/**
 * `model` with every eligible Conv and stride-1 ConvTranspose whose weights
 * are main-graph inputs run on onnxruntime's NCHWc kernels with block size
 * `blockSize`. The model's outputs are unchanged up to float rounding.
 *
 * @example
 * const { model: fast, convs } = withBlockedConvolutions(parseModel(bytes, 'train.onnx'), 16);
 * convs // 31
 */
export function withBlockedConvolutions(model: OnnxTypes.IModelProto, blockSize: number): BlockedConvRewrite {
  const graph = model.graph;
  if (!graph || !Number.isInteger(blockSize) || blockSize < 1) return { model, convs: 0, transposed: 0 };
  const rewriter = new Rewriter(weightTensors(graph), blockSize);
  const node = rewriter.graphNodes(graph, new Set(), 0);
  if (rewriter.convs + rewriter.transposed === 0) return { model, convs: 0, transposed: 0 };
  const rewritten = onnx.ModelProto.create({
    ...model,
    opsetImport: [...(model.opsetImport ?? []), { domain: NCHWC_DOMAIN, version: 1 }],
    graph: onnx.GraphProto.create({ ...graph, node: [...rewriter.prologue, ...node], initializer: [...(graph.initializer ?? []), ...rewriter.constants] }),
  });
  return { model: rewritten, convs: rewriter.convs, transposed: rewriter.transposed };
}

/** A weight a convolution may read: a main-graph float input or initializer with a static 4-D shape. */
interface WeightInfo {
  shape: number[];
  /** An initializer (model.onnx's weights): onnxruntime blocks those itself, but only in the main graph. */
  initializer: boolean;
}

/** The main graph's float tensors with a static 4-D shape: inputs (training graphs' weights) and initializers (inference graphs'). */
function weightTensors(graph: Graph): Map<string, WeightInfo> {
  const found = new Map<string, WeightInfo>();
  const isStatic = (shape: number[]) => shape.length === 4 && shape.every((d) => d > 0);
  for (const t of graph.initializer ?? []) {
    const shape = (t.dims ?? []).map(toNumber);
    if (t.dataType === onnx.TensorProto.DataType.FLOAT && isStatic(shape)) found.set(t.name ?? '', { shape, initializer: true });
  }
  for (const input of graph.input ?? []) {
    const type = input.type?.tensorType;
    const name = input.name ?? '';
    // An input that is also an initializer is the initializer's default: onnxruntime-node feeds it nothing (DESIGN §3).
    if (type?.elemType !== onnx.TensorProto.DataType.FLOAT || found.has(name)) continue;
    const shape = (type.shape?.dim ?? []).map((d) => (d.dimValue === null || d.dimValue === undefined ? 0 : toNumber(d.dimValue)));
    if (isStatic(shape)) found.set(name, { shape, initializer: false });
  }
  return found;
}

function attr(node: Node, name: string): Attribute | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

function ints(node: Node, name: string): number[] | undefined {
  const a = attr(node, name);
  return a ? (a.ints ?? []).map(toNumber) : undefined;
}

function intsAttr(name: string, values: readonly number[]): Attribute {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...values] };
}

/** Names a graph defines itself: its inputs, initializers and node outputs (they shadow the outer scope's). */
function localNames(graph: Graph): Set<string> {
  const names = new Set<string>();
  for (const v of [...(graph.input ?? []), ...(graph.initializer ?? [])]) names.add(v.name ?? '');
  for (const n of graph.node ?? []) for (const o of n.output ?? []) names.add(o);
  return names;
}

class Rewriter {
  /** Weight reorders, placed before the main graph's first node. */
  readonly prologue: Node[] = [];
  /** The int64 shapes and slice bounds the reorders use. */
  readonly constants: OnnxTypes.ITensorProto[] = [];
  convs = 0;
  transposed = 0;
  private readonly reordered = new Map<string, string>();
  private counter = 0;

  constructor(
    private readonly weights: ReadonlyMap<string, WeightInfo>,
    private readonly block: number,
  ) {}

  /** The nodes of `graph` (the main graph at depth 0, or a subgraph) with eligible convolutions rewritten; `shadowed` holds names an enclosing subgraph redefines. */
  graphNodes(graph: Graph, shadowed: ReadonlySet<string>, depth: number): Node[] {
    const out: Node[] = [];
    // One ReorderInput per tensor in this graph: convolutions that read the same X (a wormhole's gate and projection) share it.
    const reorderedInputs = new Map<string, string>();
    for (const node of graph.node ?? []) {
      const withSubgraphs = this.subgraphsOf(node, shadowed, depth);
      out.push(...(this.rewrite(withSubgraphs, shadowed, depth, reorderedInputs) ?? [withSubgraphs]));
    }
    return out;
  }

  private subgraphsOf(node: Node, shadowed: ReadonlySet<string>, depth: number): Node {
    const attributes = node.attribute ?? [];
    if (!attributes.some((a) => a.g || (a.graphs ?? []).length > 0)) return node;
    const inner = (g: Graph) => {
      const names = new Set([...shadowed, ...localNames(g)]);
      return onnx.GraphProto.create({ ...g, node: this.graphNodes(g, names, depth + 1) });
    };
    const attribute = attributes.map((a) => (a.g || (a.graphs ?? []).length > 0 ? onnx.AttributeProto.create({ ...a, ...(a.g ? { g: inner(a.g) } : {}), graphs: (a.graphs ?? []).map(inner) }) : a));
    return onnx.NodeProto.create({ ...node, attribute });
  }

  private rewrite(node: Node, shadowed: ReadonlySet<string>, depth: number, reorderedInputs: Map<string, string>): Node[] | undefined {
    if (node.domain && node.domain !== 'ai.onnx') return undefined;
    if (node.opType !== 'Conv' && node.opType !== 'ConvTranspose') return undefined;
    const [x, w, bias] = node.input ?? [];
    const weight = w && !shadowed.has(w) ? this.weights.get(w) : undefined;
    // onnxruntime's own NchwcTransformer takes a main-graph Conv with an initializer (better: it reorders W once at load).
    if (!x || !weight || (weight.initializer && depth === 0) || (node.output ?? []).length !== 1) return undefined;
    const shape = weight.shape;
    const group = attr(node, 'group');
    const autoPad = attr(node, 'auto_pad');
    if ((group && toNumber(group.i) !== 1) || (autoPad && (autoPad.s ? new TextDecoder().decode(autoPad.s) : 'NOTSET') !== 'NOTSET')) return undefined;
    const [o, i, kh, kw] = shape as [number, number, number, number];
    const pads = ints(node, 'pads') ?? [0, 0, 0, 0];
    if (node.opType === 'Conv') {
      if (!this.fits(i, o)) return undefined;
      this.convs++;
      return this.blocked(node, x, reorderedInputs, this.reorder(w!, shape, false), bias, o, [
        intsAttr('kernel_shape', [kh, kw]),
        intsAttr('pads', pads),
        intsAttr('strides', ints(node, 'strides') ?? [1, 1]),
        intsAttr('dilations', ints(node, 'dilations') ?? [1, 1]),
      ]);
    }
    // ConvTranspose: W is [input channels, output channels, kh, kw].
    const unit = (v: number[] | undefined) => !v || v.every((d) => d === 1);
    const zero = (v: number[] | undefined) => !v || v.every((d) => d === 0);
    const flippedPads = pads.map((p, k) => (k % 2 === 0 ? kh : kw) - 1 - p);
    if (!unit(ints(node, 'strides')) || !unit(ints(node, 'dilations')) || !zero(ints(node, 'output_padding')) || attr(node, 'output_shape')) return undefined;
    if (flippedPads.some((p) => p < 0) || !this.fits(o, i)) return undefined;
    this.transposed++;
    return this.blocked(node, x, reorderedInputs, this.reorder(w!, shape, true), bias, i, [intsAttr('kernel_shape', [kh, kw]), intsAttr('pads', flippedPads), intsAttr('strides', [1, 1]), intsAttr('dilations', [1, 1])]);
  }

  /** Both channel counts whole blocks (ReorderInput and the NCHWc Conv refuse anything else). */
  private fits(inChannels: number, outChannels: number): boolean {
    return inChannels % this.block === 0 && outChannels % this.block === 0;
  }

  /** ReorderInput (unless this graph has one of x already) → nchwc Conv → ReorderOutput, writing the node's own output. */
  private blocked(node: Node, x: string, reorderedInputs: Map<string, string>, w: string, bias: string | undefined, outChannels: number, attributes: Attribute[]): Node[] {
    const id = this.fresh(node.name || node.output![0]!);
    const known = reorderedInputs.get(x);
    const xr = known ?? `${id}/x`;
    const yr = `${id}/y`;
    reorderedInputs.set(x, xr);
    return [
      ...(known ? [] : [onnx.NodeProto.create({ name: `${id}/reorder_input`, opType: 'ReorderInput', domain: NCHWC_DOMAIN, input: [x], output: [xr] })]),
      onnx.NodeProto.create({ name: `${id}/conv`, opType: 'Conv', domain: NCHWC_DOMAIN, input: bias ? [xr, w, bias] : [xr, w], output: [yr], attribute: [...attributes, { name: 'group', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] }),
      onnx.NodeProto.create({ name: `${id}/reorder_output`, opType: 'ReorderOutput', domain: NCHWC_DOMAIN, input: [yr], output: [node.output![0]!], attribute: [{ name: 'channels', type: onnx.AttributeProto.AttributeType.INT, i: outChannels }] }),
    ];
  }

  /** The name of `w` in OIHWBiBo layout (flipped and channel-swapped first for a ConvTranspose), computed once per run in the prologue. */
  private reorder(w: string, shape: readonly number[], flip: boolean): string {
    const key = `${flip ? 'flipped' : 'conv'}:${w}`;
    const known = this.reordered.get(key);
    if (known) return known;
    const id = this.fresh(`${w}/${flip ? 'flipped' : 'blocked'}`);
    let source = w;
    let [o, i] = shape as [number, number];
    const [kh, kw] = [shape[2]!, shape[3]!];
    if (flip) {
      const bound = (name: string, values: readonly number[]) => this.int64s(`${id}/${name}`, values);
      // Backwards from the last kernel offset through the first: an end of -(k+1) is "before index 0".
      this.prologue.push(
        onnx.NodeProto.create({ name: `${id}/flip`, opType: 'Slice', input: [w, bound('starts', [-1, -1]), bound('ends', [-kh - 1, -kw - 1]), bound('axes', [2, 3]), bound('steps', [-1, -1])], output: [`${id}/flipped`] }),
        onnx.NodeProto.create({ name: `${id}/swap`, opType: 'Transpose', input: [`${id}/flipped`], output: [`${id}/swapped`], attribute: [intsAttr('perm', [1, 0, 2, 3])] }),
      );
      source = `${id}/swapped`;
      [o, i] = [i, o];
    }
    const b = this.block;
    this.prologue.push(
      onnx.NodeProto.create({ name: `${id}/split`, opType: 'Reshape', input: [source, this.int64s(`${id}/blocks`, [o / b, b, i / b, b, kh * kw])], output: [`${id}/split`] }),
      onnx.NodeProto.create({ name: `${id}/order`, opType: 'Transpose', input: [`${id}/split`], output: [`${id}/ordered`], attribute: [intsAttr('perm', [0, 2, 4, 3, 1])] }),
      onnx.NodeProto.create({ name: `${id}/join`, opType: 'Reshape', input: [`${id}/ordered`, this.int64s(`${id}/shape`, [o, i, kh, kw])], output: [`${id}/w`] }),
    );
    this.reordered.set(key, `${id}/w`);
    return `${id}/w`;
  }

  private int64s(name: string, values: readonly number[]): string {
    this.constants.push(
      onnx.TensorProto.create({ name, dataType: onnx.TensorProto.DataType.INT64, dims: [values.length], int64Data: [...values] }),
    );
    return name;
  }

  /** A name no node or value of the model has: twnn's names never start with `twnn.nchwc/`. */
  private fresh(base: string): string {
    return `twnn.nchwc/${this.counter++}/${base}`;
  }
}
