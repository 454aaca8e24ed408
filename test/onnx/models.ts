// Small twnn-built models shared by the ONNX reader, inspect and checker tests.
import { Graph, Tensor } from '../../src/ir/index.js';
import { add, equal, gemm, ifThenElse, leakyRelu, loop, matmul, relu, tanh, transpose } from '../../src/ops/index.js';

/**
 * Deterministic pseudo-random values in [-1, 1) (a linear congruential generator).
 *
 * @example Tensor.fromNumbers('float32', [2, 3], lcg(1, 6))
 */
export function lcg(seed: number, n: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/**
 * x[B,4] -> MatMul -> Add -> Relu -> Gemm(transB) -> y[B,2], with scoped names and a graph doc string.
 *
 * @example const bytes = serializeModel(buildMlp());
 */
export function buildMlp(): Graph {
  const g = new Graph('mlp');
  g.docString = 'a two-layer perceptron';
  const x = g.input('x', 'float32', ['B', 4]);
  const w1 = g.initializer('layer1/W', Tensor.fromNumbers('float32', [4, 8], lcg(1, 32)));
  const b1 = g.initializer('layer1/b', Tensor.fromNumbers('float32', [8], lcg(2, 8)));
  const w2 = g.initializer('layer2/W', Tensor.fromNumbers('float32', [2, 8], lcg(3, 16)));
  const b2 = g.initializer('layer2/b', Tensor.fromNumbers('float32', [2], lcg(4, 2)));
  const h = g.scope('layer1', () => relu(g, add(g, matmul(g, x, w1), b1)));
  const y = g.scope('layer2', () => gemm(g, h, w2, b2, { transB: true }));
  g.output('y', y);
  return g;
}

/**
 * A Loop (trip count 4, a Constant) whose body holds an If; the body and the
 * branches read outer values (`w`, `x`), and every iterate is a scan output.
 * Attributes of four kinds: graph, float (LeakyRelu), ints (Transpose), tensor (Constant).
 *
 * @example const bytes = serializeModel(buildLoopModel(), { opset: 18 });
 */
export function buildLoopModel(): Graph {
  const g = new Graph('iterate');
  const x = g.input('x', 'float32', ['B', 3]);
  const w = g.initializer('w', Tensor.fromNumbers('float32', [3, 3], lcg(5, 9).map((v) => v * 0.5)));
  const wt = g.scope('stem', () => transpose(g, w, [1, 0]));
  const { carried, scans } = g.scope('region1', () =>
    loop(g, {
      name: 'iterate',
      maxTrip: 4,
      carried: [x],
      doc: 'fixed-point iterator of region1',
      body: (b, it) => {
        const z = matmul(b, it.carried[0], wt);
        const first = equal(b, it.iteration, b.constant(Tensor.scalar(0, 'int64')));
        const [next] = ifThenElse(b, first, (t) => [tanh(t, z)], (e) => [leakyRelu(e, add(e, z, x), 0.1)], { name: 'gate' });
        return { carried: [next], scans: [next] };
      },
    }),
  );
  g.output('y', carried[0]);
  g.output('trace', scans[0]);
  return g;
}

/** The name of the first node of `opType` in `g` (main graph only). @example nodeName(g, 'Loop') // 'region1/Loop_11' */
export function nodeName(g: Graph, opType: string): string {
  const n = g.nodes.find((node) => node.opType === opType);
  if (!n) throw new Error(`no ${opType} node in graph '${g.name}'`);
  return n.name;
}
