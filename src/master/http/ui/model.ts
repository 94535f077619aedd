/**
 * What the UI pages show, as plain data: each page renders one of these models, and the JSON
 * twins under `/disco/api/v1/` return the same models, so scripts see what people see.
 */
import type { JobEntry } from '../../jobs/job-table.js';
import { type GcStatsReply, gcStatsOf } from '../../metrics/master-metrics.js';
import {
  type AttemptRec,
  statusCounts,
  type TaskRow,
  type TaskStatus,
  type Timeline,
  taskTable,
  timeline,
} from '../../metrics/task-history.js';
import type { FailedTask, PhaseCounters } from '../../scheduler/types.js';
import type { MasterContext } from '../context.js';
import { failureReason, firstLine, type TaskHighlights, taskHighlights } from './diagnosis.js';

export interface NodeView {
  host: string;
  connected: boolean;
  blacklisted: boolean;
  gcBlacklisted: boolean;
  /** Configured slots. */
  cores: number;
  /** The job of each busy slot (one entry per running task). */
  busy: string[];
  /** DDFS disk figures in bytes (null while the node is not connected). */
  diskFree: number | null;
  diskUsed: number | null;
  /** Tasks done, restarted after an error, crashed (nodeinfo job_ok, data_error, error). */
  done: number;
  restarted: number;
  crashed: number;
}

export type JobState = 'active' | 'ready' | 'dead';

export interface JobListItem {
  name: string;
  status: JobState;
  owner: string;
  /** ms since the epoch. */
  submitted: number;
  finished: number | null;
  /** Run time so far, or in total once finished. */
  durationMs: number;
  /** Busy slots per node while the job runs. */
  cores: Record<string, number>;
  mapi: PhaseCounters;
  redi: PhaseCounters;
  /** Tasks of each phase (0 when the job has no such phase). */
  nrMap: number;
  nrReduce: number;
  /** Why a failed job failed (first line of its error); null unless failed. */
  reason: string | null;
}

export interface StatusModel {
  version: string;
  now: number;
  nodes: NodeView[];
  slots: number;
  busySlots: number;
  jobs: JobListItem[];
  /** Jobs matching the filter (the list holds at most `limit` of them). */
  jobsMatched: number;
  jobCounts: Record<JobState, number>;
  gc: GcStatsReply | null;
  /** '' when GC is idle; null without the built-in DDFS. */
  gcStatus: string | null;
}

/** Jobs listed on the status page at most. */
export const JOB_LIST_LIMIT = 200;

/** jobinfo's counters (prefetched attempts still queued on a node count as waiting). */
function counters(ctx: MasterContext, e: JobEntry): { mapi: PhaseCounters; redi: PhaseCounters } {
  if (!e.live) return { mapi: e.record.mapi, redi: e.record.redi };
  const info = ctx.manager.jobInfo(e.record.name);
  return info ? { mapi: info.mapi, redi: info.redi } : e.live.counters();
}

/** The cluster overview: nodes, jobs (filtered by `q`), last GC. */
export async function statusModel(ctx: MasterContext, q = '', limit = JOB_LIST_LIMIT): Promise<StatusModel> {
  const byHost = ctx.manager.tasksByHost();
  const info = ctx.registry.nodeinfo(byHost);
  const gcBl = new Set(ctx.config.gcBlacklist());
  const nodes: NodeView[] = Object.entries(info).map(([host, n]) => ({
    host,
    connected: n.connected,
    blacklisted: n.blacklisted,
    gcBlacklisted: gcBl.has(host),
    cores: n.max_workers,
    busy: n.tasks ?? [],
    diskFree: n.diskfree === undefined ? null : n.diskfree * 1024,
    diskUsed: n.diskused === undefined ? null : n.diskused * 1024,
    done: n.job_ok,
    restarted: n.data_error,
    crashed: n.error,
  }));
  const coresOf = new Map<string, Record<string, number>>();
  for (const [host, jobs] of byHost)
    for (const j of jobs) {
      let m = coresOf.get(j);
      if (!m) coresOf.set(j, (m = {}));
      m[host] = (m[host] ?? 0) + 1;
    }
  const now = Date.now();
  const needle = q.trim().toLowerCase();
  const jobCounts: Record<JobState, number> = { active: 0, ready: 0, dead: 0 };
  const jobs: JobListItem[] = [];
  let matched = 0;
  for (const e of ctx.manager.jobs.list()) {
    const r = e.record;
    jobCounts[r.status] += 1;
    if (
      needle &&
      !r.name.toLowerCase().includes(needle) &&
      !r.owner.toLowerCase().includes(needle) &&
      !stateLabel(r.status).includes(needle)
    )
      continue;
    matched += 1;
    if (jobs.length >= limit) continue;
    jobs.push({
      name: r.name,
      status: r.status,
      owner: r.owner,
      submitted: r.submittedAt,
      finished: r.finishedAt,
      durationMs: (r.finishedAt ?? now) - r.submittedAt,
      cores: coresOf.get(r.name) ?? {},
      ...counters(ctx, e),
      ...taskCounts(r),
      reason: null,
    });
  }
  for (const j of jobs) {
    const reason = j.status === 'dead' ? await failureReason(ctx, j.name) : null;
    if (reason) j.reason = firstLine(reason);
  }
  return {
    version: ctx.version,
    now,
    nodes,
    slots: nodes.reduce((a, n) => a + n.cores, 0),
    busySlots: nodes.reduce((a, n) => a + n.busy.length, 0),
    jobs,
    jobsMatched: matched,
    jobCounts,
    gc: gcStatsOf(ctx),
    gcStatus: ctx.ddfsGc ? ctx.ddfsGc.status() : null,
  };
}

/** How a job state reads to a person. */
export function stateLabel(s: JobState): string {
  return s === 'active' ? 'running' : s === 'ready' ? 'done' : 'failed';
}

export interface JobModel {
  name: string;
  status: JobState;
  owner: string;
  worker: string;
  submitted: number;
  finished: number | null;
  /** Run time so far, or in total once finished. */
  durationMs: number;
  /** The first 100 inputs. */
  inputs: (string | string[])[];
  nrInputs: number;
  nrReduces: number;
  map: boolean;
  reduce: boolean;
  mapi: PhaseCounters;
  redi: PhaseCounters;
  /** Tasks of each phase (0 when the job has no such phase). */
  nrMap: number;
  nrReduce: number;
  results: string[];
  /** Hosts of the running tasks, one entry per task. */
  hosts: string[];
  /**
   * Why a failed job failed: the full error (for a crashed task, the worker's error with its
   * stack) or `Job killed`; null unless failed.
   */
  reason: string | null;
  /** The task whose failure failed the job, as the job record keeps it; null if none did. */
  failedTask: FailedTask | null;
}

export async function jobModel(ctx: MasterContext, name: string): Promise<JobModel | null> {
  const e = ctx.manager.jobs.get(name);
  if (!e) return null;
  const r = e.record;
  const info = ctx.manager.jobInfo(name);
  const now = Date.now();
  return {
    name: r.name,
    status: r.status,
    owner: r.owner,
    worker: r.worker,
    submitted: r.submittedAt,
    finished: r.finishedAt,
    durationMs: (r.finishedAt ?? now) - r.submittedAt,
    inputs: r.inputs,
    nrInputs: r.nrInputs,
    nrReduces: r.nrReduces,
    map: r.map,
    reduce: r.reduce,
    mapi: info?.mapi ?? r.mapi,
    redi: info?.redi ?? r.redi,
    ...taskCounts(r),
    results: r.results,
    hosts: info?.hosts ?? [],
    reason: r.status === 'dead' ? await failureReason(ctx, name) : null,
    failedTask: r.failure?.task ?? null,
  };
}

export type TaskFilter = TaskStatus | 'retried' | '';

export interface TaskQuery {
  phase?: 'map' | 'reduce' | '';
  status?: TaskFilter;
  /** `id` (phase, then task id), `duration` (longest first), `start` (earliest first). */
  sort?: 'id' | 'duration' | 'start';
  offset?: number;
  limit?: number;
}

export interface TasksModel {
  job: string;
  /** Every task of the job. */
  total: number;
  /** Tasks matching the filter. */
  matched: number;
  offset: number;
  counts: Record<TaskStatus, number> & { retried: number };
  rows: TaskRow[];
  /** The slowest task and the failed attempts, over all tasks (not only the filtered ones). */
  highlights: TaskHighlights;
}

/** Task rows shown per page at most. */
export const TASK_PAGE = 100;
export const MAX_TASK_PAGE = 10_000;

async function attemptsOf(ctx: MasterContext, job: string): Promise<AttemptRec[]> {
  return (await ctx.observatory.history(job))?.attempts ?? [];
}

function taskCounts(r: { map: boolean; reduce: boolean; nrInputs: number; nrReduces: number }): {
  nrMap: number;
  nrReduce: number;
} {
  return {
    nrMap: r.map ? r.nrInputs : 0,
    nrReduce: r.reduce && (r.map || r.nrInputs > 0) ? r.nrReduces : 0,
  };
}

/** The per-task table of a job, filtered, sorted and paged. */
export async function tasksModel(ctx: MasterContext, job: JobModel, q: TaskQuery = {}): Promise<TasksModel> {
  const attempts = await attemptsOf(ctx, job.name);
  const all = taskTable(attempts, {
    nrMap: job.nrMap,
    nrReduce: job.nrReduce,
    active: job.status === 'active',
  });
  const counts = { ...statusCounts(all), retried: all.filter((r) => r.attempts > 1).length };
  let rows = all.filter(
    (r) =>
      (!q.phase || r.mode === q.phase) &&
      (!q.status || (q.status === 'retried' ? r.attempts > 1 : r.status === q.status)),
  );
  if (q.sort === 'duration') rows = [...rows].sort((a, b) => (b.durationMs ?? -1) - (a.durationMs ?? -1));
  else if (q.sort === 'start')
    rows = [...rows].sort(
      (a, b) => (a.start ?? Number.POSITIVE_INFINITY) - (b.start ?? Number.POSITIVE_INFINITY),
    );
  const offset = Math.max(0, Math.floor(q.offset ?? 0));
  const limit = Math.min(MAX_TASK_PAGE, Math.max(1, Math.floor(q.limit ?? TASK_PAGE)));
  return {
    job: job.name,
    total: all.length,
    matched: rows.length,
    offset,
    counts,
    rows: rows.slice(offset, offset + limit),
    highlights: taskHighlights(all, attempts),
  };
}

/** Every attempt of a job (for `disco trace` and scripts). */
export async function attemptsModel(
  ctx: MasterContext,
  job: string,
): Promise<{ job: string; attempts: AttemptRec[] }> {
  return { job, attempts: await attemptsOf(ctx, job) };
}

/** The job's attempts laid out per node and slot lane. */
export async function timelineModel(ctx: MasterContext, job: string): Promise<Timeline & { job: string }> {
  return { job, ...timeline(await attemptsOf(ctx, job)) };
}

export interface ConfigModel {
  /** The raw host table (`load_config_table`). */
  table: [string, string][];
  /** Hosts the table expands to, with their slots. */
  hosts: { name: string; cores: number }[];
  blacklist: string[];
  gcBlacklist: string[];
  /** GC-blacklisted nodes that DDFS no longer needs (safe to remove). */
  safeGcBlacklist: string[];
  maxFailureRate: number;
}

export function configModel(ctx: MasterContext): ConfigModel {
  return {
    table: ctx.config.rows(),
    hosts: ctx.config.hosts().map((h) => ({ name: h.name, cores: h.cores })),
    blacklist: ctx.config.blacklist(),
    gcBlacklist: ctx.config.gcBlacklist(),
    safeGcBlacklist: ctx.ddfsGc?.safeBlacklist() ?? [],
    maxFailureRate: ctx.config.maxFailureRate(),
  };
}
