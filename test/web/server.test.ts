// `twnn web`'s request handling (issue 23, items 1, 2, 15, 16, 17), in
// process: the server on port 0, fed raw requests over node:net so that
// targets, methods and Host headers arrive as sent, not as fetch would
// normalise them. The browser test (browser-training.test.ts) covers the page.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createNetServer, Server as NetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import sine from '../../graphs/sine.js';
import { TwnnError } from '../../src/common/errors.js';
import { exportModel } from '../../src/lower/artifacts.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import { cli, withPretendCtrlC, type Outcome } from '../helpers/in-process-cli.js';
import { rawRequest } from '../helpers/raw-http.js';

const root = mkdtempSync(join(tmpdir(), 'twnn-web-server-'));
const dir = join(root, 'sine');
let web: WebServer;
let port: number;

beforeAll(async () => {
  await exportModel(sine, dir);
  web = await startWebServer({ dir, port: 0, steps: 4, batch: 4 });
  port = Number(new URL(web.url).port);
}, 60_000);

afterAll(async () => {
  await web?.close();
  rmSync(root, { recursive: true, force: true });
});

const get = (target: string, host = `127.0.0.1:${port}`, method = 'GET') => rawRequest(port, `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);

const expectOneLineError = (r: Outcome, message: string | RegExp) => {
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr).toMatch(/^twnn: error: [^\n]*\n$/);
  expect(r.stderr).toMatch(message);
};

describe('twnn web: request targets (item 1)', () => {
  it.each(['http://', '//[', '/%zz', '*', 'http:///x', '/ort/..%2fserver.ts%', '/\\evil.example/'])('a malformed target %j gets 400 and the server stays up', async (target) => {
    const r = await get(target);
    expect(r.status, r.raw).toBe(400);
    expect(r.body).toMatch(/^malformed request target/);
    expect((await get('/')).status).toBe(200);
  });

  // Node's parser refuses these before the handler sees them; the answer is still an HTTP 400.
  it.each(['%', 'plan.json', '/a b', '/a\x01b', '/a\x7fb'])('a target Node refuses (%j) gets 400 too', async (target) => {
    expect((await get(target)).status).toBe(400);
    expect((await get('/')).status).toBe(200);
  });

  it('serves the page, the plan and the models by path; a query is ignored; an unknown path is 404', async () => {
    expect((await get('/')).headers['content-type']).toMatch(/^text\/html/);
    expect(JSON.parse((await get('/plan.json?x=1')).body).defaults.steps).toBe(4);
    expect((await get('/train.onnx')).status).toBe(200);
    expect((await get('/predict.onnx')).status).toBe(200);
    for (const target of ['/nope', '/ort/../plan.json', '/ort/', '/%2e%2e/manifest.json']) expect((await get(target)).status, target).toBe(404);
  });

  it('serves batch k of size B, the test sample, and the vega builds; a batch out of range is a 400 naming it', async () => {
    const batch = JSON.parse((await get('/batch/4/7')).body) as Record<string, { dtype: string; shape: number[] }>;
    expect(Object.fromEntries(Object.entries(batch).map(([name, t]) => [name, t.shape]))).toEqual({ x: [4, 16], target: [4, 1] });
    for (const [target, message] of [['/batch/0/0', 'batch 0: expected an integer from 1 to 4096'], ['/batch/4097/0', 'batch 4097: expected an integer from 1 to 4096']]) {
      const r = await get(target);
      expect(r.status, target).toBe(400);
      expect(r.body.trim()).toBe(message);
    }
    expect((await get('/batch/4/x')).status).toBe(404);
    expect(Object.keys(JSON.parse((await get('/test.json')).body)).sort()).toEqual(['target', 'x']);
    for (const file of ['vega.min.js', 'vega-lite.min.js', 'vega-embed.min.js']) {
      const r = await get(`/vega/${file}`);
      expect(r.status, file).toBe(200);
      expect(r.headers['content-type']).toBe('text/javascript');
    }
    expect((await get('/vega/package.json')).status).toBe(404);
  });

  it("the plan carries predict.onnx's budget inputs at their defaults, which the page feeds", async () => {
    const budget = JSON.parse((await get('/plan.json')).body).budget as Record<string, { dtype: string; shape: number[]; base64: string }>;
    const decoded = Object.fromEntries(Object.entries(budget).map(([name, t]) => {
      const bytes = Buffer.from(t.base64, 'base64');
      return [name, [t.dtype, t.shape, t.dtype === 'int64' ? Number(bytes.readBigInt64LE()) : bytes.readFloatLE()]];
    }));
    expect(decoded).toEqual({ 'tol.region1': ['float32', [], Math.fround(1e-3)], 'max_iter.region1': ['int64', [], 300] });
  });

  it('an absolute-form target is served for an accepted host, refused for another', async () => {
    expect((await get(`http://127.0.0.1:${port}/plan.json`)).status).toBe(200);
    expect((await get(`HTTP://localhost:${port}`)).status).toBe(200);
    // Its authority stands in for the Host header, whatever that says.
    expect((await get(`http://evil.example:${port}/plan.json`)).status).toBe(403);
    expect((await get('http://evil.example/plan.json')).status).toBe(403);
  });
});

describe('twnn web: methods (item 15)', () => {
  it.each(['POST', 'PUT', 'DELETE', 'TRACE', 'OPTIONS', 'PATCH', 'PROPFIND'])('%s gets 405 with Allow: GET, HEAD', async (method) => {
    const r = await get('/', `127.0.0.1:${port}`, method);
    expect(r.status, r.raw).toBe(405);
    expect(r.headers.allow).toBe('GET, HEAD');
  });

  it('CONNECT gets 405 too, not a dropped connection', async () => {
    const r = await rawRequest(port, `CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    expect(r.status, r.raw).toBe(405);
    expect(r.headers.allow).toBe('GET, HEAD');
  });

  it('HEAD answers like GET, without the body', async () => {
    const r = await get('/plan.json', `127.0.0.1:${port}`, 'HEAD');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.body).toBe('');
  });
});

describe('twnn web: Host headers (item 16)', () => {
  it.each(['127.0.0.1:PORT', 'localhost:PORT', 'LOCALHOST:PORT', '[::1]:PORT'])('Host %s is served', async (host) => {
    expect((await get('/plan.json', host.replace('PORT', String(port)))).status).toBe(200);
  });

  it.each(['evil.example:PORT', 'evil.example', '127.0.0.1', '127.0.0.1:1', 'localhost', '127.0.0.1.nip.io:PORT', 'localhost.:PORT', 'localhost.evil.example:PORT', '[::ffff:127.0.0.1]:PORT', '', '127.0.0.1:PORT@evil.example'])(
    'Host %j gets 403',
    async (host) => {
      const r = await get('/plan.json', host.replace('PORT', String(port)));
      expect(r.status, r.raw).toBe(403);
      expect(r.body).not.toContain('"steps"');
    },
  );

  it('two Host headers get 400', async () => {
    const r = await rawRequest(port, `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nHost: evil.example\r\nConnection: close\r\n\r\n`);
    expect(r.status).toBe(400);
  });

  it('without Host: HTTP/1.0 is served on loopback; HTTP/1.1 gets 400', async () => {
    expect((await rawRequest(port, 'GET /plan.json HTTP/1.0\r\n\r\n')).status).toBe(200);
    expect((await rawRequest(port, 'GET /plan.json HTTP/1.1\r\n\r\n')).status).toBe(400);
  });

  it('--host adds its own name; on a wildcard address a request without Host is refused', async () => {
    const other = await startWebServer({ dir, port: 0, host: '127.0.0.2', steps: 4, batch: 4 });
    const wildcard = await startWebServer({ dir, port: 0, host: '0.0.0.0', steps: 4, batch: 4 });
    try {
      const p = Number(new URL(other.url).port);
      const q = Number(new URL(wildcard.url).port);
      expect((await rawRequest(p, `GET / HTTP/1.1\r\nHost: 127.0.0.2:${p}\r\nConnection: close\r\n\r\n`, { host: '127.0.0.2' })).status).toBe(200);
      expect((await rawRequest(p, `GET / HTTP/1.1\r\nHost: evil.example:${p}\r\nConnection: close\r\n\r\n`, { host: '127.0.0.2' })).status).toBe(403);
      expect((await rawRequest(q, `GET / HTTP/1.1\r\nHost: localhost:${q}\r\nConnection: close\r\n\r\n`)).status).toBe(200);
      expect((await rawRequest(q, `GET / HTTP/1.1\r\nHost: evil.example:${q}\r\nConnection: close\r\n\r\n`)).status).toBe(403);
      expect((await rawRequest(q, 'GET / HTTP/1.0\r\n\r\n')).status).toBe(400);
    } finally {
      await other.close();
      await wildcard.close();
    }
  });
});

describe('twnn web: ports (item 2) and the --host warning (item 17)', () => {
  it.each(['70000', '65536', '-1', '1.5', 'http', '0x50'])('--port %s is a one-line usage error', async (value) => {
    expectOneLineError(await cli(['web', dir, '--port', value]), /--port expects an integer from 0 to 65535/);
  });

  it('the library refuses a port out of range with a TwnnError', async () => {
    await expect(startWebServer({ dir, port: 70000 })).rejects.toThrow(new TwnnError('port 70000: expected an integer from 0 to 65535'));
  });

  it('a port in use is a one-line error naming it', async () => {
    const busy = await new Promise<NetServer>((done) => {
      const s = createNetServer();
      s.listen(0, '127.0.0.1', () => done(s));
    });
    try {
      const p = (busy.address() as AddressInfo).port;
      expectOneLineError(await cli(['web', dir, '--port', String(p)]), `port ${p} on 127.0.0.1 is in use; pick another with --port`);
    } finally {
      busy.close();
    }
  });

  it('a port not permitted (EACCES) is a one-line error naming it', async () => {
    // Tests may run as root, where port 80 is allowed: make listen fail as it does for anyone else.
    const listen = vi.spyOn(NetServer.prototype, 'listen').mockImplementation(function (this: NetServer) {
      process.nextTick(() => this.emit('error', Object.assign(new Error('listen EACCES: permission denied 127.0.0.1:80'), { code: 'EACCES', syscall: 'listen' })));
      return this;
    });
    try {
      expectOneLineError(await cli(['web', dir, '--port', '80']), 'port 80 on 127.0.0.1 is not permitted');
    } finally {
      listen.mockRestore();
    }
  });

  /** `twnn web` in process, stopped by a pretend Ctrl-C as soon as it serves. */
  const serveAndStop = (args: string[]) => withPretendCtrlC(() => cli(['web', dir, '--port', '0', '--steps', '4', '--batch', '4', ...args]));

  it.each(['0.0.0.0', '::'])('--host %s warns that other machines can reach the model and its weights', async (host) => {
    const r = await serveAndStop(['--host', host]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^twnn web: open http:\/\//);
    expect(r.stderr).toBe(`twnn: warning: --host ${host}: the server is reachable from other machines, and serves them the model and its weights\n`);
  });

  it.each(['127.0.0.1', 'localhost'])('--host %s (loopback) prints no warning', async (host) => {
    const r = await serveAndStop(['--host', host]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });
});
