// The iterator record's one codec: what lower writes is what every reader
// decodes, and the forms older exports wrote still read as what they meant.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeLoopRecord, encodeIteratorSettings, iteratorRecords, loopRecordsOf, solverFields } from '../../src/contract/iterator-record.js';
import { readManifestSync } from '../../src/contract/read-manifest.js';
import { buildInferenceGraph } from '../../src/lower/inference.js';
import { iteratorRecordsOf, loopMetadata } from '../../src/lower/fixed-point.js';
import { readModelFile } from '../../src/onnx/load.js';
import { regionLimits } from '../../src/runtime/guard.js';
import type { FixedPointConfig } from '../../src/twnn/iterator.js';
import { REPO } from '../cli/run-cli.js';
import { loadModelSpec } from '../../src/cli/graph-file.js';

const config: FixedPointConfig = {
  region: 'r', tol: 1e-4, maxIter: 50, minIter: 2, norm: 'rms',
  solver: { kind: 'anderson', history: 3, mixing: 0.5, regularization: 1e-6 },
  returnIterate: 'best', onMaxIter: 'error', backward: { mode: 'phantom', k: 4 },
  backwardTol: 1e-3, backwardMaxIter: 30, backwardNorm: 'relative', backwardSolver: { kind: 'plain' },
  jacobianPenalty: 0.1, sweeps: 'active', compactBelow: 0.5,
  wormholes: [{ from: 3, to: 1, gateBias: -4, projection: 'linear' }],
};

describe('iterator record', () => {
  it('encodes a config in export order, solvers with their settings, the backward one prefixed', () => {
    const r = encodeIteratorSettings(config);
    expect(Object.keys(r)).toEqual([
      'tol', 'maxIter', 'minIter', 'norm', 'solver', 'history', 'mixing', 'regularization', 'returnIterate', 'onMaxIter', 'wormholes',
      'backward', 'backwardTol', 'backwardMaxIter', 'backwardNorm', 'backwardSolver', 'jacobianPenalty', 'sweeps', 'compactBelow',
    ]);
    expect(r.backward).toBe('phantom:4');
    expect(solverFields(config.solver, 'backward')).toEqual({ backwardSolver: 'anderson', backwardHistory: 3, backwardMixing: 0.5, backwardRegularization: 1e-6 });
  });

  it('decodes what it encoded, through JSON, with every field typed', () => {
    const json = JSON.stringify({ role: 'iterate', region: 'r', ...encodeIteratorSettings(config), node: 'r/iterate' });
    const r = decodeLoopRecord(json);
    expect(r).toMatchObject({ role: 'iterate', region: 'r', node: 'r/iterate', tol: 1e-4, maxIter: 50, minIter: 2, norm: 'rms', solver: 'anderson', returnIterate: 'best', onMaxIter: 'error', backward: 'phantom:4', sweeps: 'active' });
    expect(r && 'wormholes' in r ? r.wormholes : undefined).toEqual([{ from: 3, to: 1, gateBias: -4, projection: 'linear' }]);
  });

  it("records a contractive region's bound, and writes nothing for an unconstrained one", () => {
    const r = decodeLoopRecord(JSON.stringify({ role: 'iterate', region: 'r', ...encodeIteratorSettings({ ...config, contractive: 0.9 }) }));
    expect(r).toMatchObject({ role: 'iterate', contractive: 0.9 });
    expect('contractive' in encodeIteratorSettings(config)).toBe(false);
    expect(decodeLoopRecord(JSON.stringify({ role: 'iterate', region: 'r', ...encodeIteratorSettings(config) }))).not.toHaveProperty('contractive');
  });

  it("reads older exports' forms as what they meant", () => {
    // Before the Loops were named by role: 'forward', and no onMaxIter, returnIterate or sweeps.
    expect(decodeLoopRecord({ role: 'forward', node: 'region1/Loop_209', region: 'region1', tol: 0.001, maxIter: 300 })).toMatchObject({
      role: 'iterate', region: 'region1', onMaxIter: 'warn', returnIterate: 'last', sweeps: 'dense', solver: 'plain', minIter: 1,
    });
    // The first exports: no role, and the region only as its Loop's name.
    expect(decodeLoopRecord({ node: 'region1/Loop_3', tol: 0.01, maxIter: 10 })).toMatchObject({ role: 'iterate', region: 'region1/Loop_3' });
  });

  it('keeps other Loops as records of their role, and skips what is not a record', () => {
    expect(decodeLoopRecord('{"role":"adjoint","region":"r","tol":0.001}')).toMatchObject({ role: 'adjoint', region: 'r' });
    for (const bad of ['not json', '[1,2]', '"text"', '{"region":"r"}', 'null', 42]) expect(decodeLoopRecord(bad), String(bad)).toBeUndefined();
    expect(iteratorRecords([{ role: 'iterate', region: 'r', tol: 'loose', maxIter: 3 }, { role: 'adjoint' }, 'x'])).toEqual([]);
  });

  it('reads the same records from a model\'s metadata and from its manifest', async () => {
    const dir = join(REPO, 'exported/paper/mnist-resnet');
    const fromMetadata = regionLimits(await readModelFile(join(dir, 'model.onnx')));
    const fromManifest = iteratorRecords(readManifestSync(join(dir, 'manifest.json')).iterators);
    expect(fromMetadata.map((r) => r.region)).toEqual(['region1', 'region2']);
    expect(fromManifest.map(({ region, tol, maxIter, onMaxIter, returnIterate }) => ({ region, tol, maxIter, onMaxIter, returnIterate }))).toEqual(fromMetadata);
  });

  it('lists each built region once in the manifest, as its metadata record', async () => {
    const spec = await loadModelSpec(join(REPO, 'graphs/mnist-resnet.ts'));
    const { graph } = buildInferenceGraph(spec, { regionOverrides: { sweeps: 'active', compactBelow: 0.5 } });
    const listed = iteratorRecordsOf(graph);
    expect(listed.map((r) => r.node)).toEqual(['region1/iterate', 'region2/iterate']);
    // Lazy compaction nests working-set Loops: they are in the metadata, not in the manifest's iterators.
    const records = loopRecordsOf(Object.entries(loopMetadata(graph)).map(([key, value]) => ({ key, value })));
    expect([...records.values()].map((r) => r.role)).toContain('working_set');
    for (const r of listed) expect(JSON.parse(loopMetadata(graph)[`twnn.loop:${r.node}`])).toEqual(r);
  });
});
