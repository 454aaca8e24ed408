// Every graphs/*.ts, end to end as a user meets it: `twnn build` writes the export
// folder, every .onnx in it passes onnx 1.12's checker (full_check + strict shape
// inference), and `twnn run` (onnxruntime-node) gives the same outputs as a second,
// independent runtime, onnxruntime-web (WASM), on the same input.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ortWeb from 'onnxruntime-web';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/index.js';
import { writeNpy } from '../../src/data/npy.js';
import type { Manifest } from '../../src/contract/manifest.js';
import { readModelFile } from '../../src/onnx/load.js';
import { twnn, REPO } from '../cli/run-cli.js';
import { expectOnnxValid } from '../helpers/onnx-checker.js';
import { randn, seededRandom } from '../helpers/rng.js';

ortWeb.env.wasm.numThreads = 1;
const graphs = readdirSync(resolve(REPO, 'graphs')).filter((f) => f.endsWith('.ts')).sort();
const root = mkdtempSync(join(tmpdir(), 'twnn-two-runtimes-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The roles each file's Loops play, per region: what `twnn inspect --json` must show for a TWNN. */
const ROLES: Record<string, string[]> = {
  'model.onnx': ['iterate'],
  'grad.onnx': ['iterate', 'adjoint'],
  'train.onnx': ['iterate', 'adjoint'],
  'train_steps.onnx': ['iterate', 'adjoint'],
  'jvp.onnx': ['iterate', 'tangent'],
};

/**
 * `twnn inspect --json` on every exported file: every Loop carries its config, named
 * `<region>/<role>` (under `steps/step/` inside train_steps.onnx's outer Loop), and
 * each region has the Loops its file needs.
 */
async function expectEveryLoopDescribed(out: string, files: readonly string[]): Promise<void> {
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as Manifest;
  const regions = manifest.iterators.map((c) => String(c.region));
  // Fixed-point correction: the training graphs' regions also find their intermediate iterates in a Loop of their own.
  const rolesOf = (file: string) => [...ROLES[file], ...(manifest.training?.fpCorrection && file.startsWith('train') ? ['fp_correction'] : [])];
  for (const file of files) {
    const r = await twnn(['inspect', join(out, file), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const loops = (JSON.parse(r.stdout) as { loops: { name: string; config?: { role?: string; region?: string } }[] }).loops;
    const prefix = file === 'train_steps.onnx' ? 'steps/step/' : '';
    for (const l of loops) {
      expect(l.config?.role, `${file}: Loop '${l.name}' has no config`).toBeTypeOf('string');
      if (l.config!.role === 'train_steps') continue;
      // Lazy compaction: a settling loop's working sets are swept by a Loop nested in it, named after it.
      if (l.config!.role === 'working_set') {
        const of = `${prefix}${l.config!.region!.split('.').join('/')}/${(l.config as { loop?: string }).loop}`;
        expect(l.name, file).toBe(`${of}/working_set`);
        expect(loops.map((o) => o.name), file).toContain(of);
        continue;
      }
      const own = `${l.config!.region!.split('.').join('/')}/${l.config!.role}`;
      expect(l.name, file).toBe(file === 'train_steps.onnx' ? `steps/step/${own}` : own);
    }
    const seen = loops.filter((l) => l.config?.region && l.config.role !== 'working_set').map((l) => `${l.config!.region}:${l.config!.role}`).sort();
    expect(seen, file).toEqual(regions.flatMap((region) => rolesOf(file).map((role) => `${region}:${role}`)).sort());
    if (file === 'train_steps.onnx') expect(loops.filter((l) => l.config?.role === 'train_steps')).toHaveLength(1);
    expectReadableLoopBodies(await readModelFile(join(out, file)), file, regions.length > 0);
  }
}

interface GraphLike {
  input?: { name?: string | null }[] | null;
  output?: { name?: string | null }[] | null;
  node?: { name?: string | null; opType?: string | null; attribute?: { g?: GraphLike | null }[] | null }[] | null;
}

/**
 * Readable in Netron (issue 12): every Loop body's inputs and outputs are named
 * after what they carry (`region1/iterate/B2.h`, `region1/adjoint/w.B2.h.next`,
 * `steps/region1.B1.conv1.weight`), never `carried_in_0`; a region's Loops carry
 * their wormhole sources by block name; a wormhole's nodes are scoped by the
 * blocks it joins (`region2/wormhole_B4_B3/gate/Conv_1`), never their positions.
 */
function expectReadableLoopBodies(model: { graph?: GraphLike | null }, file: string, hasRegions: boolean): void {
  const wormholeScopes = new Set<string>();
  const visit = (g: GraphLike) => {
    for (const n of g.node ?? []) {
      for (const m of String(n.name).matchAll(/\/(wormhole_[^/]+)\//g)) wormholeScopes.add(m[1]);
      for (const a of n.attribute ?? []) {
        if (!a.g) continue;
        const names = [...(a.g.input ?? []), ...(a.g.output ?? [])].map((v) => String(v.name));
        for (const name of names) expect(name, `${file}: Loop '${n.name}'`).not.toMatch(/\/(carried_(in|out)_\d+|scan_\d+)$/);
        if (/\/(iterate|adjoint|tangent)$/.test(String(n.name))) {
          expect(names.some((v) => /\/(w\.|tangent\.)?[^/]+\.h$/.test(v)), `${file}: Loop '${n.name}' carries its states by block name: ${names.join(', ')}`).toBe(true);
        }
        visit(a.g);
      }
    }
  };
  visit(model.graph!);
  expect(wormholeScopes.size > 0, `${file}: wormhole nodes found`).toBe(hasRegions);
  for (const scope of wormholeScopes) expect(scope, file).toMatch(/^wormhole_[A-Za-z][\w-]*_[A-Za-z][\w-]*$/);
}

describe.each(graphs)('graphs/%s', (file) => {
  it('builds, passes the checker, and runs alike in onnxruntime-node and onnxruntime-web', async () => {
    const out = join(root, file.replace(/\.ts$/, ''));
    const built = await twnn(['build', `graphs/${file}`, '--out', out, '--seed', '3', '--jvp']);
    expect(built.status, built.stderr).toBe(0);
    const onnxFiles = readdirSync(out).filter((f) => f.endsWith('.onnx')).sort();
    expect(onnxFiles).toEqual(['grad.onnx', 'jvp.onnx', 'model.onnx', 'train.onnx', 'train_steps.onnx']);
    expectOnnxValid(onnxFiles.map((f) => join(out, f)));
    await expectEveryLoopDescribed(out, onnxFiles);

    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as Manifest;
    const shape = manifest.inputs[0].shape.map((d) => (typeof d === 'number' ? d : 3));
    const n = shape.reduce((a, b) => a * b, 1);
    const x = Tensor.fromNumbers('float32', shape, randn(seededRandom(11), n));
    const xPath = join(out, 'x.npy');
    writeFileSync(xPath, writeNpy(x));
    const ran = await twnn(['run', join(out, 'model.onnx'), '--input', xPath, '--json']);
    expect(ran.status, ran.stderr).toBe(0);
    const node = JSON.parse(ran.stdout) as Record<string, { shape: number[]; data: unknown[] }>;

    const session = await ortWeb.InferenceSession.create(readFileSync(join(out, 'model.onnx')));
    const web = await session.run({ x: new ortWeb.Tensor('float32', x.data as Float32Array, shape) });
    expect(Object.keys(node).sort()).toEqual(Object.keys(web).sort());
    for (const [name, t] of Object.entries(web)) {
      const a = (node[name].data.flat(Infinity) as (number | string)[]).map(Number);
      const b = Array.from(t.data as ArrayLike<number | bigint>, Number);
      expect(node[name].shape, name).toEqual([...t.dims]);
      if (t.type === 'int64') {
        expect(a, name).toEqual(b); // sweep counts agree exactly
        continue;
      }
      // Same float32 maths up to kernel summation order: agreement to 1e-4 of the output's
      // scale. A residual is a difference of two sweeps' states, so its rounding error
      // scales with the states (~1e-7 relative of values ~10), not with the residual: 1e-5 absolute.
      const scale = Math.max(...b.map(Math.abs));
      const tol = name.startsWith('residual') ? 1e-5 : 1e-4 * scale;
      a.forEach((v, i) => expect(Math.abs(v - b[i]), `${name}[${i}]`).toBeLessThanOrEqual(tol));
    }
    await session.release();
  });
});
