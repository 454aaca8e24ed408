// buildInferenceGraph: graph layout, dtypes, seeds, weight overrides, and the
// float64 guard for conv networks.
import { describe, expect, it } from 'vitest';
import mlpSpec from '../../graphs/mnist-mlp-plain.js';
import resnetSpec from '../../graphs/mnist-resnet-plain.js';
import sineSpec from '../../graphs/sine-mlp.js';
import sineTwnn from '../../graphs/sine.js';
import resnetTwnn from '../../graphs/mnist-resnet.js';
import { buildInferenceGraph, paramWeights, SpecError, Tensor, type ParamInfo } from '../../src/index.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { denseRef, expectAllClose, randomTensor, runModel } from '../twnn/support.js';

/** mnist-mlp-plain's forward pass in JS from its params: 784 -> 256 relu -> 128 relu -> 10. */
function mlpRef(params: readonly ParamInfo[], x: Tensor): number[] {
  const batch = x.shape[0];
  const p = (name: string) => params.find((q) => q.name === name)!;
  const relu = (v: number) => Math.max(v, 0);
  let h = denseRef(x.toNumbers(), batch, p('0.weight'), p('0.bias')).map(relu);
  h = denseRef(h, batch, p('2.weight'), p('2.bias')).map(relu);
  return denseRef(h, batch, p('4.weight'), p('4.bias'));
}

describe('buildInferenceGraph', () => {
  it('names the graph after the spec, with input x, outputs y, iterations, residual and params as initializers', () => {
    const { graph, params } = buildInferenceGraph(sineSpec);
    expect(graph.name).toBe('sine-mlp');
    expect(graph.docString).toBe(sineSpec.description);
    expect(graph.inputs.map((v) => v.describe())).toEqual(['x: float32[B,16]']);
    expect(graph.outputs.map((v) => v.describe())).toEqual(['y: float32[B,1]', 'iterations: int64[B]', 'residual: float32[B]', 'unsettled: int64[B]']);
    expect(graph.initializers.map((v) => v.name)).toEqual(params.map((p) => p.name));
    expect(params.map((p) => p.name)).toEqual(['0.weight', '0.bias', '2.weight', '2.bias', '4.weight', '4.bias']);
    expect(graph.opset).toBe(17);
  });

  it.each(['float32', 'float64'] as const)('the MLP in %s equals a JS reference computed from its params', async (dtype) => {
    const { graph, params } = buildInferenceGraph(mlpSpec, { dtype, seed: 2 });
    expect(params.every((p) => p.dtype === dtype && p.value.dtype === dtype)).toBe(true);
    const x = randomTensor(dtype, [3, 784], 5);
    const out = await runModel(serializeModel(graph), { x });
    expect(out.y.dtype).toBe(dtype);
    expect(out.y.shape).toEqual([3, 10]);
    if (dtype === 'float64') expectAllClose(out.y.toNumbers(), mlpRef(params, x), 1e-12, 1e-13);
    else expectAllClose(out.y.toNumbers(), mlpRef(params, x), 1e-4, 1e-5);
  });

  it('refuses a float64 conv network, naming the first node without a float64 kernel', () => {
    const build = () => buildInferenceGraph(resnetSpec, { dtype: 'float64' });
    expect(build).toThrow(SpecError);
    expect(build).toThrow(
      /model 'mnist-resnet-plain': node 'stem\/conv\/Conv_0' \(Conv\) has no float64 kernel .*conv networks must be built in float32/,
    );
  });

  it('is deterministic for a seed; another seed gives other weights', () => {
    const a = buildInferenceGraph(sineSpec, { seed: 7 }).params;
    const b = buildInferenceGraph(sineSpec, { seed: 7 }).params;
    const c = buildInferenceGraph(sineSpec, { seed: 8 }).params;
    a.forEach((p, i) => expect(b[i].value.toNumbers()).toEqual(p.value.toNumbers()));
    a.forEach((p, i) => {
      // Zero-initialised tensors would legitimately agree; every sine-mlp param is random.
      expect(c[i].value.toNumbers()).not.toEqual(p.value.toNumbers());
    });
  });

  it('takes given weights instead of drawn ones, converting float32 to a float64 build', async () => {
    const trained = buildInferenceGraph(mlpSpec, { seed: 11 }).params;
    const weights = paramWeights(trained);
    const { graph, params } = buildInferenceGraph(mlpSpec, { seed: 0, dtype: 'float64', weights });
    params.forEach((p, i) => {
      expect(p.init).toBe('given');
      expect(p.value.toNumbers()).toEqual(trained[i].value.toNumbers());
    });
    const x = randomTensor('float64', [2, 784], 6);
    const out = await runModel(serializeModel(graph), { x });
    expectAllClose(out.y.toNumbers(), mlpRef(trained, x), 1e-12, 1e-13);
  });

  it('overrides only the parameters given', () => {
    const drawn = buildInferenceGraph(sineSpec).params;
    const bias = Tensor.fromNumbers('float32', [1], [0.25]);
    const { params } = buildInferenceGraph(sineSpec, { weights: new Map([['4.bias', bias]]) });
    expect(params.find((p) => p.name === '4.bias')!.value.toNumbers()).toEqual([0.25]);
    expect(params.find((p) => p.name === '0.weight')!.value.toNumbers()).toEqual(drawn[0].value.toNumbers());
  });

  it('a given weight of the wrong shape is an error naming the parameter and both shapes', () => {
    const weights = new Map([['2.weight', Tensor.zeros('float32', [32, 16])]]);
    expect(() => buildInferenceGraph(sineSpec, { weights })).toThrow(
      /^weight '2.weight' has shape \[32,16\], but the model declares \[32,32\]$/,
    );
  });

  it('a given weight that matches no parameter is an error listing it', () => {
    const weights = new Map([['9.weight', Tensor.zeros('float32', [1])]]);
    expect(() => buildInferenceGraph(sineSpec, { weights })).toThrow(/given weights match no parameter: 9.weight \(parameters: 0.weight, 0.bias/);
  });

  it('rejects an opset below 17 and builds a higher one', async () => {
    expect(() => buildInferenceGraph(sineSpec, { opset: 13 })).toThrow(/opset must be an integer >= 17, got 13/);
    const { graph } = buildInferenceGraph(sineSpec, { opset: 18 });
    expect(graph.opset).toBe(18);
    const out = await runModel(serializeModel(graph, { opset: 18 }), { x: randomTensor('float32', [2, 16], 1) });
    expect(out.y.shape).toEqual([2, 1]);
  });

  it('rejects a non-integer seed', () => {
    expect(() => buildInferenceGraph(sineSpec, { seed: 0.5 })).toThrow(/seed must be an integer, got 0.5/);
  });

  it.each([
    ['one region', sineTwnn, [6, 16]],
    ['two regions', resnetTwnn, [6, 1, 28, 28]],
  ] as const)('model.onnx outputs which samples ran out of sweeps unsettled (%s), as the Loop judged them', async (_what, spec, shape) => {
    // A tight budget: some samples settle within it, some do not.
    const { graph } = buildInferenceGraph(spec, { regionOverrides: { maxIter: 3, tol: 1e-3 } });
    const out = await runModel(serializeModel(graph), { x: randomTensor('float32', [...shape], 5) });
    const regions = graph.outputs.filter((v) => v.name.startsWith('unsettled.')).map((v) => v.name.slice('unsettled.'.length));
    const perRegion = regions.length > 0 ? regions : [''];
    const counts = perRegion.map((r) => {
      const suffix = r ? `.${r}` : '';
      const iterations = out[`iterations${suffix}`].toNumbers();
      const residual = out[`residual${suffix}`].toNumbers();
      const judged = iterations.map((n, b) => (n >= 3 && residual[b] > Math.fround(1e-3) ? 1 : 0));
      expect(out[`unsettled${suffix}`].toNumbers()).toEqual(judged);
      return judged;
    });
    expect(out.unsettled.toNumbers()).toEqual(counts[0].map((_, b) => counts.reduce((s, c) => s + c[b], 0)));
    expect(out.unsettled.toNumbers().some((n) => n > 0)).toBe(true);
  });
});

