import { describe, expect, it } from 'vitest';
import { ConstantOp, Graph, IdentityOp, ShapeError, Tensor, type DType } from '../../src/ir/index.js';
import { CastOp, cast, constant, identity, scalar } from '../../src/ops/index.js';
import { lookupOp } from '../helpers/ops.js';
import { expectClose, runAndCheckShapes } from '../helpers/assert.js';

describe.each<DType>(['float32', 'float64'])('structural %s', (dtype) => {
  it('Identity copies its input', async () => {
    const g = new Graph('identity');
    const x = g.input('x', dtype, ['B', 3]);
    g.output('y', identity(g, x));
    const out = await runAndCheckShapes(g, { x: Tensor.fromNumbers(dtype, [2, 3], [1, -2, 3.5, 4, 5, -6]) });
    expectClose(out.y, [1, -2, 3.5, 4, 5, -6]);
  });

  // Float to integer truncates toward zero; anything non-zero is true.
  it.each<[DType, number[]]>([
    ['int64', [-1, 0, 2, 3, 0]],
    ['int32', [-1, 0, 2, 3, 0]],
    ['bool', [1, 1, 1, 1, 0]],
    [dtype === 'float32' ? 'float64' : 'float32', [-1.75, -0.5, 2.5, 3.875, 0]],
  ])(`Cast ${dtype} -> %s`, async (to, expected) => {
    const g = new Graph('cast');
    const x = g.input('x', dtype, ['N']);
    g.output('y', cast(g, x, to));
    const out = await runAndCheckShapes(g, { x: Tensor.fromNumbers(dtype, [5], [-1.75, -0.5, 2.5, 3.875, 0]) });
    expect(out.y.toNumbers()).toEqual(expected);
  });

  it.each<[DType, number[]]>([
    ['int64', [-3, 0, 7]],
    ['int32', [-3, 0, 7]],
    ['bool', [1, 0, 1]],
  ])(`Cast %s -> ${dtype}`, async (from, values) => {
    const g = new Graph('cast');
    const x = g.input('x', from, [3]);
    g.output('y', cast(g, x, dtype));
    const out = await runAndCheckShapes(g, { x: Tensor.fromNumbers(from, [3], values) });
    expectClose(out.y, values);
  });

  it('constant and scalar emit Constant nodes with the literal value', async () => {
    const g = new Graph('consts');
    const x = g.input('x', dtype, [2, 2]);
    g.output('c', constant(g, Tensor.fromNumbers(dtype, [2, 2], [0.5, -1, 2, 8])));
    g.output('s', scalar(g, 0.25, dtype));
    g.output('y', identity(g, x));
    const out = await runAndCheckShapes(g, { x: Tensor.zeros(dtype, [2, 2]) });
    expectClose(out.c, [0.5, -1, 2, 8]);
    expect(out.s.shape).toEqual([]);
    expectClose(out.s, [0.25]);
  });
});

describe('structural build', () => {
  it('registers the IR builtins themselves, not copies', () => {
    expect(lookupOp('Identity')).toBe(IdentityOp);
    expect(lookupOp('Constant')).toBe(ConstantOp);
    expect(lookupOp('Cast')).toBe(CastOp);
  });

  it('scalar and constant are cached per graph', () => {
    const g = new Graph('cache');
    const a = scalar(g, 2, 'float32');
    expect(scalar(g, 2, 'float32')).toBe(a);
    expect(constant(g, Tensor.scalar(2, 'float32'))).toBe(a);
    expect(scalar(g, 2, 'float64')).not.toBe(a);
    expect(g.nodes.map((n) => n.opType)).toEqual(['Constant', 'Constant']);
  });

  it('cast to the same dtype emits nothing', () => {
    const g = new Graph('noop');
    const x = g.input('x', 'float32', [3]);
    expect(cast(g, x, 'float32')).toBe(x);
    expect(g.nodes).toHaveLength(0);
  });

  it('Cast to a dtype twnn does not build with fails at build time', () => {
    const g = new Graph('f16');
    const x = g.input('x', 'float32', ['B', 3]);
    expect(() => g.node(CastOp, [x], { to: 10 })).toThrow(ShapeError);
    expect(() => g.node(CastOp, [x], { to: 10 })).toThrow(/Cast 'Cast_\d+': cannot cast to float16.*float32\[B,3\]/);
  });

  it('Cast without `to` fails at build time', () => {
    const g = new Graph('noto');
    const x = g.input('x', 'float32', [3]);
    expect(() => g.node(CastOp, [x])).toThrow(/Cast 'Cast_0': missing attribute 'to'/);
  });
});
