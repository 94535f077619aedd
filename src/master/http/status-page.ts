/**
 * `/` and other non-API paths: a minimal status page listing the jobs (the web UI is a later
 * piece of work), and static files of `DISCO_WWW_ROOT` once the UI exists.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { serveFile } from '../../common/static-files.js';
import { formatEventTime } from '../../common/time.js';
import type { MasterContext } from './context.js';
import { notFound, send } from './reply.js';

const MAX_LISTED = 500;

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The HTML of the status page: nodes and the newest jobs. */
export function statusPage(ctx: MasterContext): string {
  const jobs = ctx.manager.jobs.list().slice(0, MAX_LISTED);
  const nodes = ctx.registry.nodeinfo(ctx.manager.tasksByHost());
  const nodeRows = Object.entries(nodes)
    .map(
      ([h, n]) =>
        `<tr><td>${esc(h)}</td><td>${n.connected ? 'connected' : 'down'}${n.blacklisted ? ', blacklisted' : ''}</td><td>${n.tasks?.length ?? 0}/${n.max_workers}</td></tr>`,
    )
    .join('\n');
  const jobRows = jobs
    .map(
      (j) =>
        `<tr><td>${esc(formatEventTime(new Date(j.record.submittedAt)))}</td><td>${j.record.status}</td><td>${esc(j.record.name)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Disco master</title></head>
<body>
<h1>Disco master ${esc(ctx.version)}</h1>
<h2>Nodes</h2>
<table><tr><th>host</th><th>status</th><th>tasks</th></tr>
${nodeRows}
</table>
<h2>Jobs</h2>
<table><tr><th>started</th><th>status</th><th>name</th></tr>
${jobRows}
</table>
</body></html>
`;
}

/** Answer a request outside `/disco` and `/ddfs`. */
export async function handleWeb(
  ctx: MasterContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') throw notFound();
  if (path === '/' || path === '/index.html')
    return send(res, 200, 'text/html; charset=utf-8', statusPage(ctx));
  return serveFile(req, res, ctx.settings.get('DISCO_WWW_ROOT'), path.slice(1));
}
