/**
 * The monitor page (the original's `httpd` monitor): an HTTP server showing, for each
 * cluster, jobs submitted / done / pending, the nodes (CPUs, busy, jobs done, seconds per job,
 * node time, bytes sent and received) and the running jobs with a cancel button. The page
 * polls `GET /api/status` (JSON); `POST /api/cancel` with `{computeId, uid}` cancels a job.
 *
 * @example
 * const mon = await startMonitor({ source: cluster, port: 8181, host: '127.0.0.1' });
 * // open http://127.0.0.1:8181/
 * await mon.close();
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MonitorSource } from './model.js';
import { MONITOR_HTML } from './page.js';

export interface MonitorOptions {
  source: MonitorSource;
  port?: number;
  host?: string;
  /** Seconds between the page's updates (default 3). */
  pollSec?: number;
}

export interface Monitor {
  port: number;
  url: string;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

export async function startMonitor(opts: MonitorOptions): Promise<Monitor> {
  const page = MONITOR_HTML.replace('%POLL_MS%', String(Math.round((opts.pollSec ?? 3) * 1000)));
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://monitor');
    const json = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && (url.pathname === '/' || url.pathname === '/index.html')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/api/status') {
      json(200, { time: Date.now() / 1000, clusters: opts.source.monitorStatus() });
      return;
    }
    if (req.method === 'POST' && url.pathname === '/api/cancel') {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy();
        else chunks.push(c);
      });
      req.on('end', () => {
        try {
          const b = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
            computeId?: unknown;
            uid?: unknown;
          };
          if (typeof b.computeId !== 'string' || typeof b.uid !== 'number')
            throw new Error('need computeId and uid');
          json(200, { cancelled: opts.source.monitorCancel(b.computeId, b.uid) });
        } catch (e) {
          json(400, { error: (e as Error).message });
        }
      });
      return;
    }
    json(404, { error: 'not found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host, () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  return {
    port,
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
