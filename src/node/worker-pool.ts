/**
 * Warm worker processes, which keep process start-up off the task path.
 *
 * Two kinds:
 * - **pre-started** generic workers of this package's TypeScript runtime
 *   (`process.execPath dist/worker.js`, cwd DISCO_DATA, the cleaned worker environment). They
 *   say `WORKER` and `TASK ""` and wait. A task of a job built for the same runtime version
 *   (`jobdict.ts_worker === WORKER_RUNTIME_VERSION`) may take one. They have run no user code.
 * - **parked** reusable workers: a worker that announced `"reuse": true` and asked `TASK ""`
 *   after finishing a task waits here for the next task *of the same job*; it is killed when
 *   idle too long, when too many are parked, or when its job is killed or purged.
 *
 * Isolation invariant: a process that ran job A's code is only ever given job A's tasks
 * (parked workers are keyed by job; pre-started ones have run nothing).
 *
 * Concurrency: owned by the task runner; all calls come from the node's event loop.
 */
import type { Logger } from 'pino';
import type { LaunchSpec } from './worker-launch.js';
import type { WorkerSession } from './worker-session.js';

/** Wiring of a {@link WorkerPool}. */
export interface WorkerPoolOptions {
  /** How to start a generic worker, or null when the runtime is not available. */
  prestartLaunch: () => LaunchSpec | null;
  /** Start a session (the runner wires it to its listener). */
  spawn: (launch: LaunchSpec) => WorkerSession;
  /** Pre-started workers wanted per free slot (`DISCO_WORKER_POOL`). */
  perFreeSlot: number;
  /** Parked workers are killed after this long without a task. */
  parkIdleMs: number;
  log: Logger;
}

/** Consecutive pre-start failures after which pre-starting stops (a broken runtime). */
const MAX_PRESTART_FAILURES = 5;

/** Pre-started and parked workers of one node; see the module docs. */
export class WorkerPool {
  /** Generic workers started but not ready yet. */
  private readonly starting = new Set<WorkerSession>();
  /** Generic workers waiting in `TASK`, oldest first. */
  private readonly ready: WorkerSession[] = [];
  /** Reusable workers waiting for another task of their job, most recent last. */
  private readonly parked = new Map<string, { session: WorkerSession; timer: NodeJS.Timeout }[]>();
  private prestartFailures = 0;
  private maxParked = 1;
  private closed = false;

  constructor(private readonly opts: WorkerPoolOptions) {}

  /**
   * A warm worker for a task of `job`: a parked worker of the same job first, else (for jobs
   * built for this runtime) a pre-started one. Null: spawn the job's own worker.
   */
  take(job: string, tsWorkerMatches: boolean): WorkerSession | null {
    return this.takeParked(job) ?? (tsWorkerMatches ? this.takeReady() : null);
  }

  /** The most recently parked idle worker of `job`, or null. */
  takeParked(job: string): WorkerSession | null {
    const list = this.parked.get(job);
    while (list && list.length > 0) {
      const { session, timer } = list.pop()!;
      clearTimeout(timer);
      if (list.length === 0) this.parked.delete(job);
      if (session.idle && session.job === job) return session;
    }
    return null;
  }

  /** The oldest ready pre-started worker, or null. */
  takeReady(): WorkerSession | null {
    while (this.ready.length > 0) {
      const session = this.ready.shift()!;
      if (session.idle && session.job === null) return session;
    }
    return null;
  }

  /** A session asked for work: a pre-started one becomes ready, a reusable one is parked. */
  onIdle(session: WorkerSession): void {
    if (this.closed) {
      session.kill();
      return;
    }
    if (session.job === null) {
      this.starting.delete(session);
      this.prestartFailures = 0;
      this.ready.push(session);
      return;
    }
    const job = session.job;
    const timer = setTimeout(() => this.unpark(session), this.opts.parkIdleMs);
    const list = this.parked.get(job) ?? [];
    list.push({ session, timer });
    this.parked.set(job, list);
    this.trimParked();
  }

  /** A session's process ended: forget it. */
  onGone(session: WorkerSession): void {
    if (this.starting.delete(session) && session.job === null) {
      this.prestartFailures += 1;
      this.opts.log.warn({ pid: session.pid }, 'a pre-started worker ended before it was ready');
    }
    const i = this.ready.indexOf(session);
    if (i >= 0) this.ready.splice(i, 1);
    if (session.job !== null) this.removeParked(session.job, session);
  }

  /** Kill the parked workers of `job` (job killed, purged or over). */
  killJob(job: string): void {
    const list = this.parked.get(job) ?? [];
    this.parked.delete(job);
    for (const { session, timer } of list) {
      clearTimeout(timer);
      session.kill();
    }
  }

  /**
   * Start generic workers until there are `perFreeSlot × freeSlots` of them (starting or
   * ready). Called whenever the number of free slots may have grown.
   */
  replenish(freeSlots: number, maxWorkers: number): void {
    this.maxParked = Math.max(1, maxWorkers);
    this.trimParked();
    if (this.closed || this.prestartFailures >= MAX_PRESTART_FAILURES) return;
    const want = Math.max(0, this.opts.perFreeSlot * freeSlots) - this.starting.size - this.ready.length;
    for (let i = 0; i < want; i++) {
      const launch = this.opts.prestartLaunch();
      if (!launch) return;
      try {
        this.starting.add(this.opts.spawn(launch));
      } catch (e) {
        this.prestartFailures += 1;
        this.opts.log.warn({ err: e }, 'could not pre-start a worker');
        return;
      }
    }
    if (this.prestartFailures >= MAX_PRESTART_FAILURES)
      this.opts.log.warn('pre-started workers keep failing; not pre-starting any more');
  }

  /** Counts, for status and tests. */
  stats(): { starting: number; ready: number; parked: number } {
    let parked = 0;
    for (const l of this.parked.values()) parked += l.length;
    return { starting: this.starting.size, ready: this.ready.length, parked };
  }

  /** Kill every pooled worker and stop pre-starting. */
  close(): void {
    this.closed = true;
    for (const s of this.starting) s.kill();
    for (const s of this.ready) s.kill();
    for (const job of [...this.parked.keys()]) this.killJob(job);
    this.starting.clear();
    this.ready.length = 0;
  }

  private unpark(session: WorkerSession): void {
    if (session.job !== null) this.removeParked(session.job, session);
    session.kill();
  }

  private removeParked(job: string, session: WorkerSession): void {
    const list = this.parked.get(job);
    if (!list) return;
    const i = list.findIndex((p) => p.session === session);
    if (i < 0) return;
    clearTimeout(list[i].timer);
    list.splice(i, 1);
    if (list.length === 0) this.parked.delete(job);
  }

  /** Keep at most `maxParked` parked workers: kill the longest-idle ones. */
  private trimParked(): void {
    for (;;) {
      const { parked } = this.stats();
      if (parked <= this.maxParked) return;
      // The first entry of the first job's list is the oldest of that job; good enough.
      const [job, list] = this.parked.entries().next().value as [string, { session: WorkerSession }[]];
      this.unpark(list[0].session);
      if (this.parked.get(job)?.length === 0) this.parked.delete(job);
    }
  }
}
