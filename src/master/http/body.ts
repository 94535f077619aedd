/**
 * Request bodies with limits (wire spec §1.1): ctrl POSTs ≤ 32 MiB, job packs ≤
 * `DISCO_MAX_JOB_PACK` with a mandatory `Content-Length`. Too large → 413; the body is never
 * buffered past its limit.
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from './reply.js';

/** `MAX_JSON_POST` of the original. */
export const MAX_JSON_POST = 32 * 1024 * 1024;

/** The declared `Content-Length`, or null when absent; 400 when malformed. */
export function contentLength(req: IncomingMessage): number | null {
  const raw = req.headers['content-length'];
  if (raw === undefined) return null;
  if (!/^\d+$/.test(raw)) throw new HttpError(400, 'Invalid Content-Length');
  return Number(raw);
}

/**
 * Read the whole body, refusing (413 `tooLarge`) anything over `limit` bytes, whether declared
 * in `Content-Length` or found while reading.
 */
export async function readBody(
  req: IncomingMessage,
  limit: number,
  tooLarge = 'Request body too large',
): Promise<Buffer> {
  const declared = contentLength(req);
  if (declared !== null && declared > limit) throw new HttpError(413, tooLarge);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) throw new HttpError(413, tooLarge);
    chunks.push(b);
  }
  return Buffer.concat(chunks, size);
}

/** Parse a JSON body; 400 with a JSON string message when it is not JSON. */
export async function readJson(req: IncomingMessage, limit = MAX_JSON_POST): Promise<unknown> {
  const body = await readBody(req, limit);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, JSON.stringify('request body is not valid JSON'), 'application/json');
  }
}
