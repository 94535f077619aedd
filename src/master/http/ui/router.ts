/**
 * Everything the master serves outside `/disco` and `/ddfs`: the UI pages (status, job,
 * configure, DDFS), their live fragments (`?fragment=a,b` → `{"live":…, "fragments":{…}}`),
 * `/metrics` (Prometheus text; every node's at `/metrics/node/<host>`, listed for Prometheus at
 * `/metrics/nodes`), `/health`, the UI's static files (`/static/*` from
 * `DISCO_WWW_ROOT/static`) and any other file of `DISCO_WWW_ROOT`.
 *
 * | Page | Path | JSON twin |
 * |---|---|---|
 * | Status | `/`, `/index.html` | `/disco/api/v1/status` (+ `nodeinfo`, `joblist`, `gc_stats`) |
 * | Job | `/job/<name>`, `/job.html?name=<name>` | `/disco/api/v1/jobs/<name>` and `/tasks`, `/timeline`, `/events` |
 * | Configure | `/configure`, `/config.html` | `/disco/api/v1/config` (+ `load_config_table`, blacklists, `get_settings`) |
 * | DDFS | `/tags`, `/tags/<tag>` | `/ddfs/tags/<prefix>`, `/ddfs/tag/<tag>` |
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { PROMETHEUS_CONTENT_TYPE } from '../../../common/prometheus.js';
import { serveFile } from '../../../common/static-files.js';
import { isValidJobName } from '../../../protocol/names.js';
import { cleanFilter, readNewestEvents } from '../../jobs/events.js';
import { healthOf } from '../../metrics/master-metrics.js';
import {
  NODE_METRICS_PREFIX,
  nodeMetricsTargets,
  relayNodeMetrics,
} from '../../metrics/node-metrics-relay.js';
import type { MasterContext } from '../context.js';
import { notFound, send, sendJson } from '../reply.js';
import { configFragments, configurePage } from './configure.js';
import type { SafeHtml } from './html.js';
import { type EventRow, type JobPageParams, jobFragments, jobPage, unknownJobPage } from './job.js';
import {
  configModel,
  jobModel,
  statusModel,
  TASK_PAGE,
  type TaskFilter,
  type TaskQuery,
  tasksModel,
  timelineModel,
} from './model.js';
import { statusFragments, statusPage } from './status.js';
import { tagsPage } from './tags.js';

const HTML = 'text/html; charset=utf-8';

/** Headers of every UI page: no inline scripts, no framing, no sniffing. */
const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

const STATIC_TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.html': HTML,
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

function sendPage(res: ServerResponse, body: string, status = 200): void {
  const buf = Buffer.from(body);
  res.writeHead(status, { 'Content-Type': HTML, 'Content-Length': buf.length, ...PAGE_HEADERS });
  res.end(buf);
}

/** Query parameters with form semantics (`+` is a space), first value wins. */
export function formQuery(rawUrl: string): URLSearchParams {
  const q = rawUrl.indexOf('?');
  try {
    return new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1));
  } catch {
    return new URLSearchParams();
  }
}

function fragmentReply<K extends string>(
  res: ServerResponse,
  all: Record<K, SafeHtml>,
  wanted: string,
  live: boolean,
): void {
  const names = wanted.split(',').filter((n): n is K => n in all);
  const out: Record<string, string> = {};
  for (const n of names) out[n] = all[n].value;
  res.setHeader('Cache-Control', 'no-store');
  sendJson(res, { live, fragments: out });
}

/** The task table query from page or API parameters. */
export function taskQuery(q: URLSearchParams, prefix = 't'): TaskQuery {
  const phase = q.get(`${prefix}phase`) ?? q.get('phase') ?? '';
  const status = (q.get(`${prefix}status`) ?? q.get('status') ?? '') as TaskFilter;
  const sort = q.get(`${prefix}sort`) ?? q.get('sort') ?? 'id';
  const page = Number.parseInt(q.get(`${prefix}page`) ?? '', 10);
  const offset = Number.parseInt(q.get('offset') ?? '', 10);
  const limit = Number.parseInt(q.get('limit') ?? '', 10);
  return {
    phase: phase === 'map' || phase === 'reduce' ? phase : '',
    status: ['waiting', 'running', 'done', 'retrying', 'failed', 'killed', 'not run', 'retried'].includes(
      status,
    )
      ? status
      : '',
    sort: sort === 'duration' || sort === 'start' ? sort : 'id',
    offset: Number.isFinite(offset) ? offset : Number.isFinite(page) && page > 1 ? (page - 1) * TASK_PAGE : 0,
    limit: Number.isFinite(limit) ? limit : TASK_PAGE,
  };
}

/**
 * A job's newest events, newest first, matching `filter` as `jobevents` does; a task id such as
 * `map:3` only matches that task (not `map:30`).
 */
export async function jobEvents(
  ctx: MasterContext,
  job: string,
  num: number,
  filter: string,
): Promise<EventRow[]> {
  if (!isValidJobName(job)) return [];
  await ctx.manager.jobs.get(job)?.events.flush();
  const lines = await readNewestEvents(path.join(ctx.store.jobDir(job), 'events'), num, filter);
  const task = /^(map|reduce):(\d+)$/.exec(cleanFilter(filter));
  const exact = task ? new RegExp(`(^|[^a-z0-9_])${task[1]}:${task[2]}(?![0-9])`, 'i') : null;
  const out: EventRow[] = [];
  for (const line of lines) {
    try {
      const [time, host, message] = JSON.parse(line) as [string, string, string];
      if (exact && !exact.test(String(message))) continue;
      out.push({ time: String(time), host: String(host), message: String(message) });
    } catch {
      // A line cut by a crash: skip it.
    }
  }
  return out;
}

function eventsNum(q: URLSearchParams): number {
  const n = Number.parseInt(q.get('enum') ?? q.get('num') ?? '', 10);
  return Number.isFinite(n) && n > 0 ? Math.min(n, 1000) : 100;
}

async function jobRoute(
  ctx: MasterContext,
  res: ServerResponse,
  name: string,
  q: URLSearchParams,
): Promise<void> {
  const job = await jobModel(ctx, name);
  if (!job) {
    if (q.has('fragment')) throw notFound();
    return sendPage(res, unknownJobPage(ctx.version, name), 404);
  }
  const params: JobPageParams = {
    tasks: taskQuery(q),
    events: q.get('events') ?? '',
    eventsNum: eventsNum(q),
    discoPort: ctx.settings.get('DISCO_PORT'),
  };
  const wanted = q.get('fragment');
  const need = (f: string) => wanted === null || wanted.split(',').includes(f);
  const [tasks, timeline, events] = await Promise.all([
    need('tasks') || need('diagnosis') || need('timeline') ? tasksModel(ctx, job, params.tasks) : null,
    need('timeline') ? timelineModel(ctx, name) : null,
    need('events') ? jobEvents(ctx, name, params.eventsNum, params.events) : [],
  ]);
  const data = {
    job,
    tasks: tasks ?? {
      job: name,
      total: 0,
      matched: 0,
      offset: 0,
      counts: {} as never,
      rows: [],
      highlights: { slowest: null, failedAttempts: [], failedAttemptsTotal: 0 },
    },
    timeline: timeline ?? { start: 0, end: 0, nodes: [], bars: [] },
    events,
  };
  if (wanted !== null) return fragmentReply(res, jobFragments(data, params), wanted, job.status === 'active');
  sendPage(res, jobPage(ctx.version, data, params));
}

/** Answer a request outside `/disco` and `/ddfs`. */
export async function handleUi(
  ctx: MasterContext,
  req: IncomingMessage,
  res: ServerResponse,
  p: string,
): Promise<void> {
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') throw notFound();
  const q = formQuery(req.url ?? '/');
  const wanted = q.get('fragment');

  if (p === '/' || p === '/index.html') {
    const m = await statusModel(ctx, q.get('q') ?? '');
    if (wanted !== null) return fragmentReply(res, statusFragments(m), wanted, true);
    return sendPage(res, statusPage(m, q.get('q') ?? ''));
  }
  if (p.startsWith('/job/') || p === '/job.html') {
    let name: string;
    try {
      name = p === '/job.html' ? (q.get('name') ?? '') : decodeURIComponent(p.slice('/job/'.length));
    } catch {
      throw notFound();
    }
    return jobRoute(ctx, res, name, q);
  }
  if (p === '/configure' || p === '/config.html') {
    const m = configModel(ctx);
    if (wanted !== null) return fragmentReply(res, configFragments(m), wanted, true);
    return sendPage(res, configurePage(ctx.version, m));
  }
  if (p === '/tags' || p === '/ddfs.html' || p.startsWith('/tags/')) {
    let tag: string | null = null;
    try {
      tag = p.startsWith('/tags/') ? decodeURIComponent(p.slice('/tags/'.length)) : (q.get('tag') ?? null);
    } catch {
      throw notFound();
    }
    return sendPage(
      res,
      tagsPage(ctx.version, {
        prefix: q.get('prefix') ?? '',
        tag: tag || null,
        discoPort: ctx.settings.get('DISCO_PORT'),
      }),
    );
  }
  if (p === '/metrics') return send(res, 200, PROMETHEUS_CONTENT_TYPE, ctx.observatory.metrics.render());
  if (p.startsWith(NODE_METRICS_PREFIX))
    return relayNodeMetrics(ctx, res, p.slice(NODE_METRICS_PREFIX.length));
  if (p === '/metrics/nodes') return sendJson(res, nodeMetricsTargets(ctx, req.headers.host ?? ''));
  if (p === '/health') {
    res.setHeader('Cache-Control', 'no-store');
    return sendJson(res, healthOf(ctx));
  }
  if (p.startsWith('/static/')) {
    const type = STATIC_TYPES[path.extname(p).toLowerCase()];
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    return serveFile(
      req,
      res,
      ctx.settings.get('DISCO_WWW_ROOT'),
      p.slice(1),
      type ? { contentType: type } : {},
    );
  }
  return serveFile(req, res, ctx.settings.get('DISCO_WWW_ROOT'), p.slice(1));
}
