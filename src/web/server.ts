// `twnn web`: a small HTTP server on 127.0.0.1 for the training page. It
// serves the page, onnxruntime-web's WASM build from node_modules (nothing
// is fetched from elsewhere), the export's train.onnx, the inference graph
// with its weights as inputs, and the training plan (src/web/plan.ts).
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { TwnnError } from '../common/errors.js';
import { MODEL_FILE, TRAIN_FILE } from '../contract/files.js';
import { encodeTensor, trainingPlan } from './plan.js';
import { PAGE_HTML, PAGE_SCRIPT } from './page.js';
import { withParamsAsInputs } from './predict-model.js';

/** What to serve. */
export interface WebOptions {
  /** The export folder (train.onnx, model.onnx, manifest.json) of a sine model. */
  dir: string;
  /** Optimizer steps the page runs (default 300). */
  steps?: number;
  /** Rows per step (default 32). */
  batch?: number;
  /** Draw the loss and the generated wave every this many steps (default 25). */
  drawEvery?: number;
  /** Port (default 8765; 0 picks a free one). */
  port?: number;
  /** Address to listen on (default 127.0.0.1: this machine only). */
  host?: string;
}

/** A running server. */
export interface WebServer {
  url: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.mjs': 'text/javascript', '.js': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm', '.onnx': 'application/octet-stream' };

/**
 * Start serving the training page for the export in `options.dir`; the plan
 * is computed once, before the server listens, so a bad folder fails here.
 *
 * @example const web = await startWebServer({ dir: 'exported/sine', port: 0 }); console.log(web.url); await web.close();
 */
export async function startWebServer(options: WebOptions): Promise<WebServer> {
  const steps = options.steps ?? 300;
  const batch = options.batch ?? 32;
  const plan = await trainingPlan(options.dir, { steps, batch });
  const params = plan.params;
  const predict = await withParamsAsInputs(join(options.dir, MODEL_FILE), params);
  const planJson = JSON.stringify({
    steps,
    drawEvery: options.drawEvery ?? 25,
    window: plan.window,
    dtype: plan.batches[0].x.dtype,
    seedWindow: plan.seedWindow,
    truth: plan.truth,
    params,
    initial: Object.fromEntries([...plan.initial].map(([name, t]) => [name, encodeTensor(t)])),
    batches: plan.batches.map((b) => ({ x: encodeTensor(b.x), target: encodeTensor(b.target) })),
  });
  const ortDir = dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
  // Only the WASM build's own files, by exact name: no path from a request reaches the file system.
  const ortFiles = new Set(readdirSync(ortDir).filter((f) => /^ort(\.wasm\.min\.mjs|-wasm-simd-threaded\.(mjs|wasm))$/.test(f)));

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const send = (body: string | Uint8Array, type: string) => {
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const respond = async () => {
      if (path === '/' || path === '/index.html') return send(PAGE_HTML, TYPES['.html']);
      if (path === '/app.js') return send(PAGE_SCRIPT, TYPES['.js']);
      if (path === '/plan.json') return send(planJson, TYPES['.json']);
      if (path === '/train.onnx') return send(await readFile(join(options.dir, TRAIN_FILE)), TYPES['.onnx']);
      if (path === '/predict.onnx') return send(predict, TYPES['.onnx']);
      const ortFile = path.startsWith('/ort/') ? path.slice('/ort/'.length) : '';
      if (ortFiles.has(ortFile)) return send(await readFile(join(ortDir, ortFile)), TYPES[ortFile.slice(ortFile.lastIndexOf('.'))]);
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    };
    respond().catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
  });
  await listen(server, options.port ?? 8765, options.host ?? '127.0.0.1');
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}/`,
    close: () => new Promise((done) => server.close(() => done())),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((done, fail) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      fail(new TwnnError(err.code === 'EADDRINUSE' ? `port ${port} on ${host} is in use; pick another with --port` : `cannot listen on ${host}:${port}: ${err.message}`)),
    );
    server.listen(port, host, () => done());
  });
}
