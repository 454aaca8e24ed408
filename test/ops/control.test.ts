import { describe, expect, it } from 'vitest';
import { Graph, Tensor, type DType, type Shape } from '../../src/ir/index.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { abs, add, cast, div, gather, greater, ifThenElse, loop, mul, sub, tanh } from '../../src/ops/index.js';
import { expectOnnxValid } from '../helpers/onnx-checker.js';
import { runGraph } from '../helpers/ort.js';

/** Runtime dims must equal the IR's: numbers exactly, named symbols as bound in `dims`; `?N` dims match anything. */
function expectShapeAgrees(ir: Shape, actual: readonly number[], dims: Record<string, number>, what: string): void {
  expect(actual.length, `${what}: rank`).toBe(ir.length);
  ir.forEach((d, i) => {
    if (typeof d === 'number') expect(actual[i], `${what}: dim ${i}`).toBe(d);
    else if (!d.startsWith('?')) expect(actual[i], `${what}: dim ${i} (${d})`).toBe(dims[d]);
  });
}

/**
 * Run through onnxruntime and check every output's runtime dtype and shape against the IR's.
 * (helpers/assert.ts runAndCheckShapes requires every symbol bound; Loop scans and -1 reshapes have fresh `?N` dims.)
 */
async function run(g: Graph, feeds: Record<string, Tensor>, dims: Record<string, number> = {}): Promise<Record<string, Tensor>> {
  const out = await runGraph(g, feeds);
  for (const v of g.outputs) {
    expect(out[v.name].dtype, `${v.name}: dtype`).toBe(v.dtype);
    expectShapeAgrees(v.shape, out[v.name].shape, dims, v.name);
  }
  return out;
}

const scalarOf = (g: Graph, value: number, dtype: DType) => g.constant(Tensor.scalar(value, dtype));
const TRUE = Tensor.fromNumbers('bool', [], [1]);

describe.each<DType>(['float32', 'float64'])('Loop %s', (dtype) => {
  const round = dtype === 'float32' ? Math.fround : (v: number) => v;

  it('running sum with a scan output', async () => {
    const g = new Graph('cumsum');
    const x = g.input('x', dtype, [5]);
    const { carried, scans } = loop(g, {
      name: 'cumsum',
      maxTrip: 5,
      carried: [scalarOf(g, 0, dtype)],
      body: (b, it) => {
        const s = add(b, it.carried[0], gather(b, x, it.iteration));
        return { carried: [s], scans: [s] };
      },
    });
    g.output('total', carried[0]);
    g.output('partials', scans[0]);
    expect(g.outputs.map((v) => v.shape)).toEqual([[], [expect.stringMatching(/^\?/)]]);
    const xs = [1.5, -2, 3, 4.25, 10];
    const out = await run(g, { x: Tensor.fromNumbers(dtype, [5], xs) });
    const partials = xs.map((_, i) => xs.slice(0, i + 1).reduce((a, b) => a + b, 0));
    expect(out.partials.toNumbers()).toEqual(partials);
    expect(out.total.toNumbers()).toEqual([partials[4]]);
    expectOnnxValid(serializeModel(g));
  });

  it('a body reading weights of the main graph', async () => {
    const g = new Graph('outer_weights');
    const h0 = g.input('h0', dtype, ['B', 3]);
    const wv = [0.5, -1, 2];
    const cv = [0.1, 0.2, -0.3];
    const w = g.initializer('w', Tensor.fromNumbers(dtype, [3], wv));
    const c = g.initializer('c', Tensor.fromNumbers(dtype, [3], cv));
    const steps = g.input('steps', 'int64', []);
    const { carried } = loop(g, {
      name: 'rnn',
      maxTrip: steps,
      carried: [h0],
      body: (b, it) => ({ carried: [tanh(b, add(b, mul(b, it.carried[0], w), c))] }),
    });
    g.output('h', carried[0]);
    expect(g.outputs[0].shape).toEqual(['B', 3]);
    const start = [1, 2, 3, -1, 0, 0.5];
    const out = await run(g, { h0: Tensor.fromNumbers(dtype, [2, 3], start), steps: Tensor.scalar(4, 'int64') }, { B: 2 });
    const expected = start.map((h0v, i) => {
      let h = h0v;
      for (let t = 0; t < 4; t++) h = Math.tanh(h * wv[i % 3] + cv[i % 3]);
      return h;
    });
    out.h.toNumbers().forEach((v, i) => expect(v).toBeCloseTo(expected[i], dtype === 'float32' ? 5 : 12));
    expectOnnxValid(serializeModel(g));
  });

  it.each([2, 10000, 0.25])('Newton sqrt(%d) stops on the cond and counts its iterations', async (a) => {
    const g = new Graph('newton');
    const aIn = g.input('a', dtype, []);
    const tol = 1e-6;
    const { carried } = loop(g, {
      name: 'newton',
      maxTrip: 100,
      cond: g.constant(TRUE),
      carried: [aIn, scalarOf(g, 0, 'int64')],
      body: (b, it) => {
        const x = it.carried[0];
        const next = mul(b, scalarOf(b, 0.5, dtype), add(b, x, div(b, aIn, x)));
        // Add has no int64 kernel in twnn's op set: count in the float dtype, carry as int64.
        const count = cast(b, add(b, cast(b, it.iteration, dtype), scalarOf(b, 1, dtype)), 'int64');
        return {
          cond: greater(b, abs(b, sub(b, next, x)), scalarOf(b, tol, dtype)),
          carried: [next, count],
        };
      },
    });
    g.output('root', carried[0]);
    g.output('iterations', carried[1]);
    const out = await run(g, { a: Tensor.scalar(a, dtype) });
    // The same iteration in JS, rounding like the graph's dtype.
    let x = round(a);
    let count = 0;
    for (let keepGoing = true; keepGoing && count < 100; count++) {
      const next = round(0.5 * round(x + round(round(a) / x)));
      keepGoing = Math.abs(next - x) > tol;
      x = next;
    }
    expect(out.iterations.toNumbers()).toEqual([count]);
    expect(count).toBeGreaterThan(2);
    expect(count).toBeLessThan(100);
    expect(out.root.get(0)).toBe(x);
    expect(out.root.get(0)).toBeCloseTo(Math.sqrt(a), dtype === 'float32' ? 4 : 10);
    expectOnnxValid(serializeModel(g));
  });

  it('a Loop nested in a Loop body, with scans and outer-scope values at both levels', async () => {
    const g = new Graph('nested');
    const x0 = g.input('x0', dtype, [2]);
    const s = g.input('s', dtype, []);
    const wv = [0.5, -0.25];
    const w = g.initializer('w', Tensor.fromNumbers(dtype, [2], wv));
    const { carried, scans } = loop(g, {
      name: 'outer',
      maxTrip: 3,
      carried: [x0],
      body: (ob, oit) => {
        const acc = oit.carried[0];
        const drive = mul(ob, acc, s); // main-graph s in the outer body
        const inner = loop(ob, {
          name: 'inner',
          maxTrip: 4,
          carried: [acc],
          body: (ib, iit) => {
            // main-graph w, outer-body drive and outer iteration, inner iteration
            const ticks = add(ib, cast(ib, iit.iteration, dtype), cast(ib, oit.iteration, dtype));
            const step = mul(ib, ticks, scalarOf(ib, 0.1, dtype));
            const h = add(ib, add(ib, mul(ib, iit.carried[0], w), mul(ib, drive, scalarOf(ib, 0.5, dtype))), step);
            return { carried: [h], scans: [h] };
          },
        });
        return { carried: inner.carried, scans: [inner.scans[0], inner.carried[0]] };
      },
    });
    g.output('final', carried[0]);
    g.output('trace', scans[0]);
    g.output('per_outer', scans[1]);
    expect(g.outputs.map((v) => v.shape)).toEqual([
      [2],
      [expect.stringMatching(/^\?/), expect.stringMatching(/^\?/), 2],
      [expect.stringMatching(/^\?/), 2],
    ]);
    const x0v = [1, -2];
    const sv = 0.75;
    const out = await run(g, { x0: Tensor.fromNumbers(dtype, [2], x0v), s: Tensor.scalar(sv, dtype) });

    let acc = [...x0v];
    const trace: number[] = [];
    const perOuter: number[] = [];
    for (let i = 0; i < 3; i++) {
      const drive = acc.map((a) => a * sv);
      let h = [...acc];
      for (let j = 0; j < 4; j++) {
        h = h.map((hk, k) => hk * wv[k] + drive[k] * 0.5 + (i + j) * 0.1);
        trace.push(...h);
      }
      acc = h;
      perOuter.push(...h);
    }
    expect(out.trace.shape).toEqual([3, 4, 2]);
    const digits = dtype === 'float32' ? 5 : 12;
    out.trace.toNumbers().forEach((v, k) => expect(v).toBeCloseTo(trace[k], digits));
    out.per_outer.toNumbers().forEach((v, k) => expect(v).toBeCloseTo(perOuter[k], digits));
    out.final.toNumbers().forEach((v, k) => expect(v).toBeCloseTo(acc[k], digits));
    expectOnnxValid(serializeModel(g));
  });

  it('If selects between branches computed from outer values', async () => {
    const g = new Graph('select');
    const c = g.input('c', 'bool', []);
    const x = g.input('x', dtype, ['B', 3]);
    const w = g.initializer('w', Tensor.fromNumbers(dtype, [3], [2, 3, 4]));
    const [y, tag] = ifThenElse(
      g,
      c,
      (b) => [mul(b, x, w), scalarOf(b, 1, 'int64')],
      (b) => [x, scalarOf(b, 2, 'int64')],
    );
    g.output('y', y);
    g.output('tag', tag);
    expect(g.outputs.map((v) => v.shape)).toEqual([['B', 3], []]);
    const xv = [1, 2, 3, 4, 5, 6];
    const feed = (flag: boolean) => ({ c: Tensor.fromNumbers('bool', [], [flag ? 1 : 0]), x: Tensor.fromNumbers(dtype, [2, 3], xv) });
    const yes = await run(g, feed(true), { B: 2 });
    expect(yes.y.toNumbers()).toEqual(xv.map((v, i) => v * [2, 3, 4][i % 3]));
    expect(yes.tag.toNumbers()).toEqual([1]);
    const no = await run(g, feed(false), { B: 2 });
    expect(no.y.toNumbers()).toEqual(xv);
    expect(no.tag.toNumbers()).toEqual([2]);
    expectOnnxValid(serializeModel(g));
  });
});

describe('control flow naming', () => {
  it('names body I/O and nodes from the scope path, uniquely across the model', () => {
    const g = new Graph('names');
    const x = g.input('x', 'float32', [2]);
    const result = g.scope('region1', () =>
      loop(g, { name: 'iterate', maxTrip: 2, carried: [x], body: (b, it) => ({ carried: [add(b, it.carried[0], x)] }) }),
    );
    const node = g.nodes.find((n) => n.opType === 'Loop')!;
    const body = node.subgraphs()[0];
    expect(node.name).toMatch(/^region1\/Loop_\d+$/);
    expect(body.inputs.map((v) => v.name)).toEqual(['region1/iterate/iter', 'region1/iterate/cond_in', 'region1/iterate/carried_in_0']);
    expect(body.outputs.map((v) => v.name)).toEqual(['region1/iterate/cond_out', 'region1/iterate/carried_out_0']);
    expect(body.inputs.slice(0, 2).map((v) => v.shape)).toEqual([[], []]);
    expect(body.nodes.map((n) => n.name).every((n) => n.startsWith('region1/iterate/'))).toBe(true);
    // cond passes straight through, so it needs an Identity to become an output
    expect(body.nodes.some((n) => n.opType === 'Identity' && n.inputs[0] === body.inputs[1])).toBe(true);
    expect(result.carried[0].shape).toEqual([2]);
    expect(() =>
      g.scope('region1', () => loop(g, { name: 'iterate', maxTrip: 2, carried: [x], body: (b, it) => ({ carried: it.carried }) })),
    ).toThrow(/'region1\/iterate\/iter' is already used/);
  });
});

describe('control flow build errors', () => {
  it('a carried output whose dtype differs from the initial value', () => {
    const g = new Graph('bad');
    const x = g.input('x', 'float32', ['B']);
    expect(() =>
      loop(g, { name: 'widen', maxTrip: 2, carried: [x], body: (b, it) => ({ carried: [cast(b, it.carried[0], 'float64')] }) }),
    ).toThrow(/Loop 'Loop_\d+': carried value 0: body output 'widen\/carried_out_0' float64\[B\] vs initial value 'x' float32\[B\]: dtypes differ/);
  });

  it('a body returning the wrong number of carried values', () => {
    const g = new Graph('bad');
    const x = g.input('x', 'float32', [2]);
    expect(() => loop(g, { name: 'l', maxTrip: 2, carried: [x], body: () => ({ carried: [] }) })).toThrow(
      /Loop 'l': the body returns 0 carried values for 1 initial values/,
    );
  });

  it('a node using a value from a sibling subgraph', () => {
    const g = new Graph('bad');
    const c = g.input('c', 'bool', []);
    const x = g.input('x', 'float32', [2]);
    let leaked = x;
    expect(() =>
      ifThenElse(
        g,
        c,
        (b) => {
          leaked = add(b, x, x);
          return [mul(b, leaked, x)];
        },
        (b) => [add(b, leaked, x)],
        { name: 'pick' },
      ),
    ).toThrow(/Add 'pick\/else\/Add_\d+': input 0 'pick\/then\/Add_\d+_output_0' belongs to graph 'pick\/then', which does not enclose graph 'pick\/else'/);
  });

  it('If branches with different dtypes', () => {
    const g = new Graph('bad');
    const c = g.input('c', 'bool', []);
    const x = g.input('x', 'float32', [2]);
    expect(() => ifThenElse(g, c, () => [x], (b) => [cast(b, x, 'int64')])).toThrow(/If 'If_\d+': output 0: then .*float32\[2\].* vs else .*int64\[2\].*: dtypes differ/);
  });
});
