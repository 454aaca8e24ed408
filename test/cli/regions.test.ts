// Fixed-point regions through the CLI: `twnn build graphs/mnist-mlp.ts --jvp`,
// `twnn inspect` showing region1's Loop (tol, maxIter, wormhole), `twnn run`
// printing per-sample sweep counts, running jvp.onnx, and the diagnostics of
// run and eval (samples that ran out of sweeps: a warning, or an error where
// iterate.onMaxIter is 'error'; an error for a diverged one).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMnist } from '../../src/data/mnist.js';
import { loadSine } from '../../src/data/sine.js';
import { openSession } from '../../src/runtime/session.js';
import { expectOnnxValid } from '../helpers/onnx-checker.js';
import { expectUserError, python, REPO, twnn } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-regions-'));
writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const out = join(dir, 'mnist-mlp');
const BATCH = 8;
let images: number[][];

/** The values `twnn run` prints under `name: dtype [shape]`, parsed back. */
function printedValues(stdout: string, name: string): unknown {
  const start = stdout.indexOf(`\n${name}: `) + 1 || (stdout.startsWith(`${name}: `) ? 0 : -1);
  expect(start, `no output '${name}' in:\n${stdout}`).toBeGreaterThanOrEqual(0);
  const block = stdout.slice(stdout.indexOf('\n', start) + 1).split(/\n(?=\S)/)[0];
  return JSON.parse(block);
}

interface JsonOutput {
  dtype: string;
  shape: number[];
  data: unknown;
}

beforeAll(async () => {
  const r = await twnn(['build', join(REPO, 'graphs/mnist-mlp.ts'), '--out', out, '--jvp']);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toContain(join(out, 'jvp.onnx'));
  const test = await loadMnist({ split: 'test', layout: 'flat', limit: BATCH });
  const x = test.x.toNumbers();
  images = Array.from({ length: BATCH }, (_, b) => x.slice(b * 784, (b + 1) * 784));
  writeFileSync(join(dir, 'x.json'), JSON.stringify(images));
});

describe('inspect shows the region Loop of graphs/mnist-mlp.ts', () => {
  it('as text: region1 with tol 0.001, maxIter 300, wormhole 3→1', async () => {
    const r = await twnn(['inspect', join(out, 'model.onnx')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/loops \(1\)\n\s+region1\/iterate\s+depth 0\s+body \d+ nodes\s+trip count set at run time\s+region region1\s+tol 0\.001\s+maxIter 300\s+.*wormholes 3→1 \(gate bias -4\)/);
  });

  it('as JSON: the same config', async () => {
    const r = await twnn(['inspect', join(out, 'model.onnx'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const { loops } = JSON.parse(r.stdout);
    expect(loops).toHaveLength(1);
    expect(loops[0].name).toBe('region1/iterate');
    expect(loops[0].config).toMatchObject({ role: 'iterate', region: 'region1', tol: 0.001, maxIter: 300, wormholes: [{ from: 3, to: 1, gateBias: -4 }], backward: 'implicit' });
  });
});

describe('build --sweeps overrides every region\'s sweeps', () => {
  it('dense: every Loop of model.onnx and grad.onnx says so, and gives the active form\'s outputs', async () => {
    const dense = join(dir, 'dense');
    const r = await twnn(['build', join(REPO, 'graphs/mnist-mlp.ts'), '--out', dense, '--sweeps', 'dense']);
    expect(r.status, r.stderr).toBe(0);
    for (const file of ['model.onnx', 'grad.onnx']) {
      const { loops } = JSON.parse((await twnn(['inspect', join(dense, file), '--json'])).stdout) as { loops: { config: { sweeps: string } }[] };
      expect(loops.length).toBeGreaterThan(0);
      for (const l of loops) expect(l.config.sweeps, file).toBe('dense');
    }
    const { loops } = JSON.parse((await twnn(['inspect', join(out, 'model.onnx'), '--json'])).stdout) as { loops: { config: { sweeps: string } }[] };
    expect(loops[0].config.sweeps).toBe('active');
    const [a, b] = [join(out, 'model.onnx'), join(dense, 'model.onnx')].map(async (m) => JSON.parse((await twnn(['run', m, '--input', join(dir, 'x.json'), '--json'])).stdout));
    const [active, denseOut] = await Promise.all([a, b]);
    expect(denseOut.iterations).toEqual(active.iterations);
    const [yDense, yActive] = [denseOut.y.data.flat(Infinity) as number[], active.y.data.flat(Infinity) as number[]];
    expect(yDense.length).toBe(BATCH * 10);
    yDense.forEach((v, i) => expect(v).toBeCloseTo(yActive[i], 5));
  });

  it('--compact-below: the Loops sweep working sets (lazy compaction), with the same outputs; a value outside [0, 1] is refused', async () => {
    const lazy = join(dir, 'lazy');
    const r = await twnn(['build', join(REPO, 'graphs/mnist-mlp.ts'), '--out', lazy, '--compact-below', '0.5']);
    expect(r.status, r.stderr).toBe(0);
    const { loops } = JSON.parse((await twnn(['inspect', join(lazy, 'model.onnx'), '--json'])).stdout) as { loops: { name: string; config?: { compactBelow: number } }[] };
    expect(loops.map((l) => l.name)).toEqual(['region1/iterate', 'region1/iterate/working_set']);
    expect(loops[0].config?.compactBelow).toBe(0.5);
    const [a, b] = [join(out, 'model.onnx'), join(lazy, 'model.onnx')].map(async (m) => JSON.parse((await twnn(['run', m, '--input', join(dir, 'x.json'), '--json'])).stdout));
    const [eager, lazyOut] = await Promise.all([a, b]);
    expect(lazyOut.iterations).toEqual(eager.iterations);
    const [yLazy, yEager] = [lazyOut.y.data.flat(Infinity) as number[], eager.y.data.flat(Infinity) as number[]];
    yLazy.forEach((v, i) => expect(v).toBeCloseTo(yEager[i], 5));
    const bad = await twnn(['build', join(REPO, 'graphs/mnist-mlp.ts'), '--out', join(dir, 'bad'), '--compact-below', '2']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--compact-below expects a number from 0 to 1/);
  });

  it('refuses another mode, naming the choices', async () => {
    const r = await twnn(['build', join(REPO, 'graphs/mnist-mlp.ts'), '--out', join(dir, 'bad'), '--sweeps', 'lazy']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--sweeps.*lazy.*active, dense/s);
  });
});

describe('run prints per-sample iterations', () => {
  it('as the iterations output and as a per-region line, agreeing with --json', async () => {
    const text = await twnn(['run', join(out, 'model.onnx'), '--input', join(dir, 'x.json')]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stderr).toBe('');
    expect(text.stdout).toMatch(new RegExp(`\\niterations: int64 \\[${BATCH}\\]\\n`));
    const printed = printedValues(text.stdout, 'iterations') as number[];
    const json = await twnn(['run', join(out, 'model.onnx'), '--input', join(dir, 'x.json'), '--json']);
    expect(json.status, json.stderr).toBe(0);
    const outputs = JSON.parse(json.stdout) as Record<string, JsonOutput>;
    const iterations = outputs.iterations.data as number[];
    expect(printed).toEqual(iterations);
    expect(iterations).toHaveLength(BATCH);
    // The first sweep is the plain network and the second its check: every sample ran at least two.
    for (const n of iterations) expect(n >= 2 && n <= 300).toBe(true);
    const line = `region1: sweeps per sample [${iterations.join(', ')}] (min ${Math.min(...iterations)}, max ${Math.max(...iterations)}; tol 0.001, maxIter 300)`;
    expect(text.stdout.trimEnd().split('\n').pop()).toBe(line);
    // With --json, stdout is only the JSON; the line goes to stderr.
    expect(json.stderr).toBe(`${line}\n`);
    // Settled samples: residual <= tol.
    for (const r of outputs.residual.data as number[]) expect(r).toBeLessThanOrEqual(1e-3);
  });
});

describe('build --jvp', () => {
  it('writes jvp.onnx with inputs x, x_dot and outputs y, y_dot, listed in the manifest; the checker accepts it', async () => {
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(Object.keys(manifest.files)).toContain('jvp.onnx');
    expect(manifest.graphs['jvp.onnx'].inputs).toEqual([
      { name: 'x', dtype: 'float32', shape: ['B', 784] },
      { name: 'x_dot', dtype: 'float32', shape: ['B', 784] },
    ]);
    expect(manifest.graphs['jvp.onnx'].outputs.map((o: { name: string }) => o.name)).toEqual(['y', 'y_dot', 'iterations', 'residual', 'unsettled', 'iterations_tangent']);
    expectOnnxValid(join(out, 'jvp.onnx'));
  });

  it('runs from a JSON holding x and x_dot: y as model.onnx gives it, y_dot linear in x_dot', async () => {
    // Samples 0-2 share one image; x_dot is v, 2v and 0.
    const v = images[1].map((_, i) => Math.sin(i));
    writeFileSync(join(dir, 'jvp.json'), JSON.stringify({ x: [images[0], images[0], images[0]], x_dot: [v, v.map((e) => 2 * e), v.map(() => 0)] }));
    writeFileSync(join(dir, 'x0.json'), JSON.stringify([images[0]]));
    const r = await twnn(['run', join(out, 'jvp.onnx'), '--input', join(dir, 'jvp.json'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout) as Record<string, JsonOutput>;
    expect(Object.keys(o)).toEqual(['y', 'y_dot', 'iterations', 'residual', 'unsettled', 'iterations_tangent']);
    expect(o.y_dot.shape).toEqual([3, 10]);
    const model = JSON.parse((await twnn(['run', join(out, 'model.onnx'), '--input', join(dir, 'x0.json'), '--json'])).stdout) as Record<string, JsonOutput>;
    const y = o.y.data as number[][];
    const yModel = (model.y.data as number[][])[0];
    y.forEach((row) => row.forEach((e, k) => expect(Math.abs(e - yModel[k])).toBeLessThan(1e-6)));
    const [d1, d2, d0] = o.y_dot.data as number[][];
    const scale = Math.max(...d1.map(Math.abs));
    expect(scale).toBeGreaterThan(1e-4);
    // The tangent loop stops at its tolerance per sample, so 2v's tangent is 2x v's up to that.
    d1.forEach((e, k) => expect(Math.abs(d2[k] - 2 * e)).toBeLessThan(1e-3 * scale));
    expect(d0).toEqual(d0.map(() => 0));
  });
});

/**
 * A graph file of 3 inputs through a bias-free region with an open gate (bias 4):
 * a zero row stays at the fixed point 0 (residual exactly 0), larger rows keep
 * moving, so a small maxIter leaves them unsettled.
 */
function openGateGraph(o: { name: string; iterate: string; outputs: number; task?: string }): string {
  return `import { defineModel, dense, region, sequential, tanh } from ${JSON.stringify(pathToFileURL(join(REPO, 'src/index.ts')).href)};
const block = () => sequential(dense(4, 4, { bias: false }), tanh());
export default defineModel({
  name: '${o.name}',
  input: { shape: ['B', 3] },
  net: sequential({
    stem: dense(3, 4, { bias: false }),
    region1: region({ blocks: [block(), block()], wormholes: [{ from: 2, to: 1, gateBias: 4 }], iterate: ${o.iterate} }),
    head: dense(4, ${o.outputs}, { bias: false }),
  }),${o.task ? `\n  task: ${o.task},` : ''}
});
`;
}

describe('run diagnostics', () => {
  // No biases anywhere: x = 0 stays at the fixed point 0 (residual exactly 0). With open gates and maxIter 2,
  // a large input's sources still move on the second sweep.
  const GRAPH = openGateGraph({ name: 'unsettled', iterate: '{ tol: 1e-3, maxIter: 2 }', outputs: 2 });
  const model = join(dir, 'unsettled/model.onnx');

  beforeAll(async () => {
    writeFileSync(join(dir, 'unsettled.ts'), GRAPH);
    const r = await twnn(['build', join(dir, 'unsettled.ts'), '--out', join(dir, 'unsettled')]);
    expect(r.status, r.stderr).toBe(0);
  });

  it('warns (stderr, exit 0) naming the region and the samples that hit maxIter without settling', async () => {
    writeFileSync(join(dir, 'mixed.json'), JSON.stringify([[0, 0, 0], [2, -1, 0.5], [0, 0, 0], [-3, 1, 2]]));
    const r = await twnn(['run', model, '--input', join(dir, 'mixed.json')]);
    expect(r.status, r.stderr).toBe(0);
    expect(printedValues(r.stdout, 'iterations')).toEqual([2, 2, 2, 2]);
    const residual = printedValues(r.stdout, 'residual') as number[];
    expect(residual[0]).toBe(0);
    expect(residual[1]).toBeGreaterThan(1e-3);
    expect(r.stdout).toContain('region1: sweeps per sample [2, 2, 2, 2] (min 2, max 2; tol 0.001, maxIter 2)');
    // Sample 0 and 2 also ran maxIter sweeps, but settled: no warning for them.
    expect(r.stderr).toBe(
      `twnn: warning: ${model}: region 'region1' ran all maxIter 2 sweeps without settling (residual > tol 0.001) for samples 1, 3 (2 of 4); ` +
        'their outputs are their best iterates (lowest residual), not fixed points\n',
    );
  });

  it('fails (exit 2) on a NaN input, naming the input and the element rather than blaming the fixed point (issue 13)', async () => {
    // A NaN sample used to come back as "region 'region1' diverged"; the diverging-residual guard
    // itself (checkFixedPoint) is tested in test/lower/fixed-point.test.ts.
    const file = join(dir, 'nan.npy');
    python('import numpy as np, sys\nnp.save(sys.argv[1], np.array([[0, 0, 0], [np.nan, 1, 0]], dtype=np.float32))', [file]);
    const r = await twnn(['run', model, '--input', file]);
    expectUserError(r, `${file}: input 'x' holds NaN at [1,0]; the model needs finite inputs`);
    expect(r.stdout).toBe('');
  });
});

describe("unsettled samples under iterate.onMaxIter 'warn' and 'error'", () => {
  // As above, on sine windows of 3: tol 1e-12 is out of a float32 residual's reach in 5 sweeps, so every sample
  // but a zero row (residual exactly 0) runs out of sweeps.
  const graph = (onMaxIter: 'warn' | 'error') =>
    openGateGraph({
      name: `stuck-${onMaxIter}`,
      iterate: `{ tol: 1e-12, maxIter: 5, onMaxIter: '${onMaxIter}' }`,
      outputs: 1,
      task: "{ loss: 'mse', data: { kind: 'sine', window: 3, length: 60 } }",
    });
  const modelOf = (onMaxIter: string) => join(dir, `stuck-${onMaxIter}/model.onnx`);
  // The test split as eval reads it, and its size.
  const test = loadSine({ window: 3, length: 60 }, 'test');
  const n = test.x.shape[0];
  const all = Array.from({ length: n }, (_, i) => i);
  const listed = `samples ${all.slice(0, 10).join(', ')}, ... (${n} in all)`;

  beforeAll(async () => {
    writeFileSync(join(dir, 'rows.json'), JSON.stringify([[0, 0, 0], [2, -1, 0.5], [0, 0, 0], [-3, 1, 2]]));
    for (const policy of ['warn', 'error']) {
      writeFileSync(join(dir, `stuck-${policy}.ts`), graph(policy as 'warn' | 'error'));
      const r = await twnn(['build', join(dir, `stuck-${policy}.ts`), '--out', join(dir, `stuck-${policy}`)]);
      expect(r.status, r.stderr).toBe(0);
    }
    // Check the premise on the model itself: every test window ran all 5 sweeps and stayed above tol.
    const session = await openSession(modelOf('warn'));
    try {
      const out = await session.run({ x: test.x });
      expect(out.iterations.toNumbers()).toEqual(all.map(() => 5));
      for (const r of out.residual.toNumbers()) expect(r > Math.fround(1e-12) && Number.isFinite(r)).toBe(true);
    } finally {
      await session.close();
    }
  });

  it("run, 'warn': exit 0, the outputs, and a warning naming the samples and what they returned", async () => {
    const model = modelOf('warn');
    const r = await twnn(['run', model, '--input', join(dir, 'rows.json')]);
    expect(r.status, r.stderr).toBe(0);
    expect(printedValues(r.stdout, 'iterations')).toEqual([2, 5, 2, 5]);
    expect(r.stderr).toBe(
      `twnn: warning: ${model}: region 'region1' ran all maxIter 5 sweeps without settling (residual > tol 1e-12) for samples 1, 3 (2 of 4); ` +
        'their outputs are their best iterates (lowest residual), not fixed points\n',
    );
  });

  it("run, 'error': exit 2 with one line naming the model, region, samples, maxIter, tol and the remedies; no outputs", async () => {
    const model = modelOf('error');
    const r = await twnn(['run', model, '--input', join(dir, 'rows.json')]);
    expectUserError(
      r,
      `${model}: region 'region1' ran all maxIter 5 sweeps without settling (residual > tol 1e-12) for samples 1, 3 (2 of 4); ` +
        "iterate.onMaxIter is 'error' for region 'region1': raise iterate.maxIter, loosen iterate.tol, or set iterate.onMaxIter: 'warn' to accept such outputs",
    );
    expect(r.stdout).toBe('');
    // The zero rows alone settle: no error.
    writeFileSync(join(dir, 'zeros.json'), JSON.stringify([[0, 0, 0]]));
    const ok = await twnn(['run', model, '--input', join(dir, 'zeros.json')]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toBe('');
  });

  it("eval, 'warn': after the loss and sweeps, a line with the count and the data-set indices; exit 0", async () => {
    const model = modelOf('warn');
    const r = await twnn(['eval', model]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^${model.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} on sine/test \\(mse\\): loss \\S+ on ${n} examples$`));
    expect(lines[1]).toBe('iterations: mean 5.00, max 5');
    expect(lines[2]).toBe(
      `region1: ${n} of ${n} samples ran all maxIter 5 sweeps without settling (residual > tol 1e-12): ${listed}; ` +
        'their outputs are their best iterates (lowest residual), not fixed points',
    );
  });

  it("eval, 'error': the same lines, then exit 2 with the full count once the split is evaluated", async () => {
    const model = modelOf('error');
    const r = await twnn(['eval', model]);
    expectUserError(
      r,
      `${model} on sine/test: region 'region1' ran all maxIter 5 sweeps without settling (residual > tol 1e-12) for ${listed} (${n} of ${n}); ` +
        "iterate.onMaxIter is 'error' for region 'region1'",
    );
    const lines = r.stdout.split('\n');
    expect(lines[2]).toMatch(new RegExp(`^region1: ${n} of ${n} samples ran all maxIter 5 sweeps`));
    // The task report (free-running generation) is not run on a model that failed its onMaxIter.
    expect(lines).toHaveLength(4);
  });
});
