/**
 * HTTP for the client: requests to the master and reads of remote data, with the behaviour
 * the original client has (`lib/disco/comm.py`, wire spec §1.1): every non-2xx answer is a
 * {@link CommError} carrying the status; 503 ("busy") and connection errors are retried with
 * a bounded, randomised exponential back-off; redirects are followed; remote data is read in
 * 10 MiB `Range` chunks, the total size taken from `Content-Range` (else `Content-Length`).
 *
 * Built on `node:http` rather than `fetch`, because loading undici costs tens of
 * milliseconds on the first call and the trivial-job latency budget is 100 ms.
 *
 * @example
 * const r = await request('http://master:8989/disco/version');
 * JSON.parse(r.body.toString()); // '0.4.5'
 * for await (const chunk of readRange('http://node:8989/disco/node/ab/job/out')) sink(chunk);
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { CommError } from '../common/errors.js';

/** Size of one ranged read of remote data (the original's `CHUNK_SIZE`). */
export const CHUNK_SIZE = 10 * 1024 * 1024;

/** How failed attempts are retried: sleep `random(1, 2^n) × baseDelayMs` (capped) before attempt n+1. */
export interface RetryPolicy {
  /** Retries after the first attempt (the original makes 9). */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * The default: 9 retries like `comm.request`, but on a quarter-second scale and capped at 8 s,
 * so that a master that is down is reported within about half a minute rather than minutes.
 */
export const DEFAULT_RETRY: RetryPolicy = { retries: 9, baseDelayMs: 250, maxDelayMs: 8000 };
/** No retries (used by probes such as `disco status`). */
export const NO_RETRY: RetryPolicy = { retries: 0, baseDelayMs: 0, maxDelayMs: 0 };

export interface RequestOptions {
  method?: string;
  body?: Uint8Array | string;
  headers?: Record<string, string>;
  /** Per-attempt time limit (default 60 s). */
  timeoutMs?: number;
  /** Cancels the request, including back-off sleeps. */
  signal?: AbortSignal;
  retry?: RetryPolicy;
  /**
   * Whether repeating the request is harmless. When false, only failures that certainly
   * happened before the server saw the request (refused connection, unknown host, 503) are
   * retried — a job submission must never be sent twice.
   */
  idempotent?: boolean;
  /** Largest response body accepted (default 1 GiB, the largest job pack). */
  maxBytes?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The URL that answered (after redirects). */
  url: string;
}

const MAX_REDIRECTS = 10;
/** Connection errors that mean the request never reached a server. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** A failure of one attempt that may be retried. */
class AttemptError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status = 0,
  ) {
    super(message);
  }
}

/**
 * Make an HTTP request, retrying 503 answers and connection errors. Resolves with any 2xx
 * answer; rejects with {@link CommError} (status 0 for connection errors and time-outs).
 */
export async function request(url: string, opts: RequestOptions = {}): Promise<HttpResponse> {
  const retry = opts.retry ?? DEFAULT_RETRY;
  const idempotent = opts.idempotent ?? true;
  let target = url;
  let redirects = 0;
  for (let attempt = 0; ; attempt++) {
    opts.signal?.throwIfAborted();
    try {
      const res = await attemptOnce(target, opts);
      if (res.status >= 300 && res.status < 400 && res.headers.location) {
        if (++redirects > MAX_REDIRECTS) throw new CommError('too many redirects', url, res.status);
        target = new URL(res.headers.location, target).href;
        attempt--;
        continue;
      }
      if (res.status === 503) throw new AttemptError(errorText(res), 'E503', 503);
      if (res.status < 200 || res.status >= 300) throw new CommError(errorText(res), target, res.status);
      return res;
    } catch (e) {
      if (!(e instanceof AttemptError)) throw e;
      const retriable = e.status === 503 || idempotent || NOT_SENT.has(e.code);
      if (!retriable || attempt >= retry.retries) {
        throw new CommError(e.message, target, e.status);
      }
      await sleep(backoffDelay(attempt, retry), opts.signal);
    }
  }
}

/** Delay before retry number `attempt + 1`: random in [1, 2^attempt] × base, capped. */
export function backoffDelay(attempt: number, p: RetryPolicy): number {
  const factor = 1 + Math.floor(Math.random() * 2 ** Math.min(attempt, 20));
  return Math.min(p.maxDelayMs, factor * p.baseDelayMs);
}

function errorText(res: HttpResponse): string {
  const text = res.body.subarray(0, 2000).toString('utf8').trim();
  return text || `HTTP ${res.status}`;
}

function attemptOnce(url: string, opts: RequestOptions): Promise<HttpResponse> {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : null;
  if (!lib) return Promise.reject(new CommError(`unsupported URL scheme ${u.protocol}`, url));
  const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
  const method = opts.method ?? (body ? 'POST' : 'GET');
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const maxBytes = opts.maxBytes ?? 1024 * 1024 * 1024;
  const headers: Record<string, string> = { ...opts.headers };
  if (body) headers['content-length'] = String(body.length);
  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, res?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(res!);
    };
    const req = lib.request(u, { method, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (b: Buffer) => {
        size += b.length;
        if (size > maxBytes) {
          req.destroy();
          finish(new CommError(`response larger than ${maxBytes} bytes`, url, res.statusCode ?? 0));
          return;
        }
        parts.push(b);
      });
      res.on('end', () =>
        finish(null, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), url }),
      );
      res.on('error', (e: NodeJS.ErrnoException) =>
        finish(new AttemptError(e.message || 'connection lost', e.code ?? 'ERESPONSE')),
      );
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish(new AttemptError(`no answer within ${timeoutMs / 1000} s`, 'ETIMEDOUT'));
    }, timeoutMs);
    const onAbort = () => {
      req.destroy();
      finish(opts.signal?.reason instanceof Error ? opts.signal.reason : new Error('aborted'));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e: NodeJS.ErrnoException) =>
      finish(new AttemptError(e.message || e.code || 'connection failed', e.code ?? 'ECONN')),
    );
    req.end(body);
  });
}

/** Sleep that ends early (rejecting) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Total size from `Content-Range: bytes a-b/TOTAL`, else `Content-Length`; undefined if unknown. */
export function totalSize(headers: IncomingHttpHeaders): number | undefined {
  const cr = headers['content-range'];
  if (typeof cr === 'string') {
    const m = /\/(\d+)\s*$/.exec(cr);
    if (m) return Number(m[1]);
  }
  const cl = headers['content-length'];
  return typeof cl === 'string' && /^\d+$/.test(cl) ? Number(cl) : undefined;
}

export interface RangeOptions extends Omit<RequestOptions, 'method' | 'body'> {
  /** Byte offset to start at. */
  start?: number;
  chunkSize?: number;
}

/**
 * Read a remote file as a sequence of chunks, one ranged GET per chunk, so memory stays
 * bounded by the chunk size whatever the file size. A server that ignores `Range` (200 with
 * the whole body) is handled: the body is used from `start` and the read ends.
 */
export async function* readRange(url: string, opts: RangeOptions = {}): AsyncGenerator<Buffer> {
  const chunk = opts.chunkSize ?? CHUNK_SIZE;
  let offset = opts.start ?? 0;
  let total: number | undefined;
  for (;;) {
    if (total !== undefined && offset >= total) return;
    const end = (total !== undefined ? Math.min(total, offset + chunk) : offset + chunk) - 1;
    const res = await request(url, {
      ...opts,
      method: 'GET',
      headers: { ...opts.headers, range: `bytes=${offset}-${end}` },
    });
    if (res.status !== 206) {
      // Whole body (no range support, or an unsatisfiable range answered 200 as mochiweb does).
      const rest = res.body.subarray(Math.min(offset, res.body.length));
      if (rest.length > 0) yield rest;
      return;
    }
    // Only Content-Range carries the total here: a 206's Content-Length is the chunk's.
    const cr = res.headers['content-range'];
    if (typeof cr === 'string') total = totalSize({ 'content-range': cr });
    if (res.body.length === 0) return;
    offset += res.body.length;
    yield res.body;
  }
}
