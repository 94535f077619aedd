/**
 * Every node's metrics through the master: `GET /metrics/node/<host>` answers the `/metrics`
 * of a connected node — read from its data server, or from the loopback metrics server of a
 * node without one (the local node of `disco start`, whose data the master serves) — and
 * `GET /metrics/nodes` lists them for Prometheus' HTTP service discovery (`http_sd_configs`),
 * so one scrape configuration pointed at the master covers the whole cluster.
 *
 * Only URLs the nodes announced in their hello are fetched (the path selects a configured
 * host, nothing more); each fetch has a timeout and a size limit, and a reply that passes the
 * limit is cut off there (the request is aborted, not read to its end).
 *
 * @example
 * // prometheus.yml
 * // - job_name: disco-nodes
 * //   http_sd_configs: [{ url: 'http://master:8989/metrics/nodes' }]
 */
import type { ServerResponse } from 'node:http';
import { PROMETHEUS_CONTENT_TYPE } from '../../common/prometheus.js';
import type { MasterContext } from '../http/context.js';
import { HttpError, send } from '../http/reply.js';

/** Path prefix of a node's relayed metrics. */
export const NODE_METRICS_PREFIX = '/metrics/node/';
const TIMEOUT_MS = 5000;
const MAX_BYTES = 8 << 20;

/**
 * Answer `/metrics/node/<encoded host>` with the node's metrics (404: no such host in the
 * config; 503: not connected; 502: the node did not answer).
 */
export async function relayNodeMetrics(
  ctx: MasterContext,
  res: ServerResponse,
  encoded: string,
): Promise<void> {
  let host: string;
  try {
    host = decodeURIComponent(encoded);
  } catch {
    throw new HttpError(404, 'Not found.');
  }
  if (!ctx.config.host(host)) throw new HttpError(404, `No node ${host} in the config table.`);
  const url = ctx.registry.metricsUrl(host);
  if (!url) throw new HttpError(503, `Node ${host} is not connected.`);
  let body: Buffer;
  const stop = new AbortController();
  try {
    const r = await fetch(url, { signal: AbortSignal.any([stop.signal, AbortSignal.timeout(TIMEOUT_MS)]) });
    if (!r.ok) throw new Error(`${r.status} ${r.statusText}`);
    const length = Number(r.headers.get('content-length') ?? 0);
    if (length > MAX_BYTES)
      throw new Error(`the reply has ${length} bytes, more than the ${MAX_BYTES} allowed`);
    body = await readAtMost(r, MAX_BYTES);
  } catch (e) {
    // Whatever went wrong, the node's connection is not read any further.
    stop.abort();
    throw new HttpError(
      502,
      `Reading the metrics of node ${host} failed: ${e instanceof Error ? e.message : e}`,
    );
  }
  res.setHeader('Cache-Control', 'no-store');
  send(res, 200, PROMETHEUS_CONTENT_TYPE, body);
}

/** The body of `r`, or an error as soon as it passes `max` bytes (the rest is not read). */
async function readAtMost(r: Response, max: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (!r.body) return Buffer.alloc(0);
  for await (const chunk of r.body) {
    size += chunk.byteLength;
    if (size > max) throw new Error(`the reply passed ${max} bytes (the limit); stopped reading`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** A Prometheus HTTP service discovery target group. */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/**
 * One target group per configured node, scraped through this master (`hostPort`: the address
 * the caller reached the master at, its `Host` header).
 */
export function nodeMetricsTargets(ctx: MasterContext, hostPort: string): TargetGroup[] {
  return ctx.config.hosts().map((h) => ({
    targets: [hostPort],
    labels: { __metrics_path__: `${NODE_METRICS_PREFIX}${encodeURIComponent(h.name)}`, node: h.name },
  }));
}
