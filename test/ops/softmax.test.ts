import { describe, expect, it } from 'vitest';
import { Graph, Tensor, type DType, type Value } from '../../src/ir/index.js';
import { logSoftmax, softmax } from '../../src/ops/index.js';
import { expectClose, runAndCheckShapes } from '../helpers/assert.js';
import { lanesRef, sample } from '../helpers/reference.js';

function softmaxLane(lane: number[]): number[] {
  const m = Math.max(...lane);
  const e = lane.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

const logSoftmaxLane = (lane: number[]): number[] => softmaxLane(lane).map(Math.log);

const OPS: [string, (g: Graph, x: Value, axis?: number) => Value, (lane: number[]) => number[]][] = [
  ['Softmax', softmax, softmaxLane],
  ['LogSoftmax', logSoftmax, logSoftmaxLane],
];

describe.each<DType>(['float32', 'float64'])('softmax family %s', (dtype) => {
  // opset 13 semantics: one axis is normalised, not the flattened trailing dims.
  describe.each(OPS)('%s', (_, emit, lane) => {
    it.each([undefined, -1, 0, 1, -2])('axis %s over [B,3,4]', async (axis) => {
      const g = new Graph('sm');
      const x = g.input('x', dtype, ['B', 3, 4]);
      g.output('y', emit(g, x, axis));
      const xs = sample(24).map((v) => v * 3);
      const out = await runAndCheckShapes(g, { x: Tensor.fromNumbers(dtype, [2, 3, 4], xs) });
      const a = axis === undefined ? 2 : axis < 0 ? axis + 3 : axis;
      expectClose(out.y, lanesRef({ data: xs, shape: [2, 3, 4] }, a, lane));
    });
  });
});

describe('softmax build errors', () => {
  it.each(OPS)('%s rejects an axis out of range', (opType, emit) => {
    const g = new Graph('bad');
    const x = g.input('x', 'float32', ['B', 3, 4]);
    expect(() => emit(g, x, 3)).toThrow(new RegExp(`${opType} '${opType}_0': axis 3 is out of range for rank 3.*float32\\[B,3,4\\]`));
    expect(() => emit(g, x, -4)).toThrow(/axis -4 is out of range for rank 3/);
  });

  it.each(OPS)('%s rejects integer input', (opType, emit) => {
    const g = new Graph('bad');
    const x = g.input('x', 'int64', [3]);
    expect(() => emit(g, x)).toThrow(new RegExp(`${opType} '${opType}_0': input 0 has dtype int64`));
  });
});
