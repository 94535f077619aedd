/**
 * Blocking HTTP for the worker. The task runs synchronously (job functions, readers and the
 * protocol are all blocking), so HTTP requests are handed to a helper thread that runs them
 * with `node:http` while the task thread waits on a shared-memory flag (`Atomics.wait`).
 * Downloads stream straight into a file — memory stays bounded whatever the size — resume
 * with `Range: bytes=N-` after a broken connection, and retry 503 and connection errors with
 * a bounded back-off (wire spec §1.1).
 *
 * The helper thread's code is {@link serveRequests}, started from its own source text, so it
 * must only use its `deps` argument and JavaScript globals (no module-level names).
 *
 * @example
 * const size = downloadSync('http://node1:8989/disco/node1/ab/job/x', '/tmp/x');
 * const res = httpSync({ method: 'GET', url: 'http://master:8989/ddfs/tag/t' }); // res.body
 */
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { CommError } from '../../common/errors.js';

/** One request for the helper thread. */
export interface HttpRequest {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD';
  url: string;
  headers?: Record<string, string>;
  /** Request body: bytes, or text sent as UTF-8. */
  body?: string | Uint8Array;
  /** Stream this file as the request body (sets Content-Length). */
  bodyFile?: string;
  /** Write the response body to this file instead of returning it (resumable GET). */
  toFile?: string;
  /** Idle timeout per attempt, ms (no bytes for this long → the attempt fails). */
  timeoutMs?: number;
  /** Attempts for 503 answers and connection errors. */
  attempts?: number;
}

export interface HttpResponse {
  status: number;
  /** The body as UTF-8 text (empty when it went to `toFile`). */
  body: string;
  /** Bytes of body received (the file size for downloads). */
  size: number;
}

interface WireResult {
  ok: boolean;
  status: number;
  body?: string;
  size?: number;
  message?: string;
}

/** What {@link serveRequests} needs, passed in because it runs from its source text. */
interface HelperDeps {
  port: MessagePort;
  flag: Int32Array;
  http: typeof import('node:http');
  https: typeof import('node:https');
  fs: typeof import('node:fs');
}

/**
 * Runs in the helper thread: answers each request posted on `deps.port`, then raises the
 * shared flag so the waiting task thread wakes up.
 */
async function serveRequests(deps: HelperDeps): Promise<void> {
  const { port, flag, http, https, fs } = deps;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  interface Attempt {
    status: number;
    retry: boolean;
    message?: string;
    body?: string;
    size?: number;
  }

  function attempt(req: HttpRequest, have: number, hops = 0): Promise<Attempt> {
    return new Promise((resolve) => {
      let settled = false;
      const done = (a: Attempt) => {
        if (!settled) {
          settled = true;
          resolve(a);
        }
      };
      let u: URL;
      try {
        u = new URL(req.url);
      } catch {
        done({ status: 0, retry: false, message: `invalid URL ${req.url}` });
        return;
      }
      const lib = u.protocol === 'https:' ? https : http;
      const headers: Record<string, string | number> = { ...(req.headers ?? {}) };
      let bodySize = 0;
      if (req.bodyFile) {
        bodySize = fs.statSync(req.bodyFile).size;
        headers['Content-Length'] = bodySize;
      } else if (req.body !== undefined) {
        bodySize = Buffer.byteLength(req.body);
        headers['Content-Length'] = bodySize;
      }
      if (req.toFile && have > 0) headers.Range = `bytes=${have}-`;
      const timeout = req.timeoutMs ?? 60_000;
      const r = lib.request(u, { method: req.method, headers }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location && hops < 5) {
          res.resume();
          const next = new URL(res.headers.location, u).toString();
          attempt({ ...req, url: next }, have, hops + 1).then(done);
          return;
        }
        if (status === 503 || status < 200 || status >= 300) {
          const chunks: Buffer[] = [];
          let n = 0;
          res.on('data', (c: Buffer) => {
            if (n < 4096) chunks.push(c);
            n += c.length;
          });
          res.on('end', () =>
            done({
              status,
              retry: status === 503,
              message: `HTTP ${status}: ${Buffer.concat(chunks).toString('utf8').slice(0, 500)}`,
            }),
          );
          res.on('error', (e: Error) => done({ status: 0, retry: true, message: e.message }));
          return;
        }
        // 206 continues a partial file; anything else is the whole body from byte 0.
        const append = req.toFile !== undefined && status === 206 && have > 0;
        let expected = -1;
        const cl = res.headers['content-length'];
        if (cl !== undefined) expected = Number(cl);
        let got = 0;
        let fd = -1;
        const chunks: Buffer[] = [];
        try {
          if (req.toFile) fd = fs.openSync(req.toFile, append ? 'a' : 'w');
        } catch (e) {
          res.resume();
          done({ status: 0, retry: false, message: (e as Error).message });
          return;
        }
        const closeFd = () => {
          if (fd >= 0) fs.closeSync(fd);
          fd = -1;
        };
        res.on('data', (c: Buffer) => {
          got += c.length;
          if (fd >= 0) {
            let off = 0;
            while (off < c.length) off += fs.writeSync(fd, c, off);
          } else chunks.push(c);
        });
        res.on('end', () => {
          closeFd();
          if (expected >= 0 && got < expected) {
            done({ status, retry: true, message: `connection closed after ${got} of ${expected} bytes` });
            return;
          }
          const size = append ? have + got : got;
          done({ status, retry: false, size, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (e: Error) => {
          closeFd();
          done({ status: 0, retry: true, message: e.message });
        });
        res.on('aborted', () => {
          closeFd();
          done({ status: 0, retry: true, message: 'connection aborted' });
        });
      });
      r.setTimeout(timeout, () => r.destroy(new Error(`no data for ${timeout} ms`)));
      r.on('error', (e: Error) => done({ status: 0, retry: true, message: e.message }));
      if (req.bodyFile) {
        const rs = fs.createReadStream(req.bodyFile);
        rs.on('error', (e: Error) => {
          r.destroy(e);
          done({ status: 0, retry: false, message: e.message });
        });
        rs.pipe(r);
      } else {
        r.end(req.body);
      }
    });
  }

  async function handle(req: HttpRequest): Promise<WireResult> {
    const attempts = Math.max(1, req.attempts ?? 8);
    let last: Attempt = { status: 0, retry: false, message: 'no attempt made' };
    for (let i = 0; i < attempts; i++) {
      let have = 0;
      if (req.toFile && i > 0) {
        try {
          have = fs.statSync(req.toFile).size;
        } catch {
          have = 0;
        }
      }
      last = await attempt(req, have);
      if (!last.retry) break;
      // Back-off: 0.25 s, 0.5 s, 1 s, ... capped at 8 s, with jitter.
      if (i + 1 < attempts) await sleep(Math.min(8000, 250 * 2 ** i) * (0.5 + Math.random() / 2));
    }
    if (last.message !== undefined) return { ok: false, status: last.status, message: last.message };
    return { ok: true, status: last.status, body: last.body ?? '', size: last.size ?? 0 };
  }

  port.on('message', async (req: HttpRequest) => {
    let res: WireResult;
    try {
      res = await handle(req);
    } catch (e) {
      res = { ok: false, status: 0, message: (e as Error).message ?? String(e) };
    }
    port.postMessage(res);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
  });
}

interface Helper {
  worker: Worker;
  port: MessagePort;
  flag: Int32Array;
  dead: Error | null;
}

let helper: Helper | null = null;

function startHelper(): Helper {
  const sab = new SharedArrayBuffer(4);
  const { port1, port2 } = new MessageChannel();
  // `__name` covers bundlers that wrap nested functions for `keepNames`.
  const code =
    `const { workerData } = require('node:worker_threads');\nconst __name = (f) => f;\n` +
    `(${serveRequests.toString()})({ port: workerData.port, flag: new Int32Array(workerData.sab),` +
    ` http: require('node:http'), https: require('node:https'), fs: require('node:fs') });`;
  const worker = new Worker(code, { eval: true, workerData: { port: port2, sab }, transferList: [port2] });
  // Neither the thread nor the port may keep a finished worker process alive.
  worker.unref();
  port1.unref();
  const h: Helper = { worker, port: port1, flag: new Int32Array(sab), dead: null };
  worker.on('error', (e) => {
    h.dead = e;
  });
  worker.on('exit', (code) => {
    h.dead ??= new Error(`HTTP helper thread exited with code ${code}`);
  });
  return h;
}

/**
 * Run one HTTP request and block until it completes. Non-2xx answers (after retries of 503)
 * and connection failures throw {@link CommError} with the HTTP status (0 = no answer).
 */
export function httpSync(req: HttpRequest): HttpResponse {
  if (!helper || helper.dead) helper = startHelper();
  const h = helper;
  Atomics.store(h.flag, 0, 0);
  h.port.postMessage(ownBuffer(req));
  // Upper bound on the wait so a wedged helper cannot hang the task forever.
  const attempts = Math.max(1, req.attempts ?? 8);
  const deadline = Date.now() + attempts * ((req.timeoutMs ?? 60_000) + 10_000) + 60_000;
  for (;;) {
    const m = receiveMessageOnPort(h.port);
    if (m) {
      const r = m.message as WireResult;
      if (!r.ok) throw new CommError(r.message ?? 'request failed', req.url, r.status);
      return { status: r.status, body: r.body ?? '', size: r.size ?? 0 };
    }
    if (Date.now() > deadline) {
      void h.worker.terminate();
      helper = null;
      throw new CommError('HTTP request timed out', req.url, 0);
    }
    // The helper's own events (errors, exit) are delivered only when this thread is idle,
    // so a dead helper shows up as a missing reply until the deadline; keep waits short.
    Atomics.wait(h.flag, 0, 0, 200);
  }
}

/**
 * `req` with a body that is a view into part of a larger buffer replaced by a copy of just
 * its bytes: posting a view copies the whole buffer under it (e.g. Node's 8 KiB pool).
 */
function ownBuffer(req: HttpRequest): HttpRequest {
  const b = req.body;
  if (typeof b === 'string' || b === undefined || b.byteLength === b.buffer.byteLength) return req;
  return { ...req, body: new Uint8Array(b) };
}

/** Download `url` into `dest` (resuming on broken connections); returns the size in bytes. */
export function downloadSync(
  url: string,
  dest: string,
  opts: { headers?: Record<string, string>; timeoutMs?: number; attempts?: number } = {},
): number {
  return httpSync({ method: 'GET', url, toFile: dest, ...opts }).size;
}
