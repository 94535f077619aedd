/**
 * Streaming one blob from its replicas: one plain HTTP GET per replica (no per-chunk round
 * trips), the bytes passed on as they arrive. When a replica fails — before the first byte or
 * in the middle — the next replica is asked for the rest with `Range: bytes=<offset>-`, so a
 * node dying during a read costs nothing but the switch. A busy replica (503) is retried a
 * few times with back-off before moving on. Memory stays bounded by the socket buffers.
 *
 * @example
 * for await (const b of streamBlob(['http://n1:8989/ddfs/vol0/blob/ab/x$1-2-3'])) out.write(b);
 */
import http from 'node:http';
import https from 'node:https';
import { CommError } from '../../common/errors.js';

/** Options of {@link streamBlob}. */
export interface StreamBlobOptions {
  /** Byte offset to start at. */
  start?: number;
  /** Called when a replica fails and the next one is tried. */
  onReplicaError?: (url: string, err: Error) => void;
  /** Per-replica inactivity limit (default 60 s). */
  idleTimeoutMs?: number;
  /** Attempts on a busy (503) replica before moving on (default 5). */
  busyRetries?: number;
  signal?: AbortSignal;
}

function get(url: string, offset: number, idleMs: number): Promise<http.IncomingMessage> {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    const req = lib.get(u, { headers, agent: false }, resolve);
    req.setTimeout(idleMs, () => req.destroy(new Error(`no data for ${idleMs / 1000} s`)));
    req.on('error', reject);
  });
}

async function drainText(res: http.IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const b of res) {
    if (n < 4096) parts.push(b as Buffer);
    n += (b as Buffer).length;
  }
  return Buffer.concat(parts).toString('utf8').slice(0, 500).trim();
}

/** The blob's bytes from the first replica that serves them (see the module comment). */
export async function* streamBlob(
  replicas: readonly string[],
  opts: StreamBlobOptions = {},
): AsyncGenerator<Buffer> {
  if (replicas.length === 0) throw new CommError('blob has no replicas', undefined, 404);
  let offset = opts.start ?? 0;
  let last: Error = new CommError('no replica answered', replicas[0]);
  const idle = opts.idleTimeoutMs ?? 60_000;
  for (const url of replicas) {
    for (let busy = 0; ; busy++) {
      opts.signal?.throwIfAborted();
      let res: http.IncomingMessage;
      try {
        res = await get(url, offset, idle);
      } catch (e) {
        last = new CommError(`GET failed: ${(e as Error).message}`, url, 0);
        break;
      }
      const status = res.statusCode ?? 0;
      if (status === 503 && busy < (opts.busyRetries ?? 5)) {
        res.resume();
        await new Promise((ok) => setTimeout(ok, Math.min(5000, 100 * 2 ** busy * (1 + Math.random()))));
        continue;
      }
      if (status !== 200 && status !== 206) {
        last = new CommError((await drainText(res).catch(() => '')) || `HTTP ${status}`, url, status);
        break;
      }
      // A 200 to a ranged request carries the whole blob: skip what was delivered already.
      let skip = status === 200 ? offset : 0;
      try {
        for await (const chunk of res) {
          let b = chunk as Buffer;
          if (skip > 0) {
            if (b.length <= skip) {
              skip -= b.length;
              continue;
            }
            b = b.subarray(skip);
            skip = 0;
          }
          offset += b.length;
          yield b;
        }
        if (!res.complete) throw new Error('connection closed before the end of the blob');
        return;
      } catch (e) {
        last = new CommError(`read failed at byte ${offset}: ${(e as Error).message}`, url, 0);
        res.destroy();
        break;
      }
    }
    opts.onReplicaError?.(url, last);
  }
  throw last;
}

/**
 * Like {@link streamBlob}, but hands the bytes to `write` from the socket's `data` events (no
 * async iteration per chunk: the fast path of `ddfs cat`). `write` may return a promise: the
 * transfer pauses until it resolves (back-pressure). Resolves with the number of bytes.
 */
export async function pipeBlob(
  replicas: readonly string[],
  write: (b: Buffer) => void | Promise<void>,
  opts: StreamBlobOptions = {},
): Promise<number> {
  if (replicas.length === 0) throw new CommError('blob has no replicas', undefined, 404);
  const start = opts.start ?? 0;
  let offset = start;
  let last: Error = new CommError('no replica answered', replicas[0]);
  const idle = opts.idleTimeoutMs ?? 60_000;
  for (const url of replicas) {
    for (let busy = 0; ; busy++) {
      opts.signal?.throwIfAborted();
      let res: http.IncomingMessage;
      try {
        res = await get(url, offset, idle);
      } catch (e) {
        last = new CommError(`GET failed: ${(e as Error).message}`, url, 0);
        break;
      }
      const status = res.statusCode ?? 0;
      if (status === 503 && busy < (opts.busyRetries ?? 5)) {
        res.resume();
        await new Promise((ok) => setTimeout(ok, Math.min(5000, 100 * 2 ** busy * (1 + Math.random()))));
        continue;
      }
      if (status !== 200 && status !== 206) {
        last = new CommError((await drainText(res).catch(() => '')) || `HTTP ${status}`, url, status);
        break;
      }
      const r = res;
      let skip = status === 200 ? offset : 0;
      let sinkError: Error | null = null;
      const ok = await new Promise<boolean>((resolve) => {
        let failed = false;
        const fail = (e: Error, sink = false) => {
          if (failed) return;
          failed = true;
          if (sink) sinkError = e;
          else last = new CommError(`read failed at byte ${offset}: ${e.message}`, url, 0);
          r.destroy();
          resolve(false);
        };
        r.on('data', (chunk: Buffer) => {
          let b = chunk;
          if (skip > 0) {
            if (b.length <= skip) {
              skip -= b.length;
              return;
            }
            b = b.subarray(skip);
            skip = 0;
          }
          offset += b.length;
          let p: void | Promise<void>;
          try {
            p = write(b);
          } catch (e) {
            fail(e as Error, true);
            return;
          }
          if (p) {
            r.pause();
            p.then(
              () => r.resume(),
              (e: Error) => fail(e, true),
            );
          }
        });
        r.on('error', fail);
        r.on('aborted', () => fail(new Error('connection closed before the end of the blob')));
        r.on('end', () => {
          if (!failed) {
            if (r.complete) resolve(true);
            else fail(new Error('connection closed before the end of the blob'));
          }
        });
      });
      if (ok) return offset - start;
      // The destination failed: not the replica's fault, nothing to retry.
      if (sinkError) throw sinkError;
      break;
    }
    opts.onReplicaError?.(url, last);
  }
  throw last;
}
