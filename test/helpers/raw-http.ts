// Raw HTTP/1.x over node:net, for tests that must send what fetch would
// normalise or refuse: malformed request targets, odd methods, missing or
// foreign Host headers.
import { connect } from 'node:net';

/** A parsed answer, or `status: undefined` when the bytes are not an HTTP response. */
export interface RawResponse {
  status: number | undefined;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
  raw: string;
}

/**
 * Send `request` as is to `port` on `host` and read one response: until it
 * is complete (by Content-Length or the last chunk), the server closes, or
 * `timeoutMs` passes (then `timedOut`). The socket is not half-closed first:
 * Node's server drops a request whose client has ended its side.
 *
 * @example const r = await rawRequest(port, 'GET //[ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'); r.status; // 400
 */
export function rawRequest(port: number, request: string, { host = '127.0.0.1', timeoutMs = 5000 } = {}): Promise<RawResponse & { timedOut: boolean }> {
  return new Promise((done) => {
    const socket = connect(port, host);
    const chunks: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => ((timedOut = true), socket.destroy()), timeoutMs);
    const raw = () => Buffer.concat(chunks).toString('latin1');
    socket.on('data', (d) => {
      chunks.push(d);
      if (complete(parseResponse(raw()), request.startsWith('HEAD '))) socket.destroy();
    });
    // A reset after the answer (the server closing a bad request) still leaves the answer.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      done({ ...parseResponse(raw()), timedOut });
    });
    socket.write(request, 'latin1');
  });
}

/** Whether `r` holds a whole response (a body of unknown length ends only when the server closes). */
function complete(r: RawResponse, head: boolean): boolean {
  if (r.status === undefined) return false;
  if (head || r.status === 204 || r.status === 304) return true;
  if (r.headers['content-length'] !== undefined) return Buffer.byteLength(r.body, 'latin1') >= Number(r.headers['content-length']);
  return r.headers['transfer-encoding'] === 'chunked' && r.raw.endsWith('0\r\n\r\n');
}

/**
 * The status, headers and body of the first response in `raw`; status
 * undefined unless it has a status line and a header block ended by a blank line.
 *
 * @example parseResponse('HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n\r\n').headers.allow; // 'GET, HEAD'
 */
export function parseResponse(raw: string): RawResponse {
  const head = /^HTTP\/1\.[01] (\d{3}) [^\r\n]*\r\n((?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n]*\r\n)*)\r\n/.exec(raw);
  if (!head) return { status: undefined, headers: {}, body: '', raw };
  const headers: Record<string, string> = {};
  for (const line of head[2].split('\r\n').filter(Boolean)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const body = raw.slice(head[0].length);
  return { status: Number(head[1]), headers, body: headers['transfer-encoding'] === 'chunked' ? dechunk(body) : body, raw };
}

/** The payload of a chunked body (as far as it has arrived). */
function dechunk(body: string): string {
  let out = '';
  for (let at = 0; ; ) {
    const line = body.indexOf('\r\n', at);
    const size = parseInt(body.slice(at, line), 16);
    if (line < 0 || !(size > 0)) return out;
    out += body.slice(line + 2, line + 2 + size);
    at = line + 2 + size + 2;
  }
}
