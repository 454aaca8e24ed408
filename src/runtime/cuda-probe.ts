// Does the CUDA EP really load and compute? Two tiny in-memory models (a
// MatMul+Tanh, which needs only cuBLAS, and a Conv, which needs cuDNN) are run
// on a GPU in a child process: onnxruntime writes the real dlopen error to its
// log on stderr, not into the exception, so the child's stderr is captured and
// parsed; and a provider that aborts takes only the child down.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Graph, Tensor } from '../ir/index.js';
import { serializeModel } from '../onnx/serialize.js';
import { conv2d, matmul, tanh } from '../ops/index.js';
import { oneLine } from './device.js';
import { parseOrtLoadError, stripAnsi, type OrtLoadError } from './cuda.js';

/** A probe model: its bytes, its input and the output a correct run gives. */
export interface ProbeModel {
  name: string;
  /** What a failure of this model means. */
  needs: string;
  bytes: Uint8Array;
  input: { shape: number[]; data: number[] };
  expected: number[];
}

/** One probe model's outcome. */
export interface ProbeCase {
  name: string;
  needs: string;
  ok: boolean;
  /** max |cuda - expected| when it ran. */
  maxAbsDiff?: number;
  /** onnxruntime's message when it failed (one line). */
  error?: string;
}

/** What `probeCudaSession` found. */
export interface CudaProbe {
  deviceId: number;
  cases: ProbeCase[];
  /** The dlopen failure onnxruntime logged, if any. */
  loadError?: OrtLoadError;
  /** The child failed as a whole (crash, timeout): why. */
  failure?: string;
}

/**
 * The probe models: `y = tanh(x·W)` for x [2,3], and a 3x3 Conv with padding
 * on a [1,1,4,4] image (2 output channels). Expected outputs are computed here in float64.
 *
 * @example probeModels()[0].name // 'matmul'
 */
export function probeModels(): ProbeModel[] {
  const x = [0.5, -1, 2, 0, 0.25, -0.75];
  const w = [1, -0.5, 0.25, 2, -1, 0.75];
  const mm = new Graph('twnn_cuda_probe_matmul');
  const mx = mm.input('x', 'float32', [2, 3]);
  mm.output('y', tanh(mm, matmul(mm, mx, mm.initializer('w', Tensor.fromNumbers('float32', [3, 2], w)))));
  const mmExpected: number[] = [];
  for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) mmExpected.push(Math.tanh(x[i * 3] * w[j] + x[i * 3 + 1] * w[2 + j] + x[i * 3 + 2] * w[4 + j]));

  const image = Array.from({ length: 16 }, (_, i) => (i % 5) - 2 + i / 8);
  const kernel = Array.from({ length: 18 }, (_, i) => ((i * 7) % 11) / 10 - 0.5);
  const cv = new Graph('twnn_cuda_probe_conv');
  const cx = cv.input('x', 'float32', [1, 1, 4, 4]);
  cv.output('y', conv2d(cv, cx, cv.initializer('w', Tensor.fromNumbers('float32', [2, 1, 3, 3], kernel)), undefined, { pads: [1, 1, 1, 1] }));
  const cvExpected: number[] = [];
  for (let m = 0; m < 2; m++) {
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 4; c++) {
        let s = 0;
        for (let i = 0; i < 3; i++) {
          for (let j = 0; j < 3; j++) {
            const rr = r + i - 1;
            const cc = c + j - 1;
            if (rr >= 0 && rr < 4 && cc >= 0 && cc < 4) s += image[rr * 4 + cc] * kernel[m * 9 + i * 3 + j];
          }
        }
        cvExpected.push(s);
      }
    }
  }
  return [
    { name: 'matmul', needs: 'cuBLAS', bytes: serializeModel(mm), input: { shape: [2, 3], data: x }, expected: mmExpected },
    { name: 'conv', needs: 'cuDNN', bytes: serializeModel(cv), input: { shape: [1, 1, 4, 4], data: image }, expected: cvExpected },
  ];
}

/**
 * The child's program: create a session per model on the CUDA EP only, run
 * it, and print one JSON line per model. Plain JavaScript, so the child needs
 * no TypeScript loader.
 */
const CHILD = `
const [ortUrl, deviceId, spec] = process.argv.slice(1);
const ort = await import(ortUrl);
const models = JSON.parse(spec);
for (const m of models) {
  try {
    const session = await ort.InferenceSession.create(m.path, { executionProviders: [{ name: 'cuda', deviceId: Number(deviceId) }] });
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from(m.input.data), m.input.shape) });
    console.log(JSON.stringify({ name: m.name, ok: true, y: Array.from(out.y.data) }));
    await session.release();
  } catch (err) {
    console.log(JSON.stringify({ name: m.name, ok: false, error: String(err && err.message || err) }));
    // A provider that failed to load fails every later model the same way.
    if (/Failed to load/.test(String(err && err.message))) break;
  }
}
`;

/**
 * Create CUDA sessions for the probe models on GPU `deviceId` in a child node
 * process and report what ran, what failed, and the dlopen error onnxruntime
 * logged. Never throws for a CUDA failure: that is what it reports.
 *
 * @example
 * const probe = await probeCudaSession(0);
 * probe.cases[0].ok // true where the CUDA EP works
 */
export async function probeCudaSession(deviceId: number, options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CudaProbe> {
  const models = probeModels();
  const dir = mkdtempSync(join(tmpdir(), 'twnn-cuda-probe-'));
  try {
    const spec = models.map((m) => {
      const path = join(dir, `${m.name}.onnx`);
      writeFileSync(path, m.bytes);
      return { name: m.name, path, input: m.input };
    });
    const ortUrl = pathToFileURL(createRequire(import.meta.url).resolve('onnxruntime-node')).href;
    const child = await runChild([ortUrl, String(deviceId), JSON.stringify(spec)], options.timeoutMs ?? 120_000, options.env ?? process.env);
    const results = new Map<string, { ok: boolean; y?: number[]; error?: string }>();
    for (const line of child.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      const r = JSON.parse(line) as { name: string; ok: boolean; y?: number[]; error?: string };
      results.set(r.name, r);
    }
    const cases = models.map((m): ProbeCase => {
      const r = results.get(m.name);
      if (!r) return { name: m.name, needs: m.needs, ok: false, error: 'not run (an earlier model failed to load the CUDA EP)' };
      if (!r.ok) return { name: m.name, needs: m.needs, ok: false, error: oneLine(stripAnsi(r.error ?? '')) };
      const maxAbsDiff = Math.max(...m.expected.map((e, i) => Math.abs(e - (r.y?.[i] ?? NaN))));
      return { name: m.name, needs: m.needs, ok: true, maxAbsDiff };
    });
    const loadError = parseOrtLoadError(child.stderr);
    const failure = child.failure ?? (results.size === 0 ? `the probe process exited with status ${child.status}: ${oneLine(stripAnsi(child.stderr)).slice(-300)}` : undefined);
    return { deviceId, cases, ...(loadError ? { loadError } : {}), ...(failure ? { failure } : {}) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runChild(args: string[], timeoutMs: number, env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string; failure?: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      const failure = timedOut ? `the probe did not finish within ${timeoutMs / 1000} s` : signal ? `the probe process was killed by ${signal}` : undefined;
      done({ status, stdout, stderr, ...(failure ? { failure } : {}) });
    });
  });
}
