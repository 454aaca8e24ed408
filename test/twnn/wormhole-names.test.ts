// Wormholes are named from the blocks they join (`wormhole_B2_B1`, issue 12),
// yet every model keeps its numbers: their parameters draw from the random
// streams of their former positional names (`wormhole_2_1`), and weights saved
// under those names (the committed paper models) still load.
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/index.js';
import { buildInferenceGraph } from '../../src/lower/inference.js';
import { defineModel, dense, region, sequential, tanh } from '../../src/index.js';
import { kaimingUniform, sample } from '../../src/twnn/init.js';
import { Rng } from '../../src/common/rng.js';

const block = () => sequential(dense(4, 4), tanh());
const model = (blocks: Parameters<typeof region>[0]['blocks'], from: number | string, to: number | string) =>
  defineModel({ name: 'w', input: { shape: ['B', 4], dtype: 'float' }, net: sequential({ r: region({ blocks, wormholes: [{ from, to }] }) }) });

describe('wormhole names', () => {
  it('come from the declared blocks: named ones, or b1..bk for an array', () => {
    const named = buildInferenceGraph(model({ B1: block(), B2: block() }, 'B2', 'B1')).params.map((p) => p.name);
    expect(named.filter((n) => n.includes('wormhole'))).toEqual(['r.wormhole_B2_B1.proj.weight', 'r.wormhole_B2_B1.gate.weight', 'r.wormhole_B2_B1.gate.bias']);
    const listed = buildInferenceGraph(model([block(), block(), block()], 3, 1)).params.map((p) => p.name);
    expect(listed).toContain('r.wormhole_b3_b1.gate.weight');
    expect(listed.join()).not.toMatch(/wormhole_\d/);
  });

  it('draw their initial values from the streams of their former names', () => {
    const p = buildInferenceGraph(model({ B1: block(), B2: block() }, 'B2', 'B1'), { seed: 7 }).params.find((q) => q.name === 'r.wormhole_B2_B1.gate.weight')!;
    const former = sample(kaimingUniform(8), [4, 8], 'float32', Rng.forParam(7, 'r.wormhole_2_1.gate.weight'));
    expect(Array.from(p.value.data as Float32Array)).toEqual(Array.from(former.data as Float32Array));
  });

  it('load weights saved under their former names', () => {
    const bias = Tensor.fromNumbers('float32', [4], [1, 2, 3, 4]);
    const built = buildInferenceGraph(model({ B1: block(), B2: block() }, 'B2', 'B1'), { weights: new Map([['r.wormhole_2_1.gate.bias', bias]]) });
    const p = built.params.find((q) => q.name === 'r.wormhole_B2_B1.gate.bias')!;
    expect(Array.from(p.value.data as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(p.init).toBe('given');
  });

  it('refuse block names that spell one wormhole scope two ways', () => {
    const blocks = { c: block(), b_c: block(), a_b: block(), a: block() };
    expect(() => region({ blocks, wormholes: [{ from: 'a_b', to: 'c' }, { from: 'a', to: 'c' }] })).not.toThrow();
    expect(() => region({ blocks, wormholes: [{ from: 'a_b', to: 'c' }, { from: 'a', to: 'b_c' }] })).toThrow(
      /wormholes 3 -> 1 and 4 -> 2 would both be named 'wormhole_a_b_c'; rename a block/,
    );
  });
});
