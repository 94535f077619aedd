/**
 * `GET /disco/api/v1/*`: the JSON twins of the UI pages for what the 0.4.5 API lacks (owners in
 * the job list, per-task table, attempts, timeline, one-call status and config). Times are ms
 * since the epoch; unknown jobs answer 404 `Not found.`.
 *
 * | Path | Answer |
 * |---|---|
 * | `/disco/api/v1` | this index |
 * | `/status[?q=&limit=]` | {@link StatusModel} |
 * | `/jobs[?q=&limit=]` | `{jobs, matched, counts}` |
 * | `/jobs/<name>` | {@link JobModel} |
 * | `/jobs/<name>/tasks[?phase=&status=&sort=&offset=&limit=]` | {@link TasksModel} |
 * | `/jobs/<name>/attempts` | `{job, attempts: [{mode, taskid, attempt, node, start, end, outcome, message?}]}` |
 * | `/jobs/<name>/timeline` | `{job, start, end, nodes: [{node, lanes}], bars: [...]}` |
 * | `/jobs/<name>/events[?num=&filter=]` | `[{time, host, message}]`, newest first |
 * | `/config` | {@link ConfigModel} |
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MasterContext } from '../context.js';
import { notFound, sendJson } from '../reply.js';
import {
  attemptsModel,
  configModel,
  JOB_LIST_LIMIT,
  jobModel,
  statusModel,
  tasksModel,
  timelineModel,
} from './model.js';
import { formQuery, jobEvents, taskQuery } from './router.js';

export const API_PREFIX = '/disco/api/v1';

const INDEX = {
  version: 1,
  endpoints: [
    `${API_PREFIX}/status`,
    `${API_PREFIX}/jobs`,
    `${API_PREFIX}/jobs/<name>`,
    `${API_PREFIX}/jobs/<name>/tasks`,
    `${API_PREFIX}/jobs/<name>/attempts`,
    `${API_PREFIX}/jobs/<name>/timeline`,
    `${API_PREFIX}/jobs/<name>/events`,
    `${API_PREFIX}/config`,
  ],
};

function limitOf(q: URLSearchParams, dflt: number): number {
  const n = Number.parseInt(q.get('limit') ?? '', 10);
  return Number.isFinite(n) && n > 0 ? n : dflt;
}

/** Answer a `/disco/api/v1/*` request (GET only). */
export async function handleApiV1(
  ctx: MasterContext,
  req: IncomingMessage,
  res: ServerResponse,
  p: string,
): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') throw notFound();
  const q = formQuery(req.url ?? '');
  res.setHeader('Cache-Control', 'no-store');
  const rest = p.slice(API_PREFIX.length).replace(/\/+$/, '');
  if (rest === '') return sendJson(res, INDEX);
  if (rest === '/status')
    return sendJson(res, await statusModel(ctx, q.get('q') ?? '', limitOf(q, JOB_LIST_LIMIT)));
  if (rest === '/config') return sendJson(res, configModel(ctx));
  if (rest === '/jobs') {
    const m = await statusModel(ctx, q.get('q') ?? '', limitOf(q, Number.MAX_SAFE_INTEGER));
    return sendJson(res, { jobs: m.jobs, matched: m.jobsMatched, counts: m.jobCounts });
  }
  const jm = /^\/jobs\/([^/]+)(\/[a-z]+)?$/.exec(rest);
  if (!jm) throw notFound();
  let name: string;
  try {
    name = decodeURIComponent(jm[1]);
  } catch {
    throw notFound();
  }
  const job = await jobModel(ctx, name);
  if (!job) throw notFound();
  switch (jm[2] ?? '') {
    case '':
      return sendJson(res, job);
    case '/tasks':
      return sendJson(res, await tasksModel(ctx, job, taskQuery(q, '')));
    case '/attempts':
      return sendJson(res, await attemptsModel(ctx, name));
    case '/timeline':
      return sendJson(res, await timelineModel(ctx, name));
    case '/events': {
      const n = Number.parseInt(q.get('num') ?? '', 10);
      return sendJson(res, await jobEvents(ctx, name, Number.isFinite(n) ? n : 100, q.get('filter') ?? ''));
    }
    default:
      throw notFound();
  }
}
