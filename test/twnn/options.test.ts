// Misspelt and absurd options are build errors (issue 13, item 2): every
// region, iterate, wormhole, layer and model option object is checked key by
// key at run time (graph files run through tsx unchecked, or are JavaScript),
// naming the key and the one it probably meant; in TypeScript the same typo is
// already a compile error (excess-property checks), which the last test shows.
import { resolve } from 'node:path';
import { Project } from 'ts-morph';
import { describe, expect, it } from 'vitest';
import {
  avgPool2d, basicBlock, batchNorm2d, bottleneck, conv2d, defineModel, dense, groupNorm2d, maxPool2d, region, sequential, tanh,
  type IterateSpec, type RegionSpec, type WormholeSpec,
} from '../../src/index.js';
import { nearestKey } from '../../src/twnn/options.js';
import { REPO } from '../cli/run-cli.js';

const block = () => sequential(dense(4, 4), tanh());
const regionWith = (extra: Record<string, unknown>, iterate?: Record<string, unknown>, wormhole?: Record<string, unknown>) =>
  region({
    blocks: [block(), block()],
    wormholes: [{ from: 2, to: 1, ...wormhole } as WormholeSpec],
    ...(iterate ? { iterate: iterate as IterateSpec } : {}),
    ...(extra as Partial<RegionSpec>),
  });
const loose = <T>(v: Record<string, unknown>) => v as T;

describe('unknown option keys', () => {
  it.each([
    ['iterate', () => regionWith({}, { tol: 1e-3, maxiter: 5 }), "region: iterate: unknown option 'maxiter' (did you mean 'maxIter'?); allowed: tol, maxIter, minIter"],
    ['a wormhole', () => regionWith({}, undefined, { gatebias: 0 }), "region: wormhole #1: unknown option 'gatebias' (did you mean 'gateBias'?); allowed: from, to, gateBias, projection"],
    ['a region', () => regionWith({ backwards: 'unrolled' }), "region: unknown option 'backwards' (did you mean 'backward'?)"],
    ['dense', () => dense(4, 4, loose({ biass: false })), "dense: options: unknown option 'biass' (did you mean 'bias'?); allowed: bias"],
    ['conv2d', () => conv2d(1, 2, 3, loose({ pading: 1 })), "conv2d: options: unknown option 'pading' (did you mean 'padding'?)"],
    ['batchNorm2d', () => batchNorm2d(4, loose({ epsilon: 1e-3 })), "batchNorm2d: options: unknown option 'epsilon'; allowed: eps, momentum"],
    ['groupNorm2d', () => groupNorm2d(2, 4, loose({ fuse: false })), "groupNorm2d: options: unknown option 'fuse' (did you mean 'fused'?)"],
    ['maxPool2d', () => maxPool2d(2, loose({ strides: 2 })), "maxPool2d: options: unknown option 'strides' (did you mean 'stride'?)"],
    ['avgPool2d', () => avgPool2d(2, loose({ countIncludePadding: false })), "avgPool2d: options: unknown option 'countIncludePadding'"],
    ['basicBlock', () => basicBlock(4, 4, loose({ normalization: 'group' })), "basicBlock: options: unknown option 'normalization'; allowed: stride, norm, groups"],
    ['bottleneck', () => bottleneck(4, 4, loose({ Stride: 2 })), "bottleneck: options: unknown option 'Stride' (did you mean 'stride'?)"],
    ['defineModel', () => defineModel(loose({ name: 'm', input: { shape: ['B', 4] }, net: block(), tasks: {} })), "defineModel: unknown option 'tasks' (did you mean 'task'?)"],
    ['the model input', () => defineModel(loose({ name: 'm', input: { shape: ['B', 4], dtyp: 'float' }, net: block() })), "model 'm': input: unknown option 'dtyp' (did you mean 'dtype'?)"],
  ])('in %s are build errors naming the key and the one meant', (_what, make, message) => {
    expect(make).toThrow(message);
  });

  it('suggest only keys close enough to be typos', () => {
    expect(nearestKey('maxiters', ['tol', 'maxIter'])).toBe('maxIter');
    expect(nearestKey('MAXITER', ['tol', 'maxIter'])).toBe('maxIter');
    expect(nearestKey('tolerance', ['tol', 'maxIter'])).toBeUndefined();
    expect(nearestKey('colour', ['stride', 'padding'])).toBeUndefined();
  });

  it('and options that are not objects are refused', () => {
    expect(() => dense(4, 4, loose<never>(null as never))).toThrow('dense: options must be an object, got null');
    expect(() => regionWith({ iterate: 5 })).toThrow('region: iterate must be an object, got number');
  });
});

describe('absurd values', () => {
  it.each([
    ['2^53 sweeps', { maxIter: 2 ** 53 }, 'region: iterate.maxIter must be at most 2147483647 (2^31 - 1), got 9007199254740992'],
    ['1e300 sweeps (would wrap the int64 trip count)', { maxIter: 1e300 }, 'region: iterate.maxIter must be at most 2147483647'],
    ['a fractional count', { maxIter: 2.5 }, 'region: iterate.maxIter must be a positive integer, got 2.5'],
  ])('%s', (_what, iterate, message) => {
    expect(() => regionWith({}, iterate)).toThrow(message);
  });

  it.each([-0.1, 1.5, Number.NaN])('compactBelow %s (a fraction of a working set)', (compactBelow) => {
    expect(() => regionWith({ compactBelow })).toThrow(/region: compactBelow must be a finite number >= 0 and <= 1, got/);
  });

  it('backwardMaxIter too', () => {
    expect(() => regionWith({ backwardMaxIter: 2 ** 40 })).toThrow('region: backwardMaxIter must be at most 2147483647');
  });
});

describe('in TypeScript', () => {
  it('the same typos do not compile (excess-property checks on every option type)', () => {
    const project = new Project({ tsConfigFilePath: resolve(REPO, 'tsconfig.json'), skipAddingFilesFromTsConfig: true });
    const api = resolve(REPO, 'src/index.js');
    const file = project.createSourceFile(
      resolve(REPO, 'test/twnn/__typos.ts'),
      `import { dense, region, sequential, tanh } from '${api}';
const b = sequential(dense(4, 4), tanh());
export const r = region({ blocks: [b, b], wormholes: [{ from: 2, to: 1, gatebias: 0 }], iterate: { tol: 1e-3, maxiter: 5 } });
export const d = dense(4, 4, { biass: false });
`,
      { overwrite: true },
    );
    const messages = file.getPreEmitDiagnostics().map((d) => String(typeof d.getMessageText() === 'string' ? d.getMessageText() : (d.getMessageText() as { getMessageText(): string }).getMessageText()));
    expect(messages.some((m) => m.includes("'gatebias' does not exist in type 'WormholeSpec'"))).toBe(true);
    expect(messages.some((m) => m.includes("'maxiter' does not exist in type 'IterateSpec'"))).toBe(true);
    expect(messages.some((m) => m.includes("'biass' does not exist in type 'DenseOptions'"))).toBe(true);
  });
});
