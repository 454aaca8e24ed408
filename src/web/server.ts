// `twnn web`: a small HTTP server on 127.0.0.1 for the training page. It
// serves the page, onnxruntime-web's WASM build and vega, vega-lite and
// vega-embed's browser builds from node_modules (nothing is fetched from
// elsewhere), the export's train.onnx, the inference graph with its weights as
// inputs, the plan (first-step feeds, defaults, chart specs), a test sample,
// and batch k of size B on request (src/web/plan.ts).
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { isIPv4, isIPv6, type AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Duplex } from 'node:stream';
import { dirname, join } from 'node:path';
import { TwnnError } from '../common/errors.js';
import { MODEL_FILE, TRAIN_FILE } from '../contract/files.js';
import { checkBatch, encodeAll, loadWebTask, stepBatch } from './plan.js';
import { MAX_BATCH, WEB_TASKS } from './tasks.js';
import { PAGE_HTML, PAGE_SCRIPT } from './page.js';
import { pageCharts, SERIES } from './charts.js';
import { withParamsAsInputs } from './predict-model.js';

/** What to serve. */
export interface WebOptions {
  /** The export folder (train.onnx, model.onnx, manifest.json) of a model whose task the page trains (`WEB_TASKS`). */
  dir: string;
  /** Optimizer steps the page runs unless its URL says otherwise (default 300). */
  steps?: number;
  /** Rows per step unless the URL says otherwise (default 32). */
  batch?: number;
  /** Evaluate on the test sample (generated wave or accuracy, sweeps histogram) every this many steps (default 25). */
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
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8765;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TwnnError(`port ${port}: expected an integer from 0 to 65535`);
  const batch = options.batch ?? 32;
  checkBatch(batch);
  const task = await loadWebTask(options.dir);
  const predict = await withParamsAsInputs(join(options.dir, MODEL_FILE), task.params);
  const testRows = task.test.x.shape[0];
  const planJson = JSON.stringify({
    kind: task.kind,
    about: `${options.dir}: ${WEB_TASKS[task.kind]}.`,
    defaults: { steps: options.steps ?? 300, batch, lr: task.lr, drawEvery: options.drawEvery ?? 25 },
    maxBatch: MAX_BATCH,
    dtype: task.dtype,
    maxIter: task.maxIter ?? null,
    params: task.params,
    initial: encodeAll(task.initial),
    budget: encodeAll(task.budget),
    wave: task.wave ?? null,
    series: SERIES,
    charts: pageCharts(task.kind, testRows),
  });
  const testJson = JSON.stringify(encodeAll(new Map(Object.entries(task.test))));
  // Only each package's own browser build, by exact name: no path from a request reaches the file system.
  const ortDir = dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
  const ortFiles = new Set(readdirSync(ortDir).filter((f) => /^ort(\.wasm\.min\.mjs|-wasm-simd-threaded\.(mjs|wasm))$/.test(f)));
  const vegaFiles = new Map([
    ['vega.min.js', join(packageDir('vega'), 'build', 'vega.min.js')],
    ['vega-lite.min.js', join(packageDir('vega-lite'), 'build', 'vega-lite.min.js')],
    ['vega-embed.min.js', join(packageDir('vega-embed'), 'build', 'vega-embed.min.js')],
  ]);

  const serve = async (path: string, res: ServerResponse) => {
    const send = (body: string | Uint8Array, type: string) => {
      res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
      res.end(body);
    };
    if (path === '/' || path === '/index.html') return send(PAGE_HTML, TYPES['.html']);
    if (path === '/app.js') return send(PAGE_SCRIPT, TYPES['.js']);
    if (path === '/plan.json') return send(planJson, TYPES['.json']);
    if (path === '/test.json') return send(testJson, TYPES['.json']);
    const batch = /^\/batch\/([0-9]{1,9})\/([0-9]{1,9})$/.exec(path);
    if (batch) {
      let rows: ReturnType<typeof stepBatch>;
      try {
        rows = stepBatch(task, Number(batch[1]), Number(batch[2]));
      } catch (err) {
        if (err instanceof TwnnError) return answer(res, 400, err.message);
        throw err;
      }
      return send(JSON.stringify(encodeAll(new Map(Object.entries(rows)))), TYPES['.json']);
    }
    const vegaFile = path.startsWith('/vega/') ? vegaFiles.get(path.slice('/vega/'.length)) : undefined;
    if (vegaFile) return send(await readFile(vegaFile), TYPES['.js']);
    if (path === '/train.onnx') return send(await readFile(join(options.dir, TRAIN_FILE)), TYPES['.onnx']);
    if (path === '/predict.onnx') return send(predict, TYPES['.onnx']);
    const ortFile = path.startsWith('/ort/') ? path.slice('/ort/'.length) : '';
    if (ortFiles.has(ortFile)) return send(await readFile(join(ortDir, ortFile)), TYPES[ortFile.slice(ortFile.lastIndexOf('.'))]);
    answer(res, 404, 'not found');
  };

  const server = createServer();
  // Set once the port is known (port 0 picks one); no request can arrive before listen() calls back.
  let admit: Gate = () => ({ status: 503, message: 'starting' });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    // Whatever a request holds, it gets an answer and the server stays up: nothing escapes this handler.
    void (async () => {
      const verdict = admit(req);
      if ('status' in verdict) return answer(res, verdict.status, verdict.message, verdict.status === 405 ? { allow: ALLOWED_METHODS.join(', ') } : {});
      await serve(verdict.path, res);
    })().catch((err: unknown) => {
      try {
        if (res.headersSent) res.destroy();
        else answer(res, 500, `internal error: ${err instanceof Error ? err.message : String(err)}`);
      } catch {
        res.destroy();
      }
    });
  });
  // CONNECT never reaches 'request'; without this listener Node would drop the connection unanswered.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\nAllow: ${ALLOWED_METHODS.join(', ')}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });
  await listen(server, port, host);
  const address = server.address() as AddressInfo;
  admit = requestGate(host, address.port);
  return {
    url: `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}/`,
    close: () => new Promise((done) => server.close(() => done())),
  };
}

/** A package's folder in node_modules: its entry point, resolved as Node does, up to the folder named after it. */
function packageDir(name: string): string {
  let dir = dirname(createRequire(import.meta.url).resolve(name));
  while (!dir.endsWith(`/node_modules/${name}`) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/**
 * Whether `host` (a --host value) is this machine only: localhost, 127.0.0.0/8 or ::1.
 *
 * @example isLoopback('0.0.0.0'); // false: every interface, so other machines can connect
 */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.replace(/^::ffff:/, '');
  return isIPv4(v4) && v4.startsWith('127.');
}

/** The methods the server answers; every other gets 405 with this list in `Allow`. */
const ALLOWED_METHODS = ['GET', 'HEAD'];

/** A request's path to serve, or the status and one-line message to refuse it with. */
type Gate = (req: IncomingMessage) => { status: number; message: string } | { path: string };

/**
 * The checks every request passes before it is served: a well-formed target
 * (400), a Host this server answers to (403: what stops a DNS-rebinding page
 * from reading the model through a name of its own), and GET or HEAD (405).
 */
function requestGate(bind: string, port: number): Gate {
  const hosts = acceptedHosts(bind, port);
  const loopback = isLoopback(bind);
  return (req) => {
    const target = parseTarget(req.url ?? '');
    if (target === undefined) return { status: 400, message: 'malformed request target: expected a path such as /index.html' };
    const hostHeaders = req.rawHeaders.filter((_, i) => i % 2 === 0 && req.rawHeaders[i].toLowerCase() === 'host').length;
    if (hostHeaders > 1) return { status: 400, message: 'more than one Host header' };
    // An absolute-form target's authority stands in for the Host header (RFC 9112, 3.2.2).
    const host = target.authority ?? req.headers.host;
    // HTTP/1.1 without Host never gets here (Node answers 400); HTTP/1.0 may omit it, which is safe only on loopback.
    if (host === undefined) {
      if (!loopback) return { status: 400, message: `a Host header is required: this server listens on ${bind}, not on loopback only` };
    } else if (!hosts.has(host.toLowerCase())) {
      return { status: 403, message: `Host ${JSON.stringify(host)} is not one this server answers to: open http://127.0.0.1:${port}/, or start twnn web with --host <that name>` };
    }
    if (!ALLOWED_METHODS.includes(req.method ?? '')) return { status: 405, message: `method ${req.method} is not allowed: only ${ALLOWED_METHODS.join(' and ')}` };
    return { path: target.path };
  };
}

/**
 * The Host header values (lower case) the server answers: 127.0.0.1,
 * localhost and [::1] with its port, the --host address, and for a wildcard
 * --host (0.0.0.0, ::) this machine's own addresses. A name that only
 * resolves here, as a rebinding attacker's does, is never among them.
 */
function acceptedHosts(bind: string, port: number): Set<string> {
  const bracket = (a: string) => (isIPv6(a) ? `[${a}]` : a);
  const names = ['127.0.0.1', 'localhost', '[::1]', bracket(bind.replace(/^\[(.*)\]$/, '$1'))];
  // '' listens on every interface too, as Node reads it.
  if (bind === '' || bind === '0.0.0.0' || bind === '::' || bind === '[::]') {
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.scopeid === undefined || a.scopeid === 0) names.push(bracket(a.address));
  }
  const hosts = new Set<string>();
  for (const name of names) {
    hosts.add(`${name.toLowerCase()}:${port}`);
    // A browser leaves the default port out of Host.
    if (port === 80) hosts.add(name.toLowerCase());
  }
  return hosts;
}

// RFC 3986 path characters: unreserved, sub-delims, ':' and '@', or a %XX escape.
const PATH = /^(?:\/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*)+$/;

/**
 * A request target's path (query dropped), and for the absolute form
 * (`http://host/path`, what a proxy is sent) the authority it names;
 * undefined for anything else: a target that is not a path (`*`, `http://`,
 * `host:443`), or a path with characters a URL may not hold raw (`//[`, `/%zz`).
 */
function parseTarget(target: string): { path: string; authority?: string } | undefined {
  const absolute = /^http:\/\/([^/?#]+)([^?#]*)/i.exec(target);
  const [path, authority] = absolute ? [absolute[2] || '/', absolute[1]] : [target.split('?', 1)[0], undefined];
  return PATH.test(path) ? { path, authority } : undefined;
}

/** End `res` with a short plain-text answer (a refusal or 404). */
function answer(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  const body = `${message}\n`;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers });
  res.end(body);
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((done, fail) => {
    server.once('error', (err: NodeJS.ErrnoException) => fail(new TwnnError(listenError(err, port, host))));
    try {
      server.listen(port, host, () => done());
    } catch (err) {
      fail(new TwnnError(`cannot listen on ${host}:${port}: ${err instanceof Error ? err.message : String(err)}`));
    }
  });
}

/** The one-line message for a failed listen, naming the port and host. */
function listenError(err: NodeJS.ErrnoException, port: number, host: string): string {
  if (err.code === 'EADDRINUSE') return `port ${port} on ${host} is in use; pick another with --port`;
  if (err.code === 'EACCES') return `port ${port} on ${host} is not permitted (ports below 1024 need privileges); pick another with --port`;
  if (err.code === 'EADDRNOTAVAIL') return `cannot listen on ${host}:${port}: ${host} is not an address of this machine; see --host`;
  if (err.code === 'ENOTFOUND') return `cannot listen on ${host}:${port}: ${host} is neither an IP address nor a name this machine resolves; see --host`;
  return `cannot listen on ${host}:${port}: ${err.message}`;
}
