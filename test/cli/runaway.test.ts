// Runaway foreign models (issue 13, item 5): a Loop whose trip count is
// astronomically large (or absent) would hang `run` and `eval` forever.
// `inspect` flags such Loops; `--timeout` gives up, says so, and ends the
// process (onnxruntime cannot cancel a running session otherwise).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectUserError, python, REPO, TWNN, twnn } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'twnn-runaway-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const huge = join(dir, 'huge.onnx');
const none = join(dir, 'none.onnx');
const x = join(dir, 'x.json');

// x [1] counts up in a Loop: trip count 10^12 (huge.onnx) or none at all (none.onnx).
const MAKE = `
import sys, onnx
from onnx import helper as h, TensorProto as T
body = h.make_graph(
  [h.make_node('Identity', ['cond_in'], ['cond_out']), h.make_node('Add', ['x_in', 'one'], ['x_out'])],
  'body',
  [h.make_tensor_value_info('i', T.INT64, []), h.make_tensor_value_info('cond_in', T.BOOL, []), h.make_tensor_value_info('x_in', T.FLOAT, [1])],
  [h.make_tensor_value_info('cond_out', T.BOOL, []), h.make_tensor_value_info('x_out', T.FLOAT, [1])],
  [h.make_tensor('one', T.FLOAT, [1], [1.0])])
for path, m in ((sys.argv[1], 'M'), (sys.argv[2], '')):
  g = h.make_graph([h.make_node('Loop', [m, 'cond', 'x'], ['y'], name='spin', body=body)], 'runaway',
    [h.make_tensor_value_info('x', T.FLOAT, [1])], [h.make_tensor_value_info('y', T.FLOAT, [1])],
    [h.make_tensor('M', T.INT64, [], [10**12]), h.make_tensor('cond', T.BOOL, [], [True])])
  model = h.make_model(g, opset_imports=[h.make_opsetid('', 17)], producer_name='elsewhere')
  model.ir_version = 8
  onnx.checker.check_model(model)
  onnx.save(model, path)
`;

beforeAll(() => {
  python(MAKE, [huge, none]);
  python(`import json; json.dump({'x': [0.0]}, open(${JSON.stringify(x)}, 'w'))`);
});

describe('a Loop without a finite bound', () => {
  it('is flagged by inspect, as text and as JSON', async () => {
    const text = await twnn(['inspect', huge]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toContain('UNBOUNDED: trip count 1000000000000');
    expect(text.stdout).toMatch(/warnings \(1\)[\s\S]*Loop 'spin'.*has trip count 1000000000000; it may never finish \(run and eval take --timeout\)/);
    const json = JSON.parse((await twnn(['inspect', none, '--json'])).stdout) as { loops: { name: string; bound: string }[] };
    expect(json.loops).toMatchObject([{ name: 'spin', bound: 'none' }]);
    expect((await twnn(['inspect', none])).stdout).toContain('has no trip count: only its condition stops it');
  });

  it("is not flagged in twnn's own exports", async () => {
    const out = join(dir, 'sine');
    expect((await twnn(['build', join(REPO, 'graphs/sine.ts'), '--out', out])).status).toBe(0);
    const json = JSON.parse((await twnn(['inspect', join(out, 'model.onnx'), '--json'])).stdout) as { loops: { bound: string }[] };
    // The trip count is the max_iter.<region> budget input (issue 24): set at run time, not flagged.
    expect(json.loops.map((l) => l.bound)).toEqual(['run time']);
    const text = (await twnn(['inspect', join(out, 'model.onnx')])).stdout;
    expect(text).toContain('trip count set at run time');
    expect(text).not.toMatch(/UNBOUNDED|may never finish/);
    // Under --timeout a model that finishes in time prints what it would without it.
    const sineX = join(dir, 'sine-x.json');
    python(`import json, math; json.dump([[math.sin(i / 3) for i in range(16)]], open(${JSON.stringify(sineX)}, 'w'))`);
    const plain = await twnn(['run', join(out, 'model.onnx'), '--input', sineX, '--json']);
    const timed = await twnn(['run', join(out, 'model.onnx'), '--input', sineX, '--json', '--timeout', '120']);
    expect(timed.status, timed.stderr).toBe(0);
    expect(timed.stdout).toBe(plain.stdout);
    const evaluated = await twnn(['eval', join(out, 'model.onnx'), '--timeout', '120']);
    expect(evaluated.status, evaluated.stderr).toBe(0);
    expect(evaluated.stdout).toContain('on sine/test (mse)');
  });

  it('stops run with --timeout, saying so, instead of hanging', async () => {
    const started = performance.now();
    const r = await twnn(['run', huge, '--input', x, '--timeout', '1.5']);
    expectUserError(r, `${huge}: did not finish within --timeout 1.5 s; stopped (a Loop may iterate without bound: see twnn inspect)`);
    expect(performance.now() - started).toBeLessThan(30_000);
  });

  it('rejects a --timeout that is not a positive number', async () => {
    expectUserError(await twnn(['run', huge, '--input', x, '--timeout', '0']), '--timeout expects a positive number');
  });

  // Issue 23, item 6: the child that runs the model under --timeout never outlives the command.
  it.each(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGKILL'] as const)('stops the spinning child when the command gets %s', async (signal) => {
    const parent = spawn(process.execPath, [TWNN, 'run', huge, '--input', x, '--timeout', '120'], { cwd: REPO, stdio: 'ignore' });
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const childOf = (pid: number): number | undefined => Number(spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout.trim().split('\n')[0]) || undefined;
    let child: number | undefined;
    for (let waited = 0; child === undefined && waited < 30_000; waited += 100) {
      await new Promise((r) => setTimeout(r, 100));
      child = childOf(parent.pid!);
    }
    expect(child, 'the supervised child started').toBeDefined();
    await new Promise((r) => setTimeout(r, 1500)); // well inside the Loop
    expect(alive(child!)).toBe(true);
    parent.kill(signal);
    for (let waited = 0; alive(child!) && waited < 10_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
    const survived = alive(child!);
    if (survived) process.kill(child!, 'SIGKILL');
    expect(survived, `child ${child} still running after the command got ${signal}`).toBe(false);
  }, 60_000);

  // The race a loaded CI run hit: the parent was SIGKILLed while the child still loaded its modules,
  // so the ppid the child read was already the reaper's. A child whose parent (as the parent itself
  // told it) is already gone when it starts must stop, not spin.
  it('stops a supervised child whose parent was gone before it started watching', async () => {
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const orphan = spawn(process.execPath, [TWNN, 'run', huge, '--input', x, '--timeout', '120'], { cwd: REPO, stdio: 'ignore', env: { ...process.env, TWNN_SUPERVISED: gone.stdout } });
    const status = await new Promise<string | number | null>((done) => {
      const stop = setTimeout(() => {
        orphan.kill('SIGKILL');
        done('still running after 30 s');
      }, 30_000);
      orphan.on('exit', (code, signal) => {
        clearTimeout(stop);
        done(signal ?? code);
      });
    });
    expect(status).toBe('SIGKILL');
  }, 60_000);
});

