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

/** A piece {@link streamBlob} has from {@link pipeBlob}: the transfer waits until it is taken. */
interface Handoff {
  b: Buffer;
  taken(): void;
  refused(e: Error): void;
}

/**
 * The blob's bytes from the first replica that serves them (see the module comment):
 * {@link pipeBlob}'s transfer, each piece handed on once the consumer asks for the next.
 */
export async function* streamBlob(
  replicas: readonly string[],
  opts: StreamBlobOptions = {},
): AsyncGenerator<Buffer> {
  const state: { piece: Handoff | null; ended: { error?: unknown } | null; wake: (() => void) | null } = {
    piece: null,
    ended: null,
    wake: null,
  };
  const wake = () => {
    const w = state.wake;
    state.wake = null;
    w?.();
  };
  const transfer = pipeBlob(
    replicas,
    (b) =>
      new Promise<void>((taken, refused) => {
        state.piece = { b, taken, refused };
        wake();
      }),
    opts,
  ).then(
    () => {
      state.ended = {};
      wake();
    },
    (error: unknown) => {
      state.ended = { error };
      wake();
    },
  );
  try {
    for (;;) {
      const p = state.piece;
      if (p) {
        yield p.b;
        state.piece = null;
        p.taken();
      } else if (state.ended) {
        if ('error' in state.ended) throw state.ended.error;
        return;
      } else await new Promise<void>((w) => (state.wake = w));
    }
  } finally {
    // The consumer stopped early: the transfer ends, its connection closed.
    if (!state.ended) {
      state.piece?.refused(new Error('the reader stopped'));
      await transfer;
    }
  }
}

/** What one GET of one replica came to. */
type Outcome =
  | { kind: 'done' }
  /** An answer other than the blob (503 included), with the start of its body. */
  | { kind: 'status'; status: number; text: string }
  /** The replica failed: no answer, or the connection broke. */
  | { kind: 'failed'; message: string }
  /** `write` failed: not the replica's fault. */
  | { kind: 'sink'; error: Error };

/** How an attempt hands on the body: `body(status)` gives the writer for that answer. */
interface Attempt {
  url: string;
  offset: number;
  idleMs: number;
  body: (status: number) => (b: Buffer) => void | Promise<void>;
  /** Where the transfer is (for messages). */
  position: () => number;
}

async function httpAttempt(a: Attempt): Promise<Outcome> {
  let res: http.IncomingMessage;
  try {
    res = await get(a.url, a.offset, a.idleMs);
  } catch (e) {
    return { kind: 'failed', message: `GET failed: ${(e as Error).message}` };
  }
  const status = res.statusCode ?? 0;
  if (status !== 200 && status !== 206) {
    if (status === 503) {
      res.resume();
      return { kind: 'status', status, text: '' };
    }
    return { kind: 'status', status, text: await drainText(res).catch(() => '') };
  }
  const r = res;
  const write = a.body(status);
  return new Promise<Outcome>((resolve) => {
    let settled = false;
    let writing: Promise<void> = Promise.resolve();
    const settle = (o: Outcome) => {
      if (settled) return;
      settled = true;
      if (o.kind !== 'done') r.destroy();
      resolve(o);
    };
    // Reported once the write under way is done: the next attempt's writes come after it.
    const broken = (e: Error) =>
      void writing.then(() =>
        settle({ kind: 'failed', message: `read failed at byte ${a.position()}: ${e.message}` }),
      );
    r.on('data', (chunk: Buffer) => {
      let p: void | Promise<void>;
      try {
        p = write(chunk);
      } catch (e) {
        settle({ kind: 'sink', error: e as Error });
        return;
      }
      if (p) {
        r.pause();
        // Waiting on the consumer is not the replica's silence: no idle limit meanwhile.
        r.socket?.setTimeout(0);
        writing = p.then(
          () => {
            if (settled) return;
            r.socket?.setTimeout(a.idleMs);
            r.resume();
          },
          (e: Error) => settle({ kind: 'sink', error: e }),
        );
      }
    });
    r.on('error', broken);
    r.on('aborted', () => broken(new Error('connection closed before the end of the blob')));
    r.on('end', () => {
      // Done once the last write is.
      if (r.complete) void writing.then(() => settle({ kind: 'done' }));
      else broken(new Error('connection closed before the end of the blob'));
    });
  });
}

/**
 * Like {@link streamBlob}, but hands the bytes to `write` as they arrive (no async iteration
 * per chunk: the fast path of `ddfs cat`).
 * `write` may return a promise: the transfer pauses until it resolves (back-pressure).
 * Resolves with the number of bytes.
 *
 * @example
 * await pipeBlob(replicas, (b) => { writeSync(fd, b); });
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
  const idleMs = opts.idleTimeoutMs ?? 60_000;
  // A 200 to a ranged request carries the whole blob: what was delivered already is skipped.
  const body = (status: number) => {
    let skip = status === 200 ? offset : 0;
    return (chunk: Buffer): void | Promise<void> => {
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
      return write(b);
    };
  };
  for (const url of replicas) {
    for (let busy = 0; ; busy++) {
      opts.signal?.throwIfAborted();
      const a: Attempt = { url, offset, idleMs, body, position: () => offset };
      const o = await httpAttempt(a);
      if (o.kind === 'done') return offset - start;
      if (o.kind === 'sink') throw o.error;
      if (o.kind === 'status' && o.status === 503 && busy < (opts.busyRetries ?? 5)) {
        await new Promise((ok) => setTimeout(ok, Math.min(5000, 100 * 2 ** busy * (1 + Math.random()))));
        continue;
      }
      if (o.kind === 'status') last = new CommError(o.text || `HTTP ${o.status}`, url, o.status);
      else if (o.kind === 'failed') last = new CommError(o.message, url, 0);
      break;
    }
    opts.onReplicaError?.(url, last);
  }
  throw last;
}
