/**
 * `/disco/*` dispatch (wire spec §1.2): version, job submission, ctrl ops, the UI's JSON API
 * (`/disco/api/v1/*`, ui/api.ts), and every other GET
 * as a file of `DISCO_DATA` (the data of a node on the master's own host). HEAD and other
 * methods on data paths → 404, as in the original.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { serveFile } from '../../common/static-files.js';
import type { MasterContext } from './context.js';
import { ctrlGet } from './ctrl-get.js';
import { ctrlPost } from './ctrl-post.js';
import { submitJob } from './job-submit.js';
import { notFound, sendJson } from './reply.js';
import { API_PREFIX, handleApiV1 } from './ui/api.js';

/** Answer a `/disco/*` request (`path` without the proxy prefix, still percent-encoded). */
export async function handleDisco(
  ctx: MasterContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: Map<string, string>,
): Promise<void> {
  const method = req.method ?? 'GET';
  if (path === '/disco/version' && method === 'GET') return sendJson(res, ctx.version);
  if (path.startsWith('/disco/job/') && method === 'POST') return submitJob(ctx, req, res);
  if (path === API_PREFIX || path.startsWith(`${API_PREFIX}/`)) return handleApiV1(ctx, req, res, path);
  if (path.startsWith('/disco/ctrl/')) {
    const op = path.slice('/disco/ctrl/'.length);
    if (method === 'GET') return ctrlGet(ctx, req, res, op, query);
    if (method === 'POST') return ctrlPost(ctx, req, res, op);
    throw notFound();
  }
  if (method === 'GET')
    return serveFile(req, res, ctx.settings.get('DISCO_DATA'), path.slice('/disco/'.length));
  throw notFound();
}
