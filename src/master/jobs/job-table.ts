/**
 * The master's in-memory table of jobs (running and finished), and the `get_results` waiters
 * (wire spec §1.2.2): a waiter blocks until any of its active jobs ends or its timeout passes.
 *
 * Concurrency: owned by the job manager; all changes happen on the event loop, one at a time.
 */
import type { PhaseCounters } from '../scheduler/types.js';
import type { EventLog } from './events.js';
import type { JobRecord, JobStatus } from './store.js';

/** What a running job can tell about itself (answered by its coordinator). */
export interface LiveJob {
  counters(): { mapi: PhaseCounters; redi: PhaseCounters };
  /** Host of every running task (one entry per task). */
  hosts(): string[];
}

export interface JobEntry {
  /** Persisted record; `status` is authoritative for the job's state. */
  record: JobRecord;
  events: EventLog;
  /** Set while the job runs. */
  live: LiveJob | null;
}

/** `get_results` status of one job (`status_msg/1`). */
export type ResultStatus = [status: JobStatus | 'unknown job', results: string[]];

/** Jobs by name, and the `get_results` waiters. */
export class JobTable {
  private readonly jobs = new Map<string, JobEntry>();
  private readonly waiters = new Map<string, Set<() => void>>();

  get(name: string): JobEntry | undefined {
    return this.jobs.get(name);
  }

  add(entry: JobEntry): void {
    this.jobs.set(entry.record.name, entry);
  }

  /** Forget a job (clean/purge); its waiters wake up and see `unknown job`. */
  delete(name: string): void {
    this.jobs.delete(name);
    this.notifyEnded(name);
  }

  /** Every job, newest first (joblist). */
  list(): JobEntry[] {
    return [...this.jobs.values()].sort(
      (a, b) => b.record.submittedAt - a.record.submittedAt || b.record.name.localeCompare(a.record.name),
    );
  }

  resultStatus(name: string): ResultStatus {
    const j = this.jobs.get(name);
    if (!j) return ['unknown job', []];
    if (j.record.status === 'ready') return ['ready', j.record.results];
    return [j.record.status, []];
  }

  /** Wake every `get_results` call waiting on `name`. */
  notifyEnded(name: string): void {
    const set = this.waiters.get(name);
    if (!set) return;
    this.waiters.delete(name);
    for (const wake of set) wake();
  }

  /**
   * Resolve when any of `names` that is active now ends, after `timeoutMs`, or on `signal`
   * abort; at once when none is active.
   */
  waitAny(names: string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const watched = [...new Set(names)].filter((n) => this.jobs.get(n)?.record.status === 'active');
    if (watched.length === 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        for (const n of watched) {
          const set = this.waiters.get(n);
          set?.delete(done);
          if (set?.size === 0) this.waiters.delete(n);
        }
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      signal?.addEventListener('abort', done, { once: true });
      for (const n of watched) {
        let set = this.waiters.get(n);
        if (!set) this.waiters.set(n, (set = new Set()));
        set.add(done);
      }
    });
  }
}
