/**
 * A tiny HTTP data server for client tests: routes map a path (without query) to a body,
 * served with `Range` support the way Disco's servers do it (206 + Content-Range; an
 * unsatisfiable range gets 200 with the whole body, or an empty body when `emptyPastEnd`).
 * Handlers can also answer anything they like. Requests are recorded.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  url: string;
  range?: string;
  body: Buffer;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

export interface TestServer {
  base: string;
  port: number;
  requests: Recorded[];
  files: Map<string, Buffer | (() => Buffer)>;
  handlers: Map<string, Handler>;
  close(): Promise<void>;
}

/** Answer with `data`, honouring a single `Range: bytes=a-b` / `bytes=a-`. */
export function sendRanged(
  req: IncomingMessage,
  res: ServerResponse,
  data: Buffer,
  emptyPastEnd = false,
): void {
  const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (m) {
    const start = Number(m[1]);
    const end = m[2] === '' ? data.length - 1 : Math.min(Number(m[2]), data.length - 1);
    if (start < data.length && end >= start) {
      res.writeHead(206, {
        'content-range': `bytes ${start}-${end}/${data.length}`,
        'content-length': end - start + 1,
      });
      res.end(data.subarray(start, end + 1));
      return;
    }
    if (emptyPastEnd) {
      res.writeHead(200, { 'content-length': 0 });
      res.end();
      return;
    }
  }
  res.writeHead(200, { 'content-length': data.length });
  res.end(data);
}

export async function startTestServer(opts: { emptyPastEnd?: boolean } = {}): Promise<TestServer> {
  const requests: Recorded[] = [];
  const files = new Map<string, Buffer | (() => Buffer)>();
  const handlers = new Map<string, Handler>();
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      requests.push({ method: req.method ?? 'GET', url: req.url ?? '', range: req.headers.range, body });
      const p = (req.url ?? '').split('?')[0];
      const h = handlers.get(p);
      if (h) return h(req, res, body);
      const f = files.get(p);
      if (f === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('Not found.');
        return;
      }
      sendRanged(req, res, typeof f === 'function' ? f() : f, opts.emptyPastEnd);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    requests,
    files,
    handlers,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
