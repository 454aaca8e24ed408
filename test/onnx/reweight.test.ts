// withInitializers: the exported model.onnx with new weights must be the very
// file that exporting the spec with those weights writes, since the trainer
// relies on it to export once per run.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import sine from '../../graphs/sine.js';
import { FormatError } from '../../src/common/errors.js';
import { Tensor } from '../../src/ir/tensor.js';
import { exportModel } from '../../src/lower/artifacts.js';
import { parseModel, readInitializers } from '../../src/onnx/load.js';
import { withInitializers } from '../../src/onnx/reweight.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-reweight-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('withInitializers', () => {
  it("gives exportModel's model.onnx for the same weights, byte for byte", async () => {
    await exportModel(sine, join(dir, 'seed0'), { seed: 0 });
    const seed0 = new Uint8Array(readFileSync(join(dir, 'seed0', 'model.onnx')));
    const model = parseModel(seed0, 'seed0');
    // Other values for every parameter, exported with the same seed (the same metadata).
    const drawn = new Map([...readInitializers(model)].map(([name, t]) => [name, Tensor.fromNumbers(t.dtype, t.shape, t.toNumbers().map((v) => v * 0.5 + 0.25))]));
    const { files } = await exportModel(sine, join(dir, 'given'), { seed: 0, weights: drawn });
    const given = new Uint8Array(readFileSync(files[0]));
    const rewritten = withInitializers(model, drawn, 'seed0');
    expect(Buffer.from(rewritten).equals(Buffer.from(given))).toBe(true);
    expect(Buffer.from(rewritten).equals(Buffer.from(seed0))).toBe(false);
    // The decoded model is left as it was, and no weights re-encode it unchanged.
    expect(Buffer.from(withInitializers(model, new Map(), 'seed0')).equals(Buffer.from(seed0))).toBe(true);
  });

  it('refuses a weight with no initializer, or of another shape or dtype', async () => {
    await exportModel(sine, join(dir, 'check'), { seed: 0 });
    const model = parseModel(new Uint8Array(readFileSync(join(dir, 'check', 'model.onnx'))), 'm.onnx');
    const [name, t] = [...readInitializers(model)][0];
    expect(() => withInitializers(model, new Map([['nope', t]]), 'm.onnx')).toThrow(new FormatError("m.onnx: no initializer named 'nope'"));
    const wrongShape = Tensor.zeros(t.dtype, [...t.shape, 1]);
    expect(() => withInitializers(model, new Map([[name, wrongShape]]), 'm.onnx')).toThrow(`m.onnx: initializer '${name}' is float32 [${t.shape.join(',')}], the new value float32 [${[...t.shape, 1].join(',')}]`);
    expect(() => withInitializers(model, new Map([[name, Tensor.zeros('float64', t.shape)]]), 'm.onnx')).toThrow(/the new value float64/);
  });
});
