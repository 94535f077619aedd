/**
 * The master's HTTP server (wire spec §1.1): dispatch on the first path component (`disco`,
 * `ddfs`, else the web UI) after stripping a `/proxy/<node>/<METHOD>` prefix; every `/disco` and
 * `/ddfs` reply carries `Connection: close`; a thrown {@link HttpError} becomes its status, any
 * other failure 500 `Internal server error`.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { MasterContext } from './context.js';
import { handleDdfs } from './ddfs-api.js';
import { handleDisco } from './disco-api.js';
import { HttpError, send, sendError } from './reply.js';
import { parseRequestUrl } from './request.js';
import { handleWeb } from './status-page.js';

/** The HTTP server of the master (not yet listening). */
export function createMasterServer(ctx: MasterContext): http.Server {
  const server = http.createServer((req, res) => {
    void handle(ctx, req, res);
  });
  // A 1 GiB job pack over a slow link may take longer than Node's default 5 minutes to arrive.
  server.requestTimeout = 0;
  return server;
}

async function handle(ctx: MasterContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { path, query } = parseRequestUrl(req.url ?? '/');
  const top = path.split('/')[1];
  if (top === 'disco' || top === 'ddfs') res.setHeader('Connection', 'close');
  try {
    if (top === 'disco') await handleDisco(ctx, req, res, path, query);
    else if (top === 'ddfs') await handleDdfs(ctx, req, res, path, query);
    else await handleWeb(ctx, req, res, path);
  } catch (e) {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (e instanceof HttpError) {
      // The unread rest of a refused body is not worth keeping the socket for.
      res.setHeader('Connection', 'close');
      sendError(res, e);
      return;
    }
    ctx.log.error({ err: e, method: req.method, path }, 'request failed');
    send(res, 500, 'text/plain', 'Internal server error');
  }
}
