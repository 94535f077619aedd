/**
 * The node's data server (wire spec §1.1, §5.1): HTTP GET/HEAD of `/disco/<p>` from
 * DISCO_DATA and `/ddfs/<p>` from DDFS_DATA on DISCO_PORT, so workers, other nodes and clients
 * can read task outputs, partitions, index files and blobs.
 *
 * Behaviour the clients rely on: byte ranges (206 + `Content-Range`), an unsatisfiable range
 * answered 200 with the whole file (never 416), unsafe paths 404, directories 403, other
 * methods 501, and the `/proxy/<node>/<METHOD>/` prefix stripped. With `metrics`, it also
 * answers `/metrics` (Prometheus text) and `/health`, and counts requests and bytes sent. A gate bounds concurrent
 * transfers; when its queue is full the answer is 503, which clients retry.
 */

import http from 'node:http';
import pino, { type Logger } from 'pino';
import { listen } from '../common/http-listen.js';
import { plain, serveFile } from '../common/static-files.js';
import { Gate } from './gate.js';
import { answerMetrics, type MetricsSource } from './metrics-server.js';

/** Where the data server listens and what it serves. */
export interface DataServerOptions {
  /** Address to listen on ('' or undefined = all interfaces). */
  listenHost?: string;
  /** Port (0 = any free port). */
  port: number;
  discoData: string;
  ddfsData: string;
  maxActive?: number;
  maxQueued?: number;
  maxWaitMs?: number;
  log?: Logger;
  /** Serves `/metrics` and `/health` and counts the traffic (node-metrics.ts). */
  metrics?: DataServerMetrics;
}

/** What the data server reports to and serves from the node's metrics. */
export interface DataServerMetrics extends MetricsSource {
  served(area: 'disco' | 'ddfs' | 'other', status: number, bytes: number): void;
}

/** A running data server. */
export interface DataServer {
  /** The port actually listened on. */
  port: number;
  close(): Promise<void>;
}

const PROXY_PREFIX = /^\/proxy\/[^/]+\/[^/]+(\/.*)$/;

/** Start the data server; resolves once it listens. */
export async function startDataServer(opts: DataServerOptions): Promise<DataServer> {
  const log = opts.log ?? pino({ level: 'silent' });
  const gate = new Gate(opts.maxActive ?? 16, opts.maxQueued ?? 100, opts.maxWaitMs ?? 60_000);
  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      log.error({ err: e, url: req.url }, 'data server request failed');
      if (!res.headersSent) plain(res, 500, 'Internal server error');
      else res.destroy();
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // The raw path, as the original (mochiweb `raw_path`): no normalisation before the checks.
    let raw = (req.url ?? '/').split('?')[0];
    const proxied = PROXY_PREFIX.exec(raw);
    if (proxied) raw = proxied[1];
    const m = opts.metrics;
    if (m) {
      const area = raw.startsWith('/disco/') ? 'disco' : raw.startsWith('/ddfs/') ? 'ddfs' : 'other';
      res.once('finish', () =>
        m.served(
          area,
          res.statusCode,
          req.method === 'HEAD' ? 0 : Number(res.getHeader('Content-Length') ?? 0),
        ),
      );
      if (answerMetrics(raw, res, m)) return;
    }
    let root: string;
    let rel: string;
    if (raw.startsWith('/disco/')) {
      root = opts.discoData;
      rel = raw.slice('/disco/'.length);
    } else if (raw.startsWith('/ddfs/')) {
      root = opts.ddfsData;
      rel = raw.slice('/ddfs/'.length);
    } else {
      return plain(res, 404, 'Not found.');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 501, 'Not implemented');
    const slot = await gate.acquire();
    if (slot === 'full') {
      return plain(res, 503, 'Maximum number of downloaders reached. Try again later');
    }
    if (slot === 'timeout') return plain(res, 403, 'Disco node is busy');
    try {
      await serveFile(req, res, root, rel);
    } finally {
      slot();
    }
  }

  return listen(server, opts.port, opts.listenHost);
}
