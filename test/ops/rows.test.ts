import { expect, it } from 'vitest';
import { Graph, ShapeError, Tensor } from '../../src/ir/index.js';
import { gather, mul, nonZero, reshape, scatterRows, scalar, transpose } from '../../src/ops/index.js';
import { runGraph } from '../helpers/ort.js';

it('NonZero lists the true rows of a mask; Gather takes them; ScatterND writes them back', async () => {
  const g = new Graph('rows');
  const mask = g.input('mask', 'bool', ['B']);
  const x = g.input('x', 'float32', ['B', 2]);
  const coords = nonZero(g, mask);
  const index = reshape(g, coords, [-1]);
  const taken = gather(g, x, index, 0);
  g.output('coords', coords);
  g.output('taken', taken);
  // Each taken row times 10, written back over the original rows.
  g.output('put', scatterRows(g, x, transpose(g, coords, [1, 0]), taken));
  const scaled = mul(g, taken, scalar(g, 10, 'float32'));
  g.output('scaled', scatterRows(g, x, transpose(g, coords, [1, 0]), scaled));
  const out = await runGraph(g, {
    mask: Tensor.fromNumbers('bool', [4], [0, 1, 0, 1]),
    x: Tensor.fromNumbers('float32', [4, 2], [1, 2, 3, 4, 5, 6, 7, 8]),
  });
  expect(out.coords.shape).toEqual([1, 2]);
  expect(out.coords.toNumbers()).toEqual([1, 3]);
  expect(out.taken.toNumbers()).toEqual([3, 4, 7, 8]);
  expect(out.put.toNumbers()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  expect(out.scaled.toNumbers()).toEqual([1, 2, 30, 40, 5, 6, 70, 80]);
});

it('ScatterND writes bool and int64 rows too (the settle bookkeeping)', async () => {
  const g = new Graph('rows_types');
  const done = g.input('done', 'bool', [3]);
  const iters = g.input('iters', 'int64', [3]);
  const column = g.constant(Tensor.fromNumbers('int64', [1, 1], [2]));
  g.output('done2', scatterRows(g, done, column, g.constant(Tensor.fromNumbers('bool', [1], [1]))));
  g.output('iters2', scatterRows(g, iters, column, g.constant(Tensor.fromNumbers('int64', [1], [9]))));
  const out = await runGraph(g, { done: Tensor.fromNumbers('bool', [3], [0, 0, 0]), iters: Tensor.fromNumbers('int64', [3], [1, 2, 3]) });
  expect(out.done2.toNumbers()).toEqual([0, 0, 1]);
  expect(out.iters2.toNumbers()).toEqual([1, 2, 9]);
});

it('ScatterND refuses anything but row indices [K, 1], and rows shaped unlike data', () => {
  const g = new Graph('rows_bad');
  const x = g.input('x', 'float32', [3, 2]);
  const cells = g.constant(Tensor.fromNumbers('int64', [1, 2], [0, 1]));
  expect(() => scatterRows(g, x, cells, g.input('u', 'float32', [1]))).toThrow(ShapeError);
  const rows = g.constant(Tensor.fromNumbers('int64', [1, 1], [0]));
  expect(() => scatterRows(g, x, rows, g.input('v', 'float32', [1, 3]))).toThrow(/rows shaped like data/);
});
