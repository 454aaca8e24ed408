// twnn as a package (issue 12): `npm pack`, install the tarball into a fresh
// project, and there, in plain node (no tsx): import it from .mjs, and from .ts
// checked by `tsc --strict` and compiled; build a TWNN, export it and run it;
// and run the CLI on a graph file of that project. The research lab (lab/:
// benchmarks, the paper and study runners, their run lists) stays out of it.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../cli/run-cli.js';

// Each test shells out (npm, tsc --strict, node): one took 68 s of a 60 s limit on a loaded CI machine
// (issue 23). Five times its quiet duration or more.
const PACKED_TEST_LIMIT = 300_000;

const root = mkdtempSync(join(tmpdir(), 'twnn-pack-'));
const project = join(root, 'consumer');
let packed: { filename: string; files: { path: string }[] };
afterAll(() => rmSync(root, { recursive: true, force: true }));

// Asynchronous: a step that blocks the test worker for over a minute (npm pack's build, tsc --strict on a
// loaded machine) starves vitest's own messages, which then fail the run with "Timeout calling onTaskUpdate".
const run = async (cmd: string, args: readonly string[], cwd: string): Promise<string> =>
  (await promisify(execFile)(cmd, [...args], { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })).stdout;

// The same model both ways: a region with a wormhole, exported and run on two samples.
const APP = (lang: 'ts' | 'js') => `import { defineModel, dense, exportModel, openSession, region, sequential, tanh, Tensor } from 'twnn';
const spec = defineModel({
  name: 'consumer',
  input: { shape: ['B', 4], dtype: 'float' },
  net: region({ blocks: [sequential(dense(4, 4), tanh()), sequential(dense(4, 4), tanh())], wormholes: [{ from: 2, to: 1 }] }),
});
const out${lang === 'ts' ? ': string' : ''} = process.argv[2];
await exportModel(spec, out);
const session = await openSession(out + '/model.onnx');
const result = await session.run({ x: Tensor.fromNumbers('float32', [2, 4], [1, 2, 3, 4, 5, 6, 7, 8]) });
console.log(JSON.stringify({ shape: result.y.shape, iterations: result.iterations.toNumbers() }));
await session.close();
`;

// A custom layer through the published surface: param, scope, graph, dtype, training, ops.
const LAYER = `import { init, ops, type BuildContext, type Module, type Value } from 'twnn';
export const scale = (n: number): Module => ({
  kind: 'scale',
  build: (ctx: BuildContext, x: Value) => ctx.scope('scale', () => ops.mul(ctx.graph, x, ctx.param('gain', [n], init.ones()))),
});
export const names = (ctx: BuildContext) => [ctx.dtype, ctx.training, ctx.scopeName, ctx.params.length];
`;

beforeAll(async () => {
  packed = JSON.parse(await run('npm', ['pack', '--json', '--pack-destination', root], REPO))[0];
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', type: 'module', private: true }));
  // onnxruntime-node's postinstall downloads CUDA libraries; the README says to skip it like this.
  writeFileSync(join(project, '.npmrc'), 'onnxruntime-node-install=skip\n');
  await run('npm', ['install', join(root, packed.filename), '--no-audit', '--no-fund', '--prefer-offline'], project);
}, 600_000);

describe('the packed tarball, installed into a fresh project', () => {
  it('ships the compiled package, not the repository', () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths).toContain('dist/index.js');
    expect(paths).toContain('dist/index.d.ts');
    expect(paths).toContain('bin/twnn.js');
    expect(paths.filter((p) => /^(src|lab|test|tools|graphs|exported|docs|\.ci)\//.test(p))).toEqual([]);
  }, PACKED_TEST_LIMIT);

  it('ships nothing of the lab: no benchmarks, runners or run lists', () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths.filter((p) => /^lab\/|^dist\/bench\/|bench|paper-runs|study-runs/.test(p))).toEqual([]);
    // Nor inlined into what does ship: the compiled library names none of the lab's exports.
    const dist = join(project, 'node_modules/twnn/dist');
    const files = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
    expect(files.length).toBeGreaterThan(50);
    expect(files.filter((f) => /PAPER_RUNS|STUDY_MODELS|benchPaper|benchStudy|BENCH_SUBCOMMANDS/.test(readFileSync(join(dist, f), 'utf8')))).toEqual([]);
  }, PACKED_TEST_LIMIT);

  it('imports from .mjs in plain node: builds, exports and runs a TWNN', async () => {
    writeFileSync(join(project, 'app.mjs'), APP('js'));
    const r = JSON.parse(await run(process.execPath, ['app.mjs', join(project, 'out-mjs')], project));
    expect(r.shape).toEqual([2, 4]);
    expect(r.iterations.every((n: number) => n >= 2)).toBe(true);
  }, PACKED_TEST_LIMIT);

  it('imports from .ts checked by tsc --strict, compiled and run in plain node', async () => {
    writeFileSync(join(project, 'app.ts'), `declare const process: { argv: string[] };\n${APP('ts')}`);
    const tsc = resolve(REPO, 'node_modules/typescript/bin/tsc');
    const check = async (args: string[]) => {
      try {
        return await run(process.execPath, args, project);
      } catch (err) {
        throw new Error(`tsc: ${(err as { stdout?: string }).stdout ?? ''}`);
      }
    };
    await check([tsc, '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--lib', 'es2022,dom', '--outDir', 'built', 'app.ts']);
    const r = JSON.parse(await run(process.execPath, ['built/app.js', join(project, 'out-ts')], project));
    expect(r.shape).toEqual([2, 4]);
    // The declarations are real types, not any: a wrong call does not compile.
    writeFileSync(join(project, 'bad.ts'), "import { dense } from 'twnn';\nexport const d = dense('4', 4);\n");
    await expect(check([tsc, '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--noEmit', 'bad.ts'])).rejects.toThrow(/TS2345/);
    // A layer author sees BuildContext's layer surface; twnn's own region hooks are not published.
    writeFileSync(join(project, 'layer.ts'), LAYER);
    await check([tsc, '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--noEmit', 'layer.ts']);
    writeFileSync(join(project, 'hooks.ts'), "import type { BuildContext } from 'twnn';\nexport const f = (ctx: BuildContext) => ctx.rebuild(() => ctx.scopePath);\n");
    await expect(check([tsc, '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--noEmit', 'hooks.ts'])).rejects.toThrow(/TS2339: Property 'rebuild' does not exist/);
  }, PACKED_TEST_LIMIT);

  it('runs the CLI on the project\'s own graph file', async () => {
    writeFileSync(join(project, 'g.ts'), "import { defineModel, dense } from 'twnn';\nexport default defineModel({ name: 'g', input: { shape: ['B', 3], dtype: 'float' }, net: dense(3, 2) });\n");
    const twnn = join(project, 'node_modules/.bin/twnn');
    expect((await run(twnn, ['--version'], project)).trim()).toBe(JSON.parse(readFileSync(resolve(REPO, 'package.json'), 'utf8')).version);
    expect(await run(twnn, ['build', 'g.ts', '-o', 'out-cli'], project)).toMatch(/^built g \(float32, opset 17, seed 0\)/);
  }, PACKED_TEST_LIMIT);

  it('ships the PyTorch twin and its torchrun trainer, and `train --engine torch` finds them', async () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths.filter((p) => p.startsWith('python/')).sort()).toEqual(['python/twnn_ddp.py', 'python/twnn_solvers.py', 'python/twnn_torch.py', 'python/twnn_torchrun.py']);
    writeFileSync(
      join(project, 'sine.ts'),
      "import { defineModel, dense, sequential, tanh } from 'twnn';\nexport default defineModel({ name: 'sine', input: { shape: ['B', 16], dtype: 'float' }, net: sequential(dense(16, 8), tanh(), dense(8, 1)), " +
        "task: { loss: 'mse', data: { kind: 'sine', window: 16, length: 400 }, train: { batch: 64 } } });\n",
    );
    const twnn = join(project, 'node_modules/.bin/twnn');
    const out = await run(twnn, ['train', 'sine.ts', '-o', 'out-torch', '--engine', 'torch', '--nproc-per-node', '2', '--limit-steps', '2', '--python', '/usr/bin/python3'], project);
    expect(out).toMatch(/trained sine: 2 steps/);
    expect(readFileSync(join(project, 'out-torch/metrics.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"step"'))).toHaveLength(2);
  }, PACKED_TEST_LIMIT);

  it('says that twnn bench runs from a checkout of the repository', async () => {
    const twnn = join(project, 'node_modules/.bin/twnn');
    expect(await run(twnn, ['--help'], project)).toMatch(/\n  bench \[args\.\.\.\]\s+benchmarks and reports: they run\s+from\s+a\s+checkout/);
    const r = spawnSync(twnn, ['bench', 'paper', '--no-memory'], { cwd: project, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^twnn: error: twnn bench: the benchmarks \(paper, study, stability, memory, solvers, torch, to-accuracy, budget\) run from a checkout of the twnn repository .*the installed package does not ship them\n$/);
  }, PACKED_TEST_LIMIT);
});
