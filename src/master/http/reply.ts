/**
 * Reply helpers with the original's shapes (wire spec §1.1): JSON → 200 `application/json`;
 * `{error, E}` → 400 with JSON-encoded `E`; not found → 404 `text/plain` `Not found.`.
 * Handlers throw {@link HttpError} to end a request with a status and a body.
 */
import type { ServerResponse } from 'node:http';

/** Ends the request with `status` and a plain-text (or JSON when `json`) body. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly body: string,
    readonly contentType = 'text/plain',
  ) {
    super(`${status} ${body}`);
  }
}

/** 400 with a JSON string body (`reply({error, E})`). */
export function badRequest(message: string): HttpError {
  return new HttpError(400, JSON.stringify(message), 'application/json');
}

export function notFound(): HttpError {
  return new HttpError(404, 'Not found.');
}

/** 200 (or `status`) with a JSON body, `application/json`. */
export function sendJson(res: ServerResponse, data: unknown, status = 200): void {
  send(res, status, 'application/json', JSON.stringify(data));
}

/** A complete reply with a known length. */
export function send(res: ServerResponse, status: number, contentType: string, body: string | Buffer): void {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': buf.length });
  res.end(buf);
}

/** The reply an {@link HttpError} stands for. */
export function sendError(res: ServerResponse, e: HttpError): void {
  send(res, e.status, e.contentType, e.body);
}
