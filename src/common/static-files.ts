/**
 * Serving files over HTTP the way Disco's clients expect (wire spec §1.1, §5.1): byte ranges
 * answered with 206 + `Content-Range`, an unsatisfiable range answered 200 with the full
 * body (never 416), directories 403, missing or unsafe paths 404. Streams, never buffers.
 *
 * @example
 * if (req.url.startsWith('/disco/')) return serveFile(req, res, discoData, rawPathAfterPrefix);
 */
import fs from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { safeJoin } from './fs-atomic.js';

/** Read size of served files: large reads, few thread-pool round trips per byte served. */
const READ_CHUNK = 1024 * 1024;

export interface ByteRange {
  start: number;
  end: number; // inclusive
}

/** Parse a single `bytes=a-b`, `bytes=a-` or `bytes=-n` range; null if absent, invalid or unsatisfiable. */
export function parseRange(header: string | undefined, size: number): ByteRange | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return null;
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || end < start) return null;
  return { start, end };
}

/**
 * Send a body, honouring `Range` (any body, as mochiweb does). An unsatisfiable range gets a
 * 200 with the whole body, except `emptyWhenPastEnd` (rawevents): a range starting at or past
 * the end gets an empty 206-less 200 (spec §0.1).
 */
export function sendBody(
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  contentType: string,
  opts: { emptyWhenPastEnd?: boolean; headers?: Record<string, string> } = {},
): void {
  const size = body.length;
  const range = parseRange(req.headers.range, size);
  const headers = { 'Content-Type': contentType, 'Accept-Ranges': 'bytes', ...opts.headers };
  if (range) {
    res.writeHead(206, {
      ...headers,
      'Content-Range': `bytes ${range.start}-${range.end}/${size}`,
      'Content-Length': range.end - range.start + 1,
    });
    res.end(req.method === 'HEAD' ? undefined : body.subarray(range.start, range.end + 1));
    return;
  }
  if (opts.emptyWhenPastEnd && req.headers.range && pastEnd(req.headers.range, size)) {
    res.writeHead(200, { ...headers, 'Content-Length': 0 });
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'Content-Length': size });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function pastEnd(header: string, size: number): boolean {
  const m = /^bytes=(\d+)-/.exec(header.trim());
  return !!m && Number(m[1]) >= size;
}

/**
 * Serve `root/relPath` (relPath as it appears in the URL, still percent-encoded). Returns
 * after the response is finished or an error status was sent.
 */
export async function serveFile(
  req: IncomingMessage,
  res: ServerResponse,
  root: string,
  relPath: string,
  opts: { emptyWhenPastEnd?: boolean; contentType?: string } = {},
): Promise<void> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(relPath);
  } catch {
    return plain(res, 404, 'Not found.');
  }
  const file = safeJoin(root, decoded);
  if (!file) return plain(res, 404, 'Not found.');
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, 'r');
  } catch (e) {
    // A directory that cannot be opened for reading is still a directory.
    if ((e as NodeJS.ErrnoException).code === 'EISDIR') return plain(res, 403, 'Forbidden');
    return plain(res, 404, 'Not found.');
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) return plain(res, 403, 'Forbidden');
    const size = st.size;
    const range = parseRange(req.headers.range, size);
    const headers: Record<string, string | number> = {
      'Content-Type': opts.contentType ?? 'application/octet-stream',
      'Accept-Ranges': 'bytes',
    };
    let start = 0;
    let end = size - 1;
    if (range) {
      ({ start, end } = range);
      res.writeHead(206, {
        ...headers,
        'Content-Range': `bytes ${start}-${end}/${size}`,
        'Content-Length': end - start + 1,
      });
    } else if (opts.emptyWhenPastEnd && req.headers.range && pastEnd(req.headers.range, size)) {
      res.writeHead(200, { ...headers, 'Content-Length': 0 });
      res.end();
      return;
    } else {
      res.writeHead(200, { ...headers, 'Content-Length': size });
    }
    if (req.method === 'HEAD' || size === 0) {
      res.end();
      return;
    }
    await sendFileRange(fh, res, start, end);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Buffers of {@link READ_CHUNK} kept for the next responses (see {@link sendFileRange}). */
const idleBuffers: Buffer[] = [];
/** At most this many idle buffers are kept (16 MiB). */
const MAX_IDLE_BUFFERS = 16;
/** Buffers per response: one being read while the others are on the socket. */
const BUFFERS_PER_RESPONSE = 3;

/**
 * Send bytes `start..end` (inclusive) of an open file as the body of `res`: reads of
 * {@link READ_CHUNK} into buffers reused from response to response, each read again once the
 * socket has passed it on. A stream's fresh buffer per read costs page faults and garbage
 * collection, about a third of the server's time per byte. Resolves once the response is
 * finished or closed; a file that shrank meanwhile ends the response early (the client sees
 * fewer bytes than announced).
 */
function sendFileRange(fh: fs.FileHandle, res: ServerResponse, start: number, end: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const free = Array.from(
      { length: BUFFERS_PER_RESPONSE },
      () => idleBuffers.pop() ?? Buffer.allocUnsafeSlow(READ_CHUNK),
    );
    let onSocket = 0;
    let pos = start;
    let reading = false;
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      resolve();
    };
    const release = (b: Buffer) => {
      if (idleBuffers.length < MAX_IDLE_BUFFERS) idleBuffers.push(b);
    };
    res.once('close', () => {
      // Buffers still on the socket are dropped with it, never reused.
      if (!reading) for (const b of free.splice(0)) release(b);
      stop();
    });
    const pump = () => {
      if (reading || stopped || res.destroyed || pos > end || free.length === 0) return;
      const b = free.pop() as Buffer;
      reading = true;
      fh.read(b, 0, Math.min(b.length, end - pos + 1), pos).then(
        ({ bytesRead }) => {
          reading = false;
          if (res.destroyed || bytesRead === 0) {
            release(b);
            if (res.destroyed) for (const x of free.splice(0)) release(x);
            else res.destroy();
            return;
          }
          pos += bytesRead;
          onSocket++;
          res.write(b.subarray(0, bytesRead), (e) => {
            onSocket--;
            if (e) return;
            if (res.destroyed) release(b);
            else {
              free.push(b);
              pump();
            }
            if (pos > end && onSocket === 0) for (const x of free.splice(0)) release(x);
          });
          if (pos > end) res.end();
          else pump();
        },
        () => {
          reading = false;
          release(b);
          res.destroy();
        },
      );
    };
    pump();
  });
}

/** A plain-text reply. */
export function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
