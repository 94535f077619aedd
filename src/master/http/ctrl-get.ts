/** `GET /disco/ctrl/<op>?name=...` (wire spec §1.2; `disco_web.erl` `getop/2`). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { serveFile } from '../../common/static-files.js';
import { isValidJobName } from '../../protocol/names.js';
import { jobEventsBody, readNewestEvents } from '../jobs/events.js';
import type { MasterContext } from './context.js';
import { notFound, send, sendJson } from './reply.js';

/** Lines of `jobevents` when `num` is missing (the original requires it). */
const DEFAULT_JOBEVENTS = 100;

/** Answer one GET ctrl op; unknown ops and unknown jobs throw 404. */
export async function ctrlGet(
  ctx: MasterContext,
  req: IncomingMessage,
  res: ServerResponse,
  op: string,
  query: Map<string, string>,
): Promise<void> {
  const name = query.get('name') ?? '';
  const { manager, config } = ctx;
  switch (op) {
    case 'load_config_table':
      return sendJson(res, config.rows());
    case 'joblist':
      return sendJson(
        res,
        manager.jobs
          .list()
          .map((j) => [Math.floor(j.record.submittedAt / 1000), j.record.status, j.record.name]),
      );
    case 'jobinfo': {
      const info = manager.jobInfo(name);
      if (!info) throw notFound();
      return sendJson(res, info);
    }
    case 'parameters':
      if (!isValidJobName(name)) throw notFound();
      return serveFile(req, res, ctx.store.jobDir(name), 'jobfile');
    case 'rawevents': {
      if (!isValidJobName(name)) throw notFound();
      // Serve what has been logged so far, not what was flushed by chance.
      await manager.jobs.get(name)?.events.flush();
      return serveFile(req, res, ctx.store.jobDir(name), 'events', {
        emptyWhenPastEnd: true,
        contentType: 'text/plain',
      });
    }
    case 'jobevents': {
      const num = Number.parseInt(query.get('num') ?? '', 10);
      let lines: string[] = [];
      if (isValidJobName(name)) {
        await manager.jobs.get(name)?.events.flush();
        lines = await readNewestEvents(
          path.join(ctx.store.jobDir(name), 'events'),
          Number.isFinite(num) ? num : DEFAULT_JOBEVENTS,
          query.get('filter') ?? '',
        );
      }
      return send(res, 200, 'text/plain', jobEventsBody(lines));
    }
    case 'nodeinfo':
      return sendJson(res, ctx.registry.nodeinfo(manager.tasksByHost()));
    case 'get_blacklist':
      return sendJson(res, config.blacklist());
    case 'get_gc_blacklist':
      return sendJson(res, config.gcBlacklist());
    case 'get_settings':
      return sendJson(res, { max_failure_rate: config.maxFailureRate() });
    case 'get_mapresults': {
      const r = manager.jobs.get(name)?.record.mapResults;
      if (!r) throw notFound();
      return sendJson(res, r);
    }
    default:
      throw notFound();
  }
}
