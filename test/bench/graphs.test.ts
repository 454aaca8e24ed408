// The ResNet graphs of the paper report: the TWNN (Fig. 5: two regions with a
// wormhole each) and its plain baselines build, export files that pass onnx's
// checker, and are the architectures their comments say.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import cifarDeepPlain from '../../graphs/cifar-resnet-deep-plain.js';
import cifarGnPlain from '../../graphs/cifar-resnet-gn-plain.js';
import cifarResnet from '../../graphs/cifar-resnet.js';
import deepPlain from '../../graphs/mnist-resnet-deep-plain.js';
import gnPlain from '../../graphs/mnist-resnet-gn-plain.js';
import twnnResnet from '../../graphs/mnist-resnet.js';
import { buildInferenceGraph, exportModel, type Graph, type Manifest, type ModelSpec } from '../../src/index.js';
import { checkOnnx } from '../helpers/onnx-checker.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-bench-graphs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const specs = {
  'mnist-resnet': twnnResnet,
  'mnist-resnet-gn-plain': gnPlain,
  'mnist-resnet-deep-plain': deepPlain,
  'cifar-resnet': cifarResnet,
  'cifar-resnet-gn-plain': cifarGnPlain,
  'cifar-resnet-deep-plain': cifarDeepPlain,
} as const;
const manifests = new Map<string, Manifest>();
beforeAll(async () => {
  for (const [name, spec] of Object.entries(specs)) manifests.set(name, (await exportModel(spec, join(root, name), { seed: 0 })).manifest);
}, 180_000);

interface IteratorEntry {
  region: string;
  tol: number;
  maxIter: number;
  backward: string;
  wormholes: { from: number; to: number }[];
}

/** Op types of the main graph alone, and of every Loop body. */
function opTypes(g: Graph): { top: string[]; bodies: string[] } {
  const bodies: string[] = [];
  const visit = (sub: Graph) => {
    for (const n of sub.nodes) {
      bodies.push(n.opType);
      n.subgraphs().forEach(visit);
    }
  };
  for (const n of g.nodes) n.subgraphs().forEach(visit);
  return { top: g.nodes.map((n) => n.opType), bodies };
}

/** Trainable parameters as `name:[shape]`, with a region prefix (`region1.`) removed. */
function blockParams(spec: ModelSpec): string[] {
  return buildInferenceGraph(spec).params.filter((p) => p.trainable).map((p) => `${p.name.replace(/^region\d\./, '')}:[${p.shape.join(',')}]`);
}

describe.each(Object.keys(specs))('graphs/%s.ts', (name) => {
  it('exports model, grad and train graphs that pass onnx.checker (full_check) and strict shape inference', () => {
    const manifest = manifests.get(name)!;
    expect(manifest.name).toBe(name);
    expect(manifest.task.data).toEqual(name.startsWith('cifar') ? { kind: 'cifar10', dir: 'data/cifar-10-batches-bin' } : { kind: 'mnist', layout: 'image' });
    expect(manifest.task.loss).toBe('cross_entropy');
    const results = checkOnnx(['model.onnx', 'grad.onnx', 'train.onnx'].map((f) => join(root, name, f)));
    for (const r of results) expect(r.error, r.file).toBeNull();
  }, 120_000);
});

describe('the TWNN ResNet (paper Fig. 5)', () => {
  const built = buildInferenceGraph(twnnResnet);

  it('iterates B1-B2 with a wormhole B2 -> B1 and B3-B4 with a wormhole B4 -> B3, tol 1e-3, maxIter 300', () => {
    const iterators = manifests.get('mnist-resnet')!.iterators as unknown as IteratorEntry[];
    expect(iterators.map((it) => [it.region, it.tol, it.maxIter, it.backward])).toEqual([
      ['region1', 1e-3, 300, 'implicit'],
      ['region2', 1e-3, 300, 'implicit'],
    ]);
    // Block positions are per region: B2 -> B1 and B4 -> B3 are both 2 -> 1.
    expect(iterators.map((it) => it.wormholes.map((w) => `${w.from}->${w.to}`))).toEqual([['2->1'], ['2->1']]);
    const names = built.params.map((p) => p.name);
    expect(names.filter((n) => n.includes('wormhole'))).toEqual([
      'region1.wormhole_B2_B1.proj.weight',
      'region1.wormhole_B2_B1.gate.weight',
      'region1.wormhole_B2_B1.gate.bias',
      'region2.wormhole_B4_B3.proj.weight',
      'region2.wormhole_B4_B3.gate.weight',
      'region2.wormhole_B4_B3.gate.bias',
    ]);
  });

  it('projects B2 (strided) onto B1 with a 2x2 stride-2 ConvTranspose and B4 onto B3 with a 1x1 conv; gates start closed', () => {
    const shape = (n: string) => built.params.find((p) => p.name === n)!.shape;
    expect(shape('region1.wormhole_B2_B1.proj.weight')).toEqual([32, 16, 2, 2]);
    expect(shape('region2.wormhole_B4_B3.proj.weight')).toEqual([32, 64, 1, 1]);
    expect(opTypes(built.graph).bodies).toContain('ConvTranspose');
    for (const p of built.params.filter((q) => q.name.endsWith('gate.bias'))) expect(new Set(p.value.toNumbers())).toEqual(new Set([-4]));
  });

  it('normalises per sample inside its regions: BatchNorm only in the stem, outside every Loop', () => {
    const { top, bodies } = opTypes(built.graph);
    expect(top.filter((t) => t === 'BatchNormalization')).toHaveLength(1);
    expect(bodies).not.toContain('BatchNormalization');
    expect(top.filter((t) => t === 'Loop')).toHaveLength(2);
  });
});

describe('the CIFAR-10 graphs', () => {
  it('are the MNIST ones at [B,3,32,32] with a full-resolution stem: both wormholes are ConvTranspose projections', () => {
    const built = buildInferenceGraph(cifarResnet);
    const shape = (n: string) => built.params.find((p) => p.name === n)!.shape;
    expect(shape('stem.conv.weight')).toEqual([16, 3, 3, 3]);
    expect(shape('region1.wormhole_B2_B1.proj.weight')).toEqual([32, 16, 2, 2]);
    expect(shape('region2.wormhole_B4_B3.proj.weight')).toEqual([64, 32, 2, 2]);
    expect(blockParams(cifarGnPlain)).toEqual(blockParams(cifarResnet).filter((p) => !p.startsWith('wormhole_')));
  });
});

describe('the baselines', () => {
  it('the same-blocks plain ResNet has exactly the TWNN\'s block parameters, without the wormholes', () => {
    const twnnBlocks = blockParams(twnnResnet).filter((p) => !p.startsWith('wormhole_'));
    expect(blockParams(gnPlain)).toEqual(twnnBlocks);
    expect(manifests.get('mnist-resnet-gn-plain')!.iterators).toEqual([]);
  });

  it('the deep plain ResNet has twice the basic blocks (8) and no regions', () => {
    const built = buildInferenceGraph(deepPlain);
    expect(built.params.filter((p) => /^B\d[ab]\.conv1\.weight$/.test(p.name))).toHaveLength(8);
    expect(manifests.get('mnist-resnet-deep-plain')!.iterators).toEqual([]);
    expect(built.graph.nodes.some((n) => n.opType === 'Loop')).toBe(false);
  });
});
