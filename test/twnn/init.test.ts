// Parameter initialisation: PyTorch's default bounds, seeded and order-independent.
import { describe, expect, it } from 'vitest';
import { Graph, SpecError, type DType } from '../../src/ir/index.js';
import { BuildContext, conv2d, dense, init, type ParamInfo } from '../../src/twnn/index.js';

function context(seed = 0, dtype: DType = 'float32'): BuildContext {
  return new BuildContext(new Graph('t'), { dtype, seed, mode: 'initializer' });
}

function buildLayer(layer: ReturnType<typeof dense> | ReturnType<typeof conv2d>, inputShape: (string | number)[], seed = 0): ParamInfo[] {
  const ctx = context(seed);
  layer.build(ctx, ctx.graph.input('x', 'float32', inputShape));
  return ctx.params;
}

function maxAbs(p: ParamInfo): number {
  return Math.max(...p.value.toNumbers().map(Math.abs));
}

describe('initialisers', () => {
  it('dense: weight and bias are U(±1/√inFeatures), filling the range', () => {
    const [w, b] = buildLayer(dense(300, 200), ['B', 300]);
    const bound = Math.fround(1 / Math.sqrt(300));
    expect(maxAbs(w)).toBeLessThanOrEqual(bound);
    // 60000 uniform draws: the extreme lies within 0.1% of the bound.
    expect(maxAbs(w)).toBeGreaterThan(0.99 * bound);
    expect(maxAbs(b)).toBeLessThanOrEqual(bound);
    expect(maxAbs(b)).toBeGreaterThan(0.8 * bound);
    const mean = w.value.toNumbers().reduce((a, v) => a + v, 0) / w.value.size;
    // U(±b) has standard deviation b/√3; over 60000 draws the mean's is 0.0024·b.
    expect(Math.abs(mean)).toBeLessThan(0.02 * bound);
  });

  it('conv2d: fanIn is inChannels/groups · kH · kW', () => {
    const [w, b] = buildLayer(conv2d(12, 16, [3, 5], { groups: 2 }), ['B', 12, 9, 9]);
    expect(w.shape).toEqual([16, 6, 3, 5]);
    const bound = Math.fround(1 / Math.sqrt(6 * 3 * 5));
    expect(maxAbs(w)).toBeLessThanOrEqual(bound);
    expect(maxAbs(w)).toBeGreaterThan(0.98 * bound);
    expect(maxAbs(b)).toBeLessThanOrEqual(bound);
  });

  it('kaimingUniform with another slope uses gain √(2/(1+a²))', () => {
    const ctx = context();
    ctx.param('w', [64, 64], init.kaimingUniform(64, 0));
    const bound = Math.fround(Math.sqrt(6 / 64));
    expect(maxAbs(ctx.params[0])).toBeLessThanOrEqual(bound);
    expect(maxAbs(ctx.params[0])).toBeGreaterThan(0.99 * bound);
  });

  it('zeros, ones, constant, uniform and normal give what they say', () => {
    const ctx = context(0, 'float64');
    ctx.param('z', [3], init.zeros());
    ctx.param('o', [3], init.ones());
    ctx.param('c', [2], init.constant(-4));
    ctx.param('u', [5000], init.uniform(2, 3));
    ctx.param('n', [20000], init.normal(0.02));
    const [z, o, c, u, n] = ctx.params.map((p) => p.value.toNumbers());
    expect(z).toEqual([0, 0, 0]);
    expect(o).toEqual([1, 1, 1]);
    expect(c).toEqual([-4, -4]);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...u)).toBeLessThan(3);
    const std = Math.sqrt(n.reduce((a, v) => a + v * v, 0) / n.length);
    expect(Math.abs(std - 0.02)).toBeLessThan(0.001);
    expect(ctx.params[4].init).toBe('normal(mean 0, std 0.02)');
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = buildLayer(dense(8, 4), ['B', 8], 1);
    const b = buildLayer(dense(8, 4), ['B', 8], 1);
    const c = buildLayer(dense(8, 4), ['B', 8], 2);
    expect(a[0].value.toNumbers()).toEqual(b[0].value.toNumbers());
    expect(c[0].value.toNumbers()).not.toEqual(a[0].value.toNumbers());
  });

  it("does not depend on declaration order: a parameter's value is a function of seed and name", () => {
    const first = context(9);
    first.param('a', [4, 4], init.normal(1));
    first.param('b', [4], init.uniform(-1, 1));
    const second = context(9);
    second.param('b', [4], init.uniform(-1, 1));
    second.param('extra', [100], init.normal(1));
    second.param('a', [4, 4], init.normal(1));
    const byName = (ctx: BuildContext, name: string) => ctx.params.find((p) => p.name === name)!.value.toNumbers();
    expect(byName(second, 'a')).toEqual(byName(first, 'a'));
    expect(byName(second, 'b')).toEqual(byName(first, 'b'));
  });

  it('rejects bad initialiser arguments', () => {
    expect(() => init.uniform(1, 0)).toThrow(SpecError);
    expect(() => init.normal(-1)).toThrow(/std/);
    expect(() => init.kaimingUniform(0)).toThrow(/fanIn must be a positive integer/);
    expect(() => init.constant(Number.NaN)).toThrow(/finite/);
  });
});
