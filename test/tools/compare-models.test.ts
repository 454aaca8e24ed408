// tools/compare-models.ts: two exports of the same weights agree, and are timed in turns.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import sine from '../../graphs/sine.js';
import { Tensor } from '../../src/ir/tensor.js';
import { exportModel } from '../../src/lower/artifacts.js';
import { compareModels } from '../../tools/compare-models.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-compare-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('compareModels', () => {
  it('finds two exports of the same weights equal, and another seed different', async () => {
    await exportModel(sine, join(dir, 'a'));
    await exportModel(sine, join(dir, 'b'), { seed: 1 });
    const x = Tensor.fromNumbers('float32', [3, 16], Array.from({ length: 48 }, (_, i) => Math.sin(i / 5)));
    const same = await compareModels(join(dir, 'a/model.onnx'), join(dir, 'a/model.onnx'), x, 2);
    expect(same).toMatchObject({ maxAbsDiffY: 0, sameSweeps: true });
    expect(same.msA).toBeGreaterThan(0);
    const other = await compareModels(join(dir, 'a/model.onnx'), join(dir, 'b/model.onnx'), x, 1);
    expect(other.maxAbsDiffY).toBeGreaterThan(1e-4);
  });
});
