/**
 * Uploading one blob replica: HTTP PUT of a source to a node's PUT URL, streamed (bounded
 * memory), expecting **201** with the JSON string `disco://...` URL (wire spec §5.1). A busy
 * node (503) is retried with back-off; any other failure is a {@link CommError} carrying the
 * URL, so the caller can exclude that node and ask the master for another one.
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import { Readable } from 'node:stream';
import { CommError } from '../../common/errors.js';

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

async function body(source: BlobSource): Promise<{ stream: Readable; size: number | undefined }> {
  if ('file' in source) {
    const st = await fs.stat(source.file);
    return { stream: createReadStream(source.file, { highWaterMark: READ_CHUNK }), size: st.size };
  }
  if ('data' in source) {
    const buf = Buffer.from(source.data);
    return { stream: Readable.from([buf]), size: buf.length };
  }
  return { stream: source.open(), size: source.size };
}

function putOnce(
  url: string,
  source: BlobSource,
  onBytes?: (n: number) => void,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    body(source).then(({ stream, size }) => {
      if (onBytes) stream.on('data', (b: Buffer) => onBytes(b.length));
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
        stream.destroy();
        reject(e);
      });
      stream.on('error', (e) => req.destroy(e));
      stream.pipe(req);
    }, reject);
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
