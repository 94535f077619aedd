/**
 * Uploading one blob replica: HTTP PUT of a source to a node's PUT URL, streamed (bounded
 * memory), expecting **201** with the JSON string `disco://...` URL (wire spec §5.1). A busy
 * node (503) is retried with back-off; any other failure is a {@link CommError} carrying the
 * URL, so the caller can exclude that node and ask the master for another one, except a
 * failure of the source itself: a {@link BlobSourceError}.
 */
import { close, createReadStream, open, read } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import { Readable } from 'node:stream';
import { CommError } from '../../common/errors.js';

/**
 * The blob's source failed (a chunk whose building failed, an unreadable file), not the
 * node: no other node would do better, so uploads are not retried elsewhere. `cause` is the
 * source's error, whose message this repeats.
 *
 * @example
 * try { await putBlob(url, source); }
 * catch (e) { if (e instanceof BlobSourceError) throw e.cause; } // the input's own error
 */
export class BlobSourceError extends Error {
  override name = 'BlobSourceError';
  override readonly cause: Error;
  constructor(cause: unknown) {
    const error = cause instanceof Error ? cause : new Error(String(cause));
    super(error.message);
    this.cause = error;
  }
}

/** Something that can be pushed as a blob, possibly several times (retries, replicas). */
export type BlobSource =
  /** A local file. */
  | { file: string }
  /** Bytes in memory. */
  | { data: Uint8Array | string }
  /** A factory of fresh streams (called once per upload). */
  | { open: () => Readable; size?: number };

const BUSY_RETRIES = 5;
/** Read size of file uploads (larger reads, fewer writes to the socket). */
const READ_CHUNK = 1 << 20;
/** Per-upload inactivity limit. */
const PUT_IDLE_TIMEOUT_MS = 5 * 60_000;

/** An upload's body: a stream, or a file (sent by {@link pumpFile}). */
type Body =
  | { stream: Readable; file?: undefined; size: number | undefined }
  | { stream?: undefined; file: string; size: number };

/** A fresh stream of `source`'s bytes (a file read 1 MiB at a time). */
export function sourceStream(source: BlobSource): Readable {
  if ('file' in source) return createReadStream(source.file, { highWaterMark: READ_CHUNK });
  if ('data' in source) return Readable.from([Buffer.from(source.data)]);
  return source.open();
}

async function body(source: BlobSource): Promise<Body> {
  if ('file' in source) return { file: source.file, size: (await fs.stat(source.file)).size };
  const size = 'data' in source ? Buffer.byteLength(source.data) : source.size;
  return { stream: sourceStream(source), size };
}

/** Buffers a file upload cycles through: one being read while others are on the socket. */
const FILE_BUFFERS = 4;

/**
 * Send a file as the request body through {@link FILE_BUFFERS} buffers of {@link READ_CHUNK},
 * each read again once the socket has passed it on: no new memory per read (a stream's fresh
 * buffers cost page faults and garbage collection, ~10 % of an upload's time on loopback).
 * The reads run on the thread pool, one at a time, while the socket sends the buffers before:
 * the copy out of the page cache overlaps the copy into the socket (blocking reads on this
 * thread were 5-25 % slower on two cores, and would stall a node that replicates a blob).
 * A failed read destroys the request.
 */
function pumpFile(file: string, size: number, req: http.ClientRequest, onBytes?: (n: number) => void): void {
  let fd = -1;
  const free: Buffer[] = Array.from({ length: FILE_BUFFERS }, () => Buffer.allocUnsafeSlow(READ_CHUNK));
  let pos = 0;
  let done = false;
  let reading = false;
  // Never while a read is under way: the number could name another file by the time it runs.
  const closeFile = () => {
    if (fd >= 0 && !reading) close(fd, () => undefined);
    if (!reading) fd = -1;
  };
  const finish = () => {
    done = true;
    closeFile();
  };
  req.once('close', finish);
  const pump = () => {
    if (done || reading || free.length === 0) return;
    const b = free.pop() as Buffer;
    reading = true;
    // Never past the announced length, should the file grow meanwhile.
    read(fd, b, 0, Math.min(b.length, size - pos), pos, (e, n) => {
      reading = false;
      if (done) return closeFile();
      if (e || (n === 0 && pos < size)) {
        finish();
        req.destroy(new BlobSourceError(e ?? new Error(`${file} shrank to ${pos} bytes during the upload`)));
        return;
      }
      if (n === 0) {
        finish();
        req.end();
        return;
      }
      pos += n;
      onBytes?.(n);
      req.write(b.subarray(0, n), () => {
        free.push(b);
        pump();
      });
      pump();
    });
  };
  open(file, 'r', (e, f) => {
    if (e) return req.destroy(new BlobSourceError(e));
    fd = f;
    if (done) closeFile();
    else pump();
  });
}

function putOnce(
  url: string,
  source: BlobSource,
  onBytes?: (n: number) => void,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    body(source).then(
      (b) => {
        const { stream, size } = b;
        // A bad URL or header throws here, synchronously: the upload fails rather than hang.
        try {
          upload(b, stream, size);
        } catch (e) {
          stream?.destroy();
          reject(e);
        }
      },
      (e: unknown) => reject(new BlobSourceError(e)),
    );

    function upload(b: Body, stream: Readable | undefined, size: number | undefined): void {
      if (onBytes && stream) stream.on('data', (c: Buffer) => onBytes(c.length));
      const headers: Record<string, string | number> = { 'Content-Type': 'application/octet-stream' };
      if (size !== undefined) headers['Content-Length'] = size;
      const req = http.request(url, { method: 'PUT', headers, agent: false }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (b: Buffer) => {
          if (parts.length < 100) parts.push(b);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }),
        );
        res.on('error', reject);
      });
      req.setTimeout(PUT_IDLE_TIMEOUT_MS, () => req.destroy(new Error('upload stalled')));
      req.on('error', (e) => {
        stream?.destroy();
        reject(e);
      });
      if (!stream) {
        pumpFile(b.file as string, b.size as number, req, onBytes);
        return;
      }
      stream.on('error', (e) => req.destroy(new BlobSourceError(e)));
      stream.pipe(req);
    }
  });
}

/** PUT `source` to `url`; resolves to the blob's `disco://` URL. `onBytes` counts what is sent. */
export async function putBlob(
  url: string,
  source: BlobSource,
  onBytes?: (n: number) => void,
): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    let r: { status: number; text: string };
    try {
      r = await putOnce(url, source, onBytes);
    } catch (e) {
      if (e instanceof BlobSourceError) throw e;
      throw new CommError(`PUT failed: ${(e as Error).message}`, url, 0);
    }
    if (r.status === 503 && attempt < BUSY_RETRIES) {
      await new Promise((ok) => setTimeout(ok, Math.min(8000, 200 * 2 ** attempt * (1 + Math.random()))));
      continue;
    }
    if (r.status !== 201 && r.status !== 200)
      throw new CommError(r.text || `HTTP ${r.status}`, url, r.status);
    try {
      const u = JSON.parse(r.text) as unknown;
      if (typeof u === 'string') return u;
    } catch {
      // fall through
    }
    throw new CommError(`unexpected PUT reply ${r.text.slice(0, 200)}`, url, r.status);
  }
}
