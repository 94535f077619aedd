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
import { NO_RETRY, request } from '../../client/http.js';
import { errorMessage } from '../../common/errors.js';
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
  try {
    // Cut off as soon as the reply passes the limit (the rest is not read).
    ({ body } = await request(url, { retry: NO_RETRY, timeoutMs: TIMEOUT_MS, maxBytes: MAX_BYTES }));
  } catch (e) {
    throw new HttpError(502, `Reading the metrics of node ${host} failed: ${errorMessage(e)}`);
  }
  res.setHeader('Cache-Control', 'no-store');
  send(res, 200, PROMETHEUS_CONTENT_TYPE, body);
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
