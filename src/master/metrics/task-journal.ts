/**
 * The task history of running jobs, kept on disk as it happens: an append-only journal
 * (`tasks.log` next to the job's `state.json`) of attempt assignments, starts and ends, so that
 * a master killed without warning (SIGKILL, power loss) still shows, after its restart, the task
 * table and timeline of the jobs it was running. A job that ends normally gets its compact
 * `tasks.json` (task-history.ts) and its journal is removed.
 *
 * Cost per task: one short line built in memory per event (assigned, started, ended). Lines are
 * written in batches — every {@link FLUSH_MS}, or at once past {@link FLUSH_BYTES} buffered —
 * with one append per job and batch, writes of one job in order, no fsync (the journal is
 * for display: a crash may lose its last batch, never the job's state or results).
 *
 * Lines (JSON arrays; a line cut short by a crash is skipped when read):
 * `[0, mode, taskid, attempt, node, time, queued]` assigned, `[1, mode, taskid, attempt, time]`
 * started, `[2, mode, taskid, attempt, time, outcome, message?]` ended — mode 0 = map,
 * 1 = reduce; outcome as in `tasks.json`.
 *
 * Concurrency: called on the event loop by the observatory only; each job's file operations
 * (appends, removal) run one after another on that job's promise chain.
 *
 * @example
 * const j = new TaskJournal((job) => path.join(jobDir(job), 'tasks.log'), log);
 * j.assigned('Job@1', { mode: 'map', taskid: 0, attempt: 1 }, 'node1', Date.now(), false);
 * await j.remove('Job@1'); // after tasks.json was written
 */
import { appendFile, readFile, unlink } from 'node:fs/promises';
import type { Logger } from 'pino';
import { type AttemptOutcome, type AttemptRef, OUTCOMES, TaskHistory } from './task-history.js';

/** How long lines wait in memory before they are appended. */
export const FLUSH_MS = 500;
/** Buffered bytes of one job past which its lines are appended at once. */
export const FLUSH_BYTES = 256 * 1024;

interface Pending {
  lines: string[];
  bytes: number;
}

/** The journals of the running jobs. */
export class TaskJournal {
  private readonly pending = new Map<string, Pending>();
  /** The last file operation of each job (appends and removal run in order). */
  private readonly chains = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    /** The journal file of a job. */
    private readonly fileOf: (job: string) => string,
    private readonly log: Logger,
    private readonly flushMs = FLUSH_MS,
  ) {}

  assigned(job: string, r: AttemptRef, node: string, time: number, queued: boolean): void {
    this.add(
      job,
      JSON.stringify([0, r.mode === 'map' ? 0 : 1, r.taskid, r.attempt, node, time, queued ? 1 : 0]),
    );
  }

  started(job: string, r: AttemptRef, time: number): void {
    this.add(job, `[1,${r.mode === 'map' ? 0 : 1},${r.taskid},${r.attempt},${time}]`);
  }

  ended(
    job: string,
    r: AttemptRef,
    outcome: Exclude<AttemptOutcome, 'running'>,
    time: number,
    message?: string,
  ): void {
    const row: unknown[] = [
      2,
      r.mode === 'map' ? 0 : 1,
      r.taskid,
      r.attempt,
      time,
      OUTCOMES.indexOf(outcome),
    ];
    if (message) row.push(message);
    this.add(job, JSON.stringify(row));
  }

  /** Append what is buffered for `job`; resolves once it (and every earlier write) is done. */
  flush(job: string): Promise<void> {
    const p = this.pending.get(job);
    if (p) {
      this.pending.delete(job);
      const data = p.lines.join('');
      const file = this.fileOf(job);
      this.enqueue(job, () =>
        appendFile(file, data).catch((e: unknown) => {
          // The job was purged meanwhile: nothing to keep.
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }),
      );
    }
    return this.chains.get(job) ?? Promise.resolve();
  }

  /** Forget the job's journal and delete its file (its `tasks.json` holds the history now). */
  remove(job: string): Promise<void> {
    this.pending.delete(job);
    const file = this.fileOf(job);
    this.enqueue(job, () =>
      unlink(file).catch((e: unknown) => {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }),
    );
    return this.chains.get(job) ?? Promise.resolve();
  }

  /** The job is gone (cleaned or purged): drop what is buffered. */
  drop(job: string): void {
    this.pending.delete(job);
  }

  /** Append everything buffered; stop the timer. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.all([...this.pending.keys()].map((job) => this.flush(job)));
    await Promise.all(this.chains.values());
  }

  private add(job: string, line: string): void {
    let p = this.pending.get(job);
    if (!p) this.pending.set(job, (p = { lines: [], bytes: 0 }));
    p.lines.push(line, '\n');
    p.bytes += line.length + 1;
    if (p.bytes >= FLUSH_BYTES) void this.flush(job);
    else this.timer ??= setTimeout(() => this.flushAll(), this.flushMs).unref();
  }

  private flushAll(): void {
    this.timer = null;
    for (const job of [...this.pending.keys()]) void this.flush(job);
  }

  /** Run `op` after the job's earlier file operations; errors are logged, not passed on. */
  private enqueue(job: string, op: () => Promise<void>): void {
    const prev = this.chains.get(job) ?? Promise.resolve();
    const next = prev
      .then(op)
      .catch((e: unknown) => this.log.warn({ job, err: e }, 'could not write the task journal'))
      .finally(() => {
        if (this.chains.get(job) === next) this.chains.delete(job);
      });
    this.chains.set(job, next);
  }
}

/** Rebuild a history from a journal file; null when it is missing or holds no attempt. */
export async function replayJournal(file: string): Promise<TaskHistory | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  const h = new TaskHistory();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      continue; // cut short by a crash
    }
    if (!Array.isArray(row) || !row.slice(1, 4).every((x) => typeof x === 'number')) continue;
    const ref: AttemptRef = { mode: row[1] === 0 ? 'map' : 'reduce', taskid: row[2], attempt: row[3] };
    if (row[0] === 0 && typeof row[4] === 'string' && typeof row[5] === 'number') {
      h.assigned(ref, row[4], row[5], row[6] === 1);
    } else if (row[0] === 1 && typeof row[4] === 'number') {
      h.started(ref, row[4]);
    } else if (row[0] === 2 && typeof row[4] === 'number' && typeof row[5] === 'number') {
      const outcome = OUTCOMES[row[5]];
      if (outcome && outcome !== 'running')
        h.ended(ref, outcome, row[4], typeof row[6] === 'string' ? row[6] : undefined);
    }
  }
  return h.attempts.length > 0 ? h : null;
}
