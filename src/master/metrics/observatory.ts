/**
 * What the master observes about its tasks: the job manager calls the {@link TaskObserver}
 * hooks where attempts are assigned and end; the observatory keeps each job's
 * {@link TaskHistory}, counts task metrics, and logs attempts as structured lines carrying the
 * job and task ids. Histories of running jobs live in memory and in their task journal
 * (`tasks.log`, batched appends: see task-journal.ts); a finished job's history is saved once
 * (`tasks.json`, then the journal is removed) and kept in a small cache, read back from disk
 * when asked for later — from the journal when the master died before the job ended.
 *
 * Concurrency: called on the event loop by the job manager only; no locks. A job's file
 * operations (journal appends, `tasks.json`, journal removal) run in order on its promise
 * chains: the journal is flushed before `tasks.json` is written, and removed after.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import { MetricsRegistry } from '../../common/prometheus.js';
import {
  type AttemptOutcome,
  type AttemptRef,
  loadTasksFile,
  saveTasksFile,
  TaskHistory,
} from './task-history.js';
import { replayJournal, TaskJournal } from './task-journal.js';

/** The hooks the job manager calls. */
export interface TaskObserver {
  jobSubmitted(job: string): void;
  /** An attempt was sent to its node (`queued`: prefetched, it waits there for a slot). */
  taskAssigned(t: AttemptRef & { job: string; node: string }, queued?: boolean): void;
  /** A prefetched attempt started on its node. */
  taskStarted(t: AttemptRef & { job: string; node: string }): void;
  taskEnded(
    t: AttemptRef & { job: string; node: string },
    outcome: Exclude<AttemptOutcome, 'running'>,
    message?: string,
  ): void;
  /** The job reached its final state: save its history. */
  jobEnded(job: string, status: 'ready' | 'dead'): void;
  /** The job was cleaned or purged: forget it. */
  jobRemoved(job: string): void;
}

/** Finished jobs whose history stays in memory. */
const CACHED_FINISHED = 16;

export class Observatory implements TaskObserver {
  readonly metrics = new MetricsRegistry();
  private readonly live = new Map<string, TaskHistory>();
  /** Finished jobs, least recently used first. */
  private readonly finished = new Map<string, TaskHistory>();
  private readonly saving = new Map<string, Promise<void>>();
  private readonly log: Logger;

  readonly jobsSubmitted = this.metrics.counter(
    'disco_jobs_submitted_total',
    'Jobs submitted to this master.',
  );
  readonly jobsEnded = this.metrics.counter('disco_jobs_ended_total', 'Jobs that ended, by final state.', [
    'state',
  ]);
  readonly tasksStarted = this.metrics.counter(
    'disco_tasks_started_total',
    'Task attempts sent to nodes, by phase.',
    ['phase'],
  );
  readonly tasksFinished = this.metrics.counter(
    'disco_tasks_finished_total',
    'Task attempts that finished successfully, by phase.',
    ['phase'],
  );
  readonly tasksFailed = this.metrics.counter(
    'disco_tasks_failed_total',
    'Task attempts that failed, by phase and kind (error: retried, fatal: job failed, lost: node lost).',
    ['phase', 'kind'],
  );
  readonly tasksKilled = this.metrics.counter(
    'disco_tasks_killed_total',
    'Task attempts stopped by the master (job killed or ended, attempt superseded), by phase.',
    ['phase'],
  );
  readonly taskDuration = this.metrics.histogram(
    'disco_task_duration_seconds',
    'Run time of successful task attempts (assignment to report), by phase.',
    ['phase'],
  );

  constructor(
    /** The job's directory (DISCO_MASTER_ROOT/HH/job). */
    private readonly jobDir: (job: string) => string,
    log: Logger,
  ) {
    this.log = log.child({ component: 'tasks' });
    this.journal = new TaskJournal((job) => this.journalFile(job), this.log);
  }

  private readonly journal: TaskJournal;

  private tasksFile(job: string): string {
    return path.join(this.jobDir(job), 'tasks.json');
  }

  private journalFile(job: string): string {
    return path.join(this.jobDir(job), 'tasks.log');
  }

  // ------------------------------------------------------------------ hooks

  jobSubmitted(job: string): void {
    this.jobsSubmitted.inc();
    this.live.set(job, new TaskHistory());
  }

  taskAssigned(t: AttemptRef & { job: string; node: string }, queued = false): void {
    let h = this.live.get(t.job);
    if (!h) this.live.set(t.job, (h = new TaskHistory()));
    const now = Date.now();
    h.assigned(t, t.node, now, queued);
    this.journal.assigned(t.job, t, t.node, now, queued);
    this.tasksStarted.inc({ phase: t.mode });
    if (this.log.isLevelEnabled('debug'))
      this.log.debug(
        { job: t.job, task: `${t.mode}:${t.taskid}`, attempt: t.attempt, node: t.node },
        'task assigned',
      );
  }

  taskStarted(t: AttemptRef & { job: string; node: string }): void {
    const h = this.live.get(t.job);
    if (!h) return;
    const now = Date.now();
    h.started(t, now);
    this.journal.started(t.job, t, now);
  }

  taskEnded(
    t: AttemptRef & { job: string; node: string },
    outcome: Exclude<AttemptOutcome, 'running'>,
    message?: string,
  ): void {
    const h = this.live.get(t.job);
    // A prefetched attempt lost before it started is queued again, not failed.
    if (outcome === 'lost' && h?.get(t)?.queued) outcome = 'killed';
    const now = Date.now();
    const rec = h?.ended(t, outcome, now, message);
    if (rec) this.journal.ended(t.job, t, outcome, now, rec.message);
    const phase = t.mode;
    const ms = rec && rec.end !== null ? rec.end - rec.start : null;
    if (outcome === 'done') {
      this.tasksFinished.inc({ phase });
      if (ms !== null) this.taskDuration.observe({ phase }, ms / 1000);
    } else if (outcome === 'killed') this.tasksKilled.inc({ phase });
    else this.tasksFailed.inc({ phase, kind: outcome });
    const fields = {
      job: t.job,
      task: `${t.mode}:${t.taskid}`,
      attempt: t.attempt,
      node: t.node,
      outcome,
      ms,
    };
    if (outcome === 'error' || outcome === 'fatal' || outcome === 'lost')
      this.log.warn({ ...fields, reason: message }, 'task failed');
    else if (this.log.isLevelEnabled('debug')) this.log.debug(fields, 'task ended');
  }

  jobEnded(job: string, status: 'ready' | 'dead'): void {
    this.jobsEnded.inc({ state: status });
    const h = this.live.get(job);
    if (!h) return;
    this.live.delete(job);
    this.remember(job, h);
    this.save(job, h);
  }

  jobRemoved(job: string): void {
    this.live.delete(job);
    this.finished.delete(job);
    this.journal.drop(job);
  }

  // ------------------------------------------------------------------ reading

  /** The history of a job: in memory while it runs or was recently read, else from disk. */
  async history(job: string): Promise<TaskHistory | null> {
    const h = this.live.get(job) ?? this.finished.get(job);
    if (h) {
      if (this.finished.has(job)) this.remember(job, h);
      return h;
    }
    await this.saving.get(job);
    let loaded = await loadTasksFile(this.tasksFile(job));
    if (!loaded) {
      // The master died while the job ran: its journal has what happened until then (and
      // becomes a tasks.json, so that it is read once).
      loaded = await replayJournal(this.journalFile(job));
      if (loaded && !this.live.has(job)) this.save(job, loaded);
    }
    if (loaded) this.remember(job, loaded);
    return loaded;
  }

  /** Running attempts over all jobs. */
  runningAttempts(): number {
    let n = 0;
    for (const h of this.live.values()) n += h.running;
    return n;
  }

  /** Save the histories of jobs still running (master shutdown). */
  async close(): Promise<void> {
    for (const [job, h] of this.live) this.save(job, h);
    await Promise.all(this.saving.values());
    await this.journal.close();
  }

  private remember(job: string, h: TaskHistory): void {
    this.finished.delete(job);
    this.finished.set(job, h);
    while (this.finished.size > CACHED_FINISHED) {
      const oldest = this.finished.keys().next().value as string;
      this.finished.delete(oldest);
    }
  }

  private save(job: string, h: TaskHistory): void {
    const prev = this.saving.get(job) ?? Promise.resolve();
    const p = prev
      .then(() => this.journal.flush(job))
      .then(() => saveTasksFile(this.tasksFile(job), job, h))
      .then(() => this.journal.remove(job))
      .catch((e: unknown) => this.log.error({ job, err: e }, 'could not save the task history'))
      .finally(() => {
        if (this.saving.get(job) === p) this.saving.delete(job);
      });
    this.saving.set(job, p);
  }
}
