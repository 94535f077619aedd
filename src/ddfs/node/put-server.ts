/**
 * The node's DDFS PUT server on `DDFS_PUT_PORT` (wire spec §5.1, `ddfs_put.erl`):
 * `PUT /ddfs/<name>$<ts>` stores a blob and answers **201** with the JSON string
 * `"disco://<host>/ddfs/<vol>/blob/<HH>/<name>$<ts>"`. A name that is not a valid DDFS name
 * with exactly one `$` → 403 `Invalid blob name`; an existing blob → 500 `File exists`; other
 * methods → 501; other paths → 404. The `/proxy/<node>/<METHOD>` prefix is stripped. Bodies
 * stream to disk (bounded memory); at most 3 uploads run at once with 100 queued, a full queue
 * → 503 (the Python client retries).
 *
 * The same server carries the master's internal storage API under `/ddfs/!...`
 * (node-api.ts), authenticated with `DISCO_SECRET`.
 */

import http from 'node:http';
import type { Readable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { z } from 'zod';
import { errorMessage } from '../../common/errors.js';
import { listen } from '../../common/http-listen.js';
import { Gate } from '../../node/gate.js';
import {
  AUTH_HEADER,
  DeleteRequestSchema,
  INTERNAL_PREFIX,
  PruneRequestSchema,
  ReplicateRequestSchema,
  verifyRequest,
} from '../node-api.js';
import { ObjectExistsError, TooLargeError } from './object-files.js';
import { BadObjectError, NodeStore } from './store.js';

/** Options of {@link startPutServer}. */
export interface PutServerOptions {
  store: NodeStore;
  /** Address to listen on ('' or undefined = all interfaces). */
  listenHost?: string;
  port: number;
  /** `DISCO_SECRET` (guards the internal API). */
  secret: string;
  maxActive?: number;
  maxQueued?: number;
  maxWaitMs?: number;
  log?: Logger;
}

/** A running PUT server. */
export interface PutServer {
  port: number;
  close(): Promise<void>;
}

const PROXY_PREFIX = /^\/proxy\/[^/]+\/[^/]+(\/.*)$/;
/** Largest JSON body of an internal request (a GC delete list). */
const MAX_INTERNAL_JSON = 256 * 1024 * 1024;

/** Start the PUT server; resolves once it listens. */
export async function startPutServer(opts: PutServerOptions): Promise<PutServer> {
  const log = opts.log ?? pino({ level: 'silent' });
  const { store } = opts;
  const gate = new Gate(opts.maxActive ?? 3, opts.maxQueued ?? 100, opts.maxWaitMs ?? 60_000);

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      log.warn({ err: e, url: req.url }, 'DDFS PUT request failed');
      if (!res.headersSent) text(res, 500, `Internal server error: ${errorMessage(e)}`);
      else res.destroy();
    });
  });
  // Blobs may be large and links slow: no overall request deadline.
  server.requestTimeout = 0;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let raw = (req.url ?? '/').split('?')[0];
    const proxied = PROXY_PREFIX.exec(raw);
    if (proxied) raw = proxied[1];
    // The master's many small calls reuse their connections (a new one per call cost more
    // than the call); a blob upload is one long request, and its connection goes with it.
    if (raw.startsWith(INTERNAL_PREFIX)) return internal(req, res, raw);
    res.setHeader('Connection', 'close');
    if (!raw.startsWith('/ddfs/')) return drain(req, res, 404, 'Not found.');
    if (req.method !== 'PUT') return drain(req, res, 501, 'Method not supported');
    const obj = decode(raw.slice('/ddfs/'.length));
    if (obj === null || !NodeStore.validBlobName(obj)) return drain(req, res, 403, 'Invalid blob name');
    const slot = await gate.acquire();
    if (slot === 'full' || slot === 'timeout')
      return drain(req, res, 503, 'Maximum number of uploaders reached. Try again later');
    try {
      const url = await store.putBlob(obj, req);
      log.debug({ obj, url }, 'blob stored');
      json(res, 201, url);
    } catch (e) {
      if (e instanceof ObjectExistsError) return drain(req, res, 500, 'File exists');
      if (e instanceof TooLargeError) return drain(req, res, 413, 'Blob too large');
      if (e instanceof BadObjectError) return drain(req, res, 403, 'Invalid blob name');
      log.warn({ err: e, obj }, 'blob upload failed');
      return drain(req, res, 500, `Write failed: ${errorMessage(e)}`);
    } finally {
      slot();
    }
  }

  async function internal(req: http.IncomingMessage, res: http.ServerResponse, raw: string): Promise<void> {
    const method = req.method ?? 'GET';
    const authHeader = req.headers[AUTH_HEADER];
    if (!verifyRequest(opts.secret, method, raw, typeof authHeader === 'string' ? authHeader : undefined))
      return drain(req, res, 401, 'Unauthorized');
    const parts = raw
      .slice(INTERNAL_PREFIX.length)
      .split('/')
      .map((p) => decode(p));
    if (parts.some((p) => p === null)) return drain(req, res, 400, 'Bad path');
    const [op, a, b] = parts as string[];
    try {
      if (method === 'GET' && op === 'tags' && parts.length === 1) return json(res, 200, store.listTags());
      if (method === 'GET' && op === 'tag' && parts.length === 2) {
        const v = store.tagVersion(a);
        return v ? json(res, 200, v) : text(res, 404, 'Not found.');
      }
      if (method === 'GET' && op === 'tagdata' && parts.length === 3) {
        let file: { size: number; stream: Readable };
        try {
          file = await store.openTag(a, b);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') return text(res, 404, 'Not found.');
          throw e;
        }
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': file.size });
        file.stream.pipe(res);
        await new Promise<void>((resolve) => {
          res.on('close', resolve);
          file.stream.on('error', () => {
            res.destroy();
            resolve();
          });
        });
        return;
      }
      if (method === 'PUT' && op === 'tagdata' && parts.length === 2)
        return json(res, 200, { vol: await store.putTagData(a, req) });
      if (method === 'POST' && op === 'tagcommit' && parts.length === 3)
        return json(res, 200, { url: await store.commitTag(a, b) });
      if (method === 'GET' && op === 'objects' && parts.length === 1)
        return json(res, 200, await store.listObjects());
      if (method === 'POST' && op === 'delete' && parts.length === 1) {
        const body = DeleteRequestSchema.parse(await readJson(req));
        return json(res, 200, { deleted: await store.deleteObjects(body.objects, body.paranoid) });
      }
      if (method === 'POST' && op === 'partials' && a === 'prune' && parts.length === 2) {
        const body = PruneRequestSchema.parse(await readJson(req));
        return json(res, 200, { deleted: await store.prunePartials(body.olderThanMs) });
      }
      if (method === 'POST' && op === 'replicate' && parts.length === 1) {
        const body = ReplicateRequestSchema.parse(await readJson(req));
        return json(res, 200, { url: await store.replicate(body.vol, body.obj, body.to) });
      }
      return drain(req, res, 404, 'Not found.');
    } catch (e) {
      if (e instanceof BadObjectError || e instanceof z.ZodError || e instanceof SyntaxError)
        return drain(req, res, 400, errorMessage(e));
      if (e instanceof ObjectExistsError) return drain(req, res, 409, 'File exists');
      if (e instanceof TooLargeError) return drain(req, res, 413, 'Too large');
      throw e;
    }
  }

  return listen(server, opts.port, opts.listenHost);
}

function decode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_INTERNAL_JSON) throw new TooLargeError('request body too large');
    chunks.push(c as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function text(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function json(res: http.ServerResponse, status: number, data: unknown): void {
  const body = JSON.stringify(data);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** Answer without reading the body: the connection closes, so the unread rest is dropped. */
function drain(req: http.IncomingMessage, res: http.ServerResponse, status: number, body: string): void {
  text(res, status, body);
  req.resume();
}
