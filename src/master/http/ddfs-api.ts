/**
 * `/ddfs/*` on the master (wire spec §1.3). The DDFS API plugs in through
 * {@link MasterContext.ddfs}; until then its paths answer 404 `Not found.`. Any other GET/HEAD
 * is a file of `DDFS_DATA` (the data of a node on the master's own host).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { serveFile } from '../../common/static-files.js';
import type { MasterContext } from './context.js';
import { notFound } from './reply.js';

/** Paths of the DDFS API, never files. */
const API = /^\/ddfs\/(ctrl\/|tag\/|tags(\/|$)|new_blob\/)/;

/** Answer a `/ddfs/*` request. */
export async function handleDdfs(
  ctx: MasterContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: Map<string, string>,
): Promise<void> {
  if (ctx.ddfs && (await ctx.ddfs(req, res, path, query))) return;
  const method = req.method ?? 'GET';
  if (API.test(path) || (method !== 'GET' && method !== 'HEAD')) throw notFound();
  return serveFile(req, res, ctx.settings.get('DDFS_DATA'), path.slice('/ddfs/'.length));
}
