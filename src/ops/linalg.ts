// Matrix products: MatMul (numpy matmul semantics) and Gemm (2-D, transposes, scaled bias).
import { broadcastShapes, formatShape, type Dim, type Graph, type OpDef, type Value } from '../ir/index.js';
import { mul } from './elementwise.js';
import { unbroadcast } from './grad-helpers.js';
import { squeeze, transpose, unsqueeze } from './shape.js';
import { scalar } from './structural.js';

/** Swap the last two axes (a batched matrix transpose). */
function swapLastAxes(g: Graph, x: Value): Value {
  const perm = [...Array(x.rank).keys()];
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return transpose(g, x, perm);
}
import { requireSameDType } from './shape-rules.js';

export const MatMulOp: OpDef = {
  opType: 'MatMul',
  inputs: [{ name: 'A' }, { name: 'B' }],
  outputs: 1,
  doc: 'Y = A @ B (numpy matmul: 1-D operands, broadcast batch dimensions)',
  // dA = dY Bᵀ, dB = Aᵀ dY (over the last two axes), batch broadcasting undone
  vjp: ({ graph: g, inputs: [a, b], gradOutputs: [gy], wants }) => {
    // Lift 1-D operands to matrices as numpy does, so one formula covers every case.
    const a2 = a!.rank === 1 ? unsqueeze(g, a!, [0]) : a!;
    const b2 = b!.rank === 1 ? unsqueeze(g, b!, [1]) : b!;
    let gy2 = gy!;
    if (a!.rank === 1) gy2 = unsqueeze(g, gy2, [gy2.rank - (b!.rank === 1 ? 0 : 1)]);
    if (b!.rank === 1) gy2 = unsqueeze(g, gy2, [gy2.rank]);
    const back = (grad: Value, lifted: Value, original: Value, liftedAxis: number) => {
      const summed = unbroadcast(g, grad, lifted);
      return lifted === original ? summed : squeeze(g, summed, [liftedAxis]);
    };
    return [
      wants[0] ? back(matmul(g, gy2, swapLastAxes(g, b2)), a2, a!, 0) : undefined,
      wants[1] ? back(matmul(g, swapLastAxes(g, a2), gy2), b2, b!, 1) : undefined,
    ];
  },
  infer: (ctx) => {
    requireSameDType(ctx);
    const [a, b] = [ctx.inputs[0]!, ctx.inputs[1]!];
    if (a.rank === 0 || b.rank === 0) ctx.fail('operands must have rank >= 1');
    // numpy: a 1-D A is a row [1,K], a 1-D B a column [K,1]; the added dim is dropped again.
    const as = a.rank === 1 ? [1, a.shape[0]] : a.shape;
    const bs = b.rank === 1 ? [b.shape[0], 1] : b.shape;
    const kA = as[as.length - 1];
    const kB = bs[bs.length - 2];
    if (kA !== kB) ctx.fail(`inner dimensions differ: A has K=${kA}, B has K=${kB}`);
    let batch: Dim[] = [];
    try {
      batch = broadcastShapes([as.slice(0, -2), bs.slice(0, -2)], 'MatMul');
    } catch {
      ctx.fail(`batch dimensions ${formatShape(as.slice(0, -2))} and ${formatShape(bs.slice(0, -2))} do not broadcast`);
    }
    const rows = a.rank === 1 ? [] : [as[as.length - 2]];
    const cols = b.rank === 1 ? [] : [bs[bs.length - 1]];
    return [{ dtype: a.dtype, shape: [...batch, ...rows, ...cols] }];
  },
};

export const GemmOp: OpDef = {
  opType: 'Gemm',
  inputs: [{ name: 'A' }, { name: 'B' }, { name: 'C', optional: true }],
  outputs: 1,
  attrs: {
    alpha: { type: 'float', default: 1 },
    beta: { type: 'float', default: 1 },
    transA: { type: 'int', default: 0 },
    transB: { type: 'int', default: 0 },
  },
  doc: "Y = alpha * A' @ B' + beta * C (A' = transA ? Aᵀ : A, likewise B'; C broadcasts to [M,N])",
  // dA' = alpha dY B'ᵀ, dB' = alpha A'ᵀ dY, dC = beta dY (unbroadcast); transposes undone
  vjp: ({ graph: g, node, inputs: [a, b, c], gradOutputs: [gy], wants }) => {
    const alpha = node.attr<number>('alpha', 1);
    const beta = node.attr<number>('beta', 1);
    const transA = node.attr<number>('transA', 0);
    const transB = node.attr<number>('transB', 0);
    // Gemm's own transposes fold the products: dA (for A as stored) = transA ? alpha B' dYᵀ : alpha dY B'ᵀ.
    const ga = !wants[0] ? undefined
      : transA ? gemm(g, b!, gy!, undefined, { transA: !!transB, transB: true, alpha })
      : gemm(g, gy!, b!, undefined, { transB: !transB, alpha });
    const gb = !wants[1] ? undefined
      : transB ? gemm(g, gy!, a!, undefined, { transA: true, transB: !!transA, alpha })
      : gemm(g, a!, gy!, undefined, { transA: !transA, alpha });
    const gc = wants[2] && c ? unbroadcast(g, beta === 1 ? gy! : mul(g, gy!, scalar(g, beta, gy!.dtype)), c) : undefined;
    return [ga, gb, gc];
  },
  infer: (ctx) => {
    requireSameDType(ctx);
    const [a, b, c] = ctx.inputs;
    if (a!.rank !== 2 || b!.rank !== 2) ctx.fail(`A and B must be 2-D, got rank ${a!.rank} and ${b!.rank}`);
    const [m, kA] = ctx.attr<number>('transA') ? [a!.shape[1], a!.shape[0]] : a!.shape;
    const [kB, n] = ctx.attr<number>('transB') ? [b!.shape[1], b!.shape[0]] : b!.shape;
    if (kA !== kB) ctx.fail(`inner dimensions differ: A' has K=${kA}, B' has K=${kB}`);
    // C broadcasts one way only: to [M,N], never the other way.
    if (c) {
      const target = [m, n];
      const fits = c.rank <= 2 && c.shape.every((d, i) => d === 1 || d === target[2 - c.rank + i]);
      if (!fits) ctx.fail(`C ${formatShape(c.shape)} does not broadcast to [M,N] = ${formatShape(target)}`);
    }
    return [{ dtype: a!.dtype, shape: [m, n] }];
  },
};

/** This family's ops, for the registry's table (./table.ts). */
export const LINALG_OPS: readonly OpDef[] = [MatMulOp, GemmOp];

/**
 * Numpy-style matrix product: 1-D operands act as a row (A) or column (B);
 * leading batch dimensions broadcast.
 *
 * @example const h = matmul(g, x, w); // [B,S,K] x [K,N] -> [B,S,N]
 */
export const matmul = (g: Graph, a: Value, b: Value): Value => g.node(MatMulOp, [a, b])[0];

/** Gemm's attributes; absent ones take ONNX's defaults (no transpose, alpha = beta = 1). */
export interface GemmOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  beta?: number;
}

/**
 * `alpha * A' @ B' + beta * C` for 2-D A and B, with optional transposes and
 * an optional bias C that broadcasts to the `[M,N]` result.
 *
 * @example const y = gemm(g, x, w, b, { transB: true }); // dense layer, w stored [out, in]
 */
export function gemm(g: Graph, a: Value, b: Value, c?: Value, options: GemmOptions = {}): Value {
  const flag = (v?: boolean) => (v === undefined ? undefined : v ? 1 : 0);
  const attrs = { transA: flag(options.transA), transB: flag(options.transB), alpha: options.alpha, beta: options.beta };
  return g.node(GemmOp, [a, b, c], attrs)[0];
}
