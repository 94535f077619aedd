/**
 * Serving files over HTTP the way Disco's clients expect (wire spec §1.1, §5.1): byte ranges
 * answered with 206 + `Content-Range`, an unsatisfiable range answered 200 with the full
 * body (never 416), directories 403, missing or unsafe paths 404. Streams, never buffers.
 *
 * @example
 * if (req.url.startsWith('/disco/')) return serveFile(req, res, discoData, rawPathAfterPrefix);
 */
import { createReadStream } from 'node:fs';
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
  let st: Awaited<ReturnType<typeof fs.stat>>;
  try {
    st = await fs.stat(file);
  } catch {
    return plain(res, 404, 'Not found.');
  }
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
  await new Promise<void>((resolve) => {
    const stream = createReadStream(file, { start, end, highWaterMark: READ_CHUNK });
    stream.on('error', () => {
      res.destroy();
      resolve();
    });
    res.on('close', () => {
      stream.destroy();
      resolve();
    });
    stream.pipe(res);
  });
}

/** A plain-text reply. */
export function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
