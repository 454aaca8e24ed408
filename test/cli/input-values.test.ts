// Bad values are named as the input's fault (issue 13, item 9): NaN, ±Infinity
// and float32-overflowing numbers were fed to the model and reported as its
// fixed point diverging. `run` now refuses them, naming the input and the
// element, before anything runs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/data/npy.js';
import { Tensor } from '../../src/ir/tensor.js';
import { expectUserError, REPO, twnn } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-values-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const model = join(dir, 'sine', 'model.onnx');
const window = (set: Record<number, number>) => Array.from({ length: 16 }, (_, i) => set[i] ?? Math.sin(i / 3));

beforeAll(async () => {
  expect((await twnn(['build', join(REPO, 'graphs/sine.ts'), '--out', join(dir, 'sine')])).status).toBe(0);
});

describe('input values a model cannot take', () => {
  it('NaN in a .npy is named, with its index', async () => {
    const file = join(dir, 'nan.npy');
    writeFileSync(file, writeNpy(Tensor.fromNumbers('float32', [2, 16], [...window({}), ...window({ 3: NaN, 7: NaN })])));
    expectUserError(await twnn(['run', model, '--input', file]), `${file}: input 'x' holds NaN at [1,3] (and 1 more non-finite values); the model needs finite inputs`);
  });

  it('float64 values that overflow float32 are named, not turned into a diverging fixed point', async () => {
    const file = join(dir, 'big.npy');
    writeFileSync(file, writeNpy(Tensor.fromNumbers('float64', [1, 16], window({ 2: 1e39 }))));
    expectUserError(await twnn(['run', model, '--input', file]), `${file}: input 'x' holds Infinity at [0,2]`);
  });

  it('JSON numbers beyond float32 or any float are named by their path', async () => {
    const over = join(dir, 'over.json');
    writeFileSync(over, JSON.stringify([window({ 4: 1e39 })]));
    expectUserError(await twnn(['run', model, '--input', over]), `${over}: x[0][4]: 1e+39 overflows float32`);
    const inf = join(dir, 'inf.json');
    writeFileSync(inf, `[[${window({}).slice(0, 15).join(',')},1e999]]`);
    expectUserError(await twnn(['run', model, '--input', inf]), `${inf}: x[0][15]: a number too large for any float`);
  });

  it('finite values run', async () => {
    const file = join(dir, 'ok.json');
    writeFileSync(file, JSON.stringify([window({ 2: 3e38 / 1e38 })]));
    expect((await twnn(['run', model, '--input', file])).status).toBe(0);
  });
});
