/**
 * A node's `/metrics` (Prometheus text) and `/health` over HTTP: answered by its data server
 * ({@link answerMetrics}), or — for a node without one, whose data the master on the same
 * machine serves (`disco start`) — by a small server of its own on loopback
 * ({@link startMetricsServer}), whose port the node gives the master in its hello so that the
 * master can relay it at `/metrics/node/<host>`.
 *
 * @example
 * const s = await startMetricsServer({ metrics, listenHost: '127.0.0.1', port: 0 });
 * // GET http://127.0.0.1:<s.port>/metrics
 */
import http from 'node:http';
import { type Listening, listen } from '../common/http-listen.js';
import { PROMETHEUS_CONTENT_TYPE } from '../common/prometheus.js';
import { plain } from '../common/static-files.js';

/** What is served: the node's metrics and health (node-metrics.ts). */
export interface MetricsSource {
  render(): string;
  health(): unknown;
}

/** Answer `/metrics` or `/health` (true), or leave the request alone (false). */
export function answerMetrics(path: string, res: http.ServerResponse, m: MetricsSource): boolean {
  let body: Buffer;
  let type: string;
  if (path === '/metrics') {
    body = Buffer.from(m.render());
    type = PROMETHEUS_CONTENT_TYPE;
  } else if (path === '/health') {
    body = Buffer.from(JSON.stringify(m.health()));
    type = 'application/json';
  } else return false;
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length });
  res.end(body);
  return true;
}

export interface MetricsServerOptions {
  metrics: MetricsSource;
  /** Address to listen on (the node's own metrics server: loopback). */
  listenHost: string;
  /** Port (0 = any free port). */
  port: number;
}

/** Serve `/metrics` and `/health` (GET/HEAD) and nothing else. */
export function startMetricsServer(opts: MetricsServerOptions): Promise<Listening> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 501, 'Not implemented');
    try {
      if (!answerMetrics(path, res, opts.metrics)) plain(res, 404, 'Not found.');
    } catch (e) {
      if (!res.headersSent) plain(res, 500, `Metrics failed: ${e instanceof Error ? e.message : String(e)}`);
      else res.destroy();
    }
  });
  return listen(server, opts.port, opts.listenHost);
}
