import { expect, it } from 'vitest';
import { Graph, Tensor } from '../../src/ir/index.js';
import { and, not, or } from '../../src/ops/index.js';
import { runGraph } from '../helpers/ort.js';

it('And, Or, Not follow their truth tables, broadcasting', async () => {
  const g = new Graph('logic');
  const a = g.input('a', 'bool', ['B', 2]);
  const b = g.input('b', 'bool', [2]);
  g.output('and', and(g, a, b));
  g.output('or', or(g, a, b));
  g.output('not', not(g, a));
  const out = await runGraph(g, {
    a: Tensor.fromNumbers('bool', [2, 2], [0, 0, 1, 1]),
    b: Tensor.fromNumbers('bool', [2], [0, 1]),
  });
  expect(out.and.toNumbers()).toEqual([0, 0, 0, 1]);
  expect(out.or.toNumbers()).toEqual([0, 1, 1, 1]);
  expect(out.not.toNumbers()).toEqual([1, 1, 0, 0]);
  expect(out.and.shape).toEqual([2, 2]);
});

it('And rejects non-bool inputs at build time', () => {
  const g = new Graph('logic_bad');
  const a = g.input('a', 'float32', [2]);
  expect(() => and(g, a, a)).toThrow(/And '.*And_\d+'.*bool/);
});
