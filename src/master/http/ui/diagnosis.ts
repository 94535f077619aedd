/**
 * What a person opening a job wants answered first: why did it fail, which attempts failed and
 * where they were retried, and which task is holding it up. Computed from the job's attempts and
 * task rows (pure) and, for the failure reason, from the job record (the full error text with
 * its stack, which the attempt records keep only in part) — or, for a job recorded before the
 * record kept it, from the job's events log.
 *
 * @example
 * const h = taskHighlights(rows, attempts);
 * h.slowest?.factor; // 9.7 when the slowest map task took 9.7× the median map task
 * await failureReason(ctx, 'Crashy@703:3edc8:36331'); // "Worker at '127.0.0.4' died: TypeError: …"
 */
import { isValidJobName } from '../../../protocol/names.js';
import { JOB_KILLED } from '../../jobs/coordinator.js';
import { readNewestEvents } from '../../jobs/events.js';
import type { AttemptOutcome, AttemptRec, Mode, TaskRow, TaskStatus } from '../../metrics/task-history.js';
import type { MasterContext } from '../context.js';

/** The slowest task of a job, against the median of its phase. */
export interface SlowestTask {
  mode: Mode;
  taskid: number;
  node: string | null;
  status: TaskStatus;
  /** Run time of its latest attempt (so far, while it runs). */
  durationMs: number;
  /** Median run time of the tasks of its phase that ran (itself included). */
  medianMs: number;
  /** `durationMs / medianMs` (null when the median is 0). */
  factor: number | null;
  /** Much slower than the others: at least twice the median and a second longer. */
  straggler: boolean;
}

/** An attempt that ended in an error, and what became of its task. */
export interface FailedAttempt {
  mode: Mode;
  taskid: number;
  attempt: number;
  node: string;
  outcome: Extract<AttemptOutcome, 'error' | 'fatal' | 'lost'>;
  /** The error the worker sent (first 500 characters), null when the node was lost. */
  message: string | null;
  /** Node of the next attempt of the same task, if any. */
  retriedOn: string | null;
  /** The task's status now. */
  taskStatus: TaskStatus;
}

export interface TaskHighlights {
  slowest: SlowestTask | null;
  /** The first {@link MAX_FAILED_SHOWN} failed attempts, in the order they were sent. */
  failedAttempts: FailedAttempt[];
  failedAttemptsTotal: number;
}

/** Failed attempts listed at most (the task table filters the rest). */
export const MAX_FAILED_SHOWN = 10;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The slowest task and the failed attempts of a job. */
export function taskHighlights(rows: readonly TaskRow[], attempts: readonly AttemptRec[]): TaskHighlights {
  let slowest: SlowestTask | null = null;
  for (const mode of ['map', 'reduce'] as const) {
    const ran = rows.filter(
      (r) => r.mode === mode && r.durationMs !== null && (r.status === 'done' || r.status === 'running'),
    );
    // One task has nothing to be slower than.
    if (ran.length < 2) continue;
    const top = ran.reduce((a, b) => ((b.durationMs ?? 0) > (a.durationMs ?? 0) ? b : a));
    const durationMs = top.durationMs ?? 0;
    if (slowest && slowest.durationMs >= durationMs) continue;
    const medianMs = median(ran.map((r) => r.durationMs ?? 0));
    const factor = medianMs > 0 ? durationMs / medianMs : null;
    slowest = {
      mode,
      taskid: top.taskid,
      node: top.node,
      status: top.status,
      durationMs,
      medianMs,
      factor,
      straggler: durationMs >= 2 * medianMs && durationMs - medianMs >= 1000,
    };
  }

  const statusOf = new Map(rows.map((r) => [`${r.mode}:${r.taskid}`, r.status]));
  const nextNode = new Map<string, string>();
  for (const a of attempts) nextNode.set(`${a.mode}:${a.taskid}:${a.attempt}`, a.node);
  const failedAttempts: FailedAttempt[] = [];
  let failedAttemptsTotal = 0;
  for (const a of attempts) {
    if (a.outcome !== 'error' && a.outcome !== 'fatal' && a.outcome !== 'lost') continue;
    failedAttemptsTotal += 1;
    if (failedAttempts.length >= MAX_FAILED_SHOWN) continue;
    failedAttempts.push({
      mode: a.mode,
      taskid: a.taskid,
      attempt: a.attempt,
      node: a.node,
      outcome: a.outcome,
      message: a.message ?? null,
      retriedOn: nextNode.get(`${a.mode}:${a.taskid}:${a.attempt + 1}`) ?? null,
      taskStatus: statusOf.get(`${a.mode}:${a.taskid}`) ?? 'failed',
    });
  }
  return { slowest, failedAttempts, failedAttemptsTotal };
}

const FAILED = 'ERROR: Job failed: ';
const KILLED = 'WARN: Job killed';

/** Reasons of dead jobs (they never change), bounded. */
const reasons = new Map<string, string>();
const MAX_CACHED = 5000;

function reasonIn(lines: string[]): string | null {
  for (const line of lines) {
    try {
      const message = String((JSON.parse(line) as unknown[])[2]);
      if (message.startsWith(FAILED)) return message.slice(FAILED.length);
      if (message.startsWith(KILLED)) return JOB_KILLED;
    } catch {
      // A line cut by a crash: skip it.
    }
  }
  return null;
}

/**
 * Why a dead job ended: the text of its `ERROR: Job failed: …` event (the worker's error with
 * its stack for a crashed task) or `Job killed`; null for jobs that are not dead. Read from
 * the job record; the events log is searched only for records older than that field.
 */
export async function failureReason(ctx: MasterContext, job: string): Promise<string | null> {
  const e = ctx.manager.jobs.get(job);
  if (e?.record.status !== 'dead' || !isValidJobName(job)) return null;
  if (e.record.failure) return e.record.failure.reason;
  const cached = reasons.get(job);
  if (cached !== undefined) return cached;
  await e.events.flush();
  const file = ctx.store.eventsFile(job);
  // The reason is among the last events; a long log is searched once more for it.
  const reason =
    reasonIn(await readNewestEvents(file, 30)) ??
    reasonIn(await readNewestEvents(file, 200, 'failed')) ??
    reasonIn(await readNewestEvents(file, 20, 'killed')) ??
    'The events log does not say why.';
  if (reasons.size >= MAX_CACHED) reasons.delete(reasons.keys().next().value as string);
  reasons.set(job, reason);
  return reason;
}

/** The first line of a message (the error without its stack). */
export function firstLine(message: string): string {
  const i = message.indexOf('\n');
  return i < 0 ? message : message.slice(0, i);
}
