/**
 * Runs the master's `run_task` requests on this node: prepares the job home, finds a worker
 * (a warm one from the pool when allowed, else the job's own worker file), serves the
 * protocol through a {@link WorkerSession}, and reports `task_done` / `task_failed` and task
 * events to the master through `send`.
 *
 * Slots: at most `maxWorkers` tasks run at once (no limit before the master said how many).
 * The master may send more (`prefetched` tasks, to hide its round trip): they wait in a FIFO
 * queue and start the moment a slot frees — preferably on the reusable worker that just
 * finished a task of the same job, which is handed the next task before it even asks, so a
 * warm worker is never passed over for a fresh process. A `prefetched` task reports
 * `task_started` when it starts (at once or later); the master counts it as running from then.
 *
 * Ownership: the runner owns every task record and every session. A record lives from
 * `run` until its result is reported or it is killed; a killed task reports nothing (the
 * master already decided its fate; a queued one is simply dropped). Each attempt is keyed by
 * {@link taskKey}, so a stale attempt can never report for a newer one.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { errorMessage } from '../common/errors.js';
import { PACKAGE_ROOT, type Settings } from '../common/settings.js';
import { type NodeToMaster, type TaskRef, type TaskSpec, taskKey } from '../protocol/control.js';
import { WORKER_RUNTIME_VERSION } from '../protocol/jobdata.js';
import type { TaskInfo } from '../protocol/worker-protocol.js';
import { EventBatcher } from './event-batcher.js';
import { type JobHome, JobHomes } from './job-home.js';
import { TaskInputs } from './task-inputs.js';
import { TaskOutputs } from './task-outputs.js';
import { workerEnv } from './worker-env.js';
import { jobWorkerLaunch, type LaunchSpec } from './worker-launch.js';
import { WorkerPool } from './worker-pool.js';
import {
  DEFAULT_SESSION_TIMEOUTS,
  type SessionListener,
  type SessionTimeouts,
  type TaskContext,
  WorkerSession,
} from './worker-session.js';

/** Wiring of a {@link TaskRunner}. */
export interface TaskRunnerOptions {
  settings: Settings;
  /** This node's name as in the master's config (may carry `:port`). */
  host: string;
  /** Send a message to the master (dropped while disconnected). */
  send: (msg: NodeToMaster) => void;
  /** The master's URL as workers should see it (the TASK reply's `master`, DISCO_MASTER). */
  masterUrl: () => string;
  /** The URL this node reaches the master at, for job pack fetches (default `masterUrl`). */
  fetchUrl?: () => string;
  log?: Logger;
  timeouts?: Partial<SessionTimeouts>;
  /**
   * How to start a generic pre-started worker. Default: `process.execPath
   * <PACKAGE_ROOT>/dist/worker.js` if that file exists; null disables pre-starting.
   */
  prestart?: { file: string; args: string[] } | null;
  /** Idle time after which a parked reusable worker is killed. */
  parkIdleMs?: number;
  /** Environment the worker environment is derived from (default `process.env`). */
  baseEnv?: Record<string, string | undefined>;
  /** Told the bytes of a successful task's local output files (for the node's metrics). */
  onOutputBytes?: (mode: TaskSpec['mode'], bytes: number) => void;
}

interface TaskRecord {
  spec: TaskSpec;
  /** The master wants `task_started` when it starts. */
  prefetched: boolean;
  /** Holds a slot (false while queued). */
  started: boolean;
  /** When the master's request arrived (for the debug log). */
  receivedAt: number;
  /** How the worker was found: a parked or pre-started one, or a fresh process. */
  via: 'parked' | 'prestarted' | 'fresh' | null;
  session: WorkerSession | null;
  killed: boolean;
}

/** The node's task runner. */
export class TaskRunner implements SessionListener {
  readonly homes: JobHomes;
  private readonly tasks = new Map<string, TaskRecord>();
  /** Tasks waiting for a slot, oldest first. */
  private readonly waiting: TaskRecord[] = [];
  /** Tasks holding a slot (starting or running). */
  private active = 0;
  /** Every live worker process, whatever its state (so shutdown leaves none behind). */
  private readonly sessions = new Set<WorkerSession>();
  /** Recently killed jobs: their reusable workers are not parked (bounded). */
  private readonly deadJobs = new Set<string>();
  private readonly events: EventBatcher;
  private readonly pool: WorkerPool;
  private readonly log: Logger;
  private readonly timeouts: SessionTimeouts;
  private readonly env: Record<string, string>;
  private maxWorkers = 0;
  private closed = false;
  /** A {@link replenish} is scheduled. */
  private replenishing = false;

  constructor(private readonly opts: TaskRunnerOptions) {
    const s = opts.settings;
    this.log = opts.log ?? pino({ level: 'silent' });
    this.timeouts = { ...DEFAULT_SESSION_TIMEOUTS, ...opts.timeouts };
    this.env = workerEnv(opts.baseEnv ?? process.env);
    this.events = new EventBatcher(opts.send);
    this.homes = new JobHomes({
      discoData: s.get('DISCO_DATA'),
      host: opts.host,
      masterUrl: opts.fetchUrl ?? opts.masterUrl,
    });
    const prestart = opts.prestart === undefined ? defaultPrestart() : opts.prestart;
    const discoData = path.resolve(s.get('DISCO_DATA'));
    // Pre-started workers run in DISCO_DATA before any job home exists.
    mkdirSync(discoData, { recursive: true });
    this.pool = new WorkerPool({
      prestartLaunch: (): LaunchSpec | null =>
        prestart ? { file: prestart.file, args: prestart.args, cwd: discoData, env: this.env } : null,
      spawn: (launch) => this.spawn(launch),
      perFreeSlot: Math.max(0, s.int('DISCO_WORKER_POOL')),
      parkIdleMs: opts.parkIdleMs ?? 10_000,
      log: this.log,
    });
  }

  /** Tasks running (or preparing) on this node; queued ones are not counted. */
  get running(): number {
    return this.active;
  }

  /** Tasks waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Warm worker counts. */
  poolStats(): ReturnType<WorkerPool['stats']> {
    return this.pool.stats();
  }

  /** The master's slot count for this node (sizes the pre-started pool). */
  setMaxWorkers(n: number): void {
    this.maxWorkers = Math.max(0, n);
    this.startWaiting(null);
    this.replenish();
  }

  /**
   * Start a task attempt, or queue it while every slot is busy; its outcome is reported
   * through `send`. A `prefetched` task also reports `task_started` when it starts.
   */
  run(spec: TaskSpec, prefetched = false): void {
    if (this.closed) return;
    const key = taskKey(spec);
    this.deadJobs.delete(spec.job);
    if (this.tasks.has(key)) return; // a duplicate request for an attempt already running
    const record: TaskRecord = {
      spec,
      prefetched,
      started: false,
      session: null,
      killed: false,
      receivedAt: Date.now(),
      via: null,
    };
    this.tasks.set(key, record);
    if (this.active < this.slots()) this.begin(record, null);
    else this.waiting.push(record);
  }

  /** Kill one task attempt (no report). */
  killTask(ref: TaskRef): void {
    const record = this.tasks.get(taskKey(ref));
    if (record) this.drop(record);
  }

  /** Kill every task of `job` and its warm workers (no reports). */
  killJob(job: string): void {
    // Queued ones first, so that no freed slot starts a task that is about to be killed.
    const all = [...this.tasks.values()].filter((r) => r.spec.job === job);
    for (const record of all) if (!record.started) this.drop(record);
    for (const record of all) if (!record.killed) this.drop(record);
    this.pool.killJob(job);
    this.deadJobs.add(job);
    if (this.deadJobs.size > 1000) this.deadJobs.delete(this.deadJobs.values().next().value as string);
  }

  /** Kill the job's workers and delete its job home. */
  async purgeJob(job: string): Promise<void> {
    this.killJob(job);
    await this.homes.purge(job);
  }

  /** Kill every task (after a reconnect: the master has re-run them elsewhere). */
  killAll(): void {
    for (const record of this.waiting.splice(0)) {
      record.killed = true;
      this.tasks.delete(taskKey(record.spec));
    }
    for (const record of [...this.tasks.values()]) this.drop(record);
  }

  /** Kill everything, including warm workers; send pending events. */
  close(): void {
    this.closed = true;
    this.killAll();
    this.pool.close();
    for (const session of this.sessions) session.kill();
    this.events.close();
  }

  // ------------------------------------------------------------------ SessionListener

  event(task: TaskContext, message: string): void {
    this.events.add(task.spec.job, message);
  }

  done(task: TaskContext, results: string[], durationMs: number): void {
    const record = this.tasks.get(taskKey(task.spec));
    if (!record) return;
    this.opts.onOutputBytes?.(task.spec.mode, task.outputs.bytesWritten);
    this.report(record, { results, durationMs }, record.session);
  }

  failed(task: TaskContext, kind: 'error' | 'fatal', message: string): void {
    const record = this.tasks.get(taskKey(task.spec));
    if (record) this.report(record, { kind, message });
  }

  idle(session: WorkerSession): void {
    if (this.closed || (session.job !== null && this.deadJobs.has(session.job))) {
      session.kill();
      return;
    }
    this.pool.onIdle(session);
  }

  gone(session: WorkerSession): void {
    this.sessions.delete(session);
    this.pool.onGone(session);
    this.replenish();
  }

  // ------------------------------------------------------------------ internals

  private slots(): number {
    return this.maxWorkers > 0 ? this.maxWorkers : Number.POSITIVE_INFINITY;
  }

  /** Give the record a slot and start it (`next`: a worker of the same job about to be free). */
  private begin(record: TaskRecord, next: WorkerSession | null): void {
    record.started = true;
    this.active += 1;
    if (record.prefetched) {
      const { job, mode, taskid, attempt } = record.spec;
      this.opts.send({ type: 'task_started', job, mode, taskid, attempt });
    }
    void this.start(record, next).catch((e) => {
      this.log.error({ err: e, task: taskKey(record.spec) }, 'task start failed');
      this.report(record, { kind: 'error', message: `Node failed to start the task: ${errorMessage(e)}` });
    });
  }

  /** Fill free slots from the queue; a task of `next`'s job first, to run on `next`. */
  private startWaiting(next: WorkerSession | null): void {
    let reuse = next;
    while (this.waiting.length > 0 && this.active < this.slots() && !this.closed) {
      const job = reuse?.job ?? null;
      let i = 0;
      if (job !== null) {
        const same = this.waiting.findIndex((r) => r.spec.job === job);
        if (same >= 0) i = same;
      }
      const [record] = this.waiting.splice(i, 1);
      this.begin(record, job !== null && record.spec.job === job ? reuse : null);
      reuse = null;
    }
  }

  private async start(record: TaskRecord, next: WorkerSession | null): Promise<void> {
    const { spec } = record;
    let home: JobHome;
    try {
      home = await this.homes.ensure(spec.job);
    } catch (e) {
      this.report(record, { kind: 'error', message: errorMessage(e) });
      return;
    }
    if (record.killed) return;
    const task: TaskContext = {
      spec,
      info: this.taskInfo(spec, home),
      inputs: new TaskInputs(spec.inputs),
      outputs: new TaskOutputs(home, spec.mode, spec.taskid),
      startedAt: Date.now(),
    };
    // A parked worker of the job, else the one that just finished a task of it (it is about
    // to ask for the next), else a pre-started one, else a fresh process.
    let session = this.pool.takeParked(spec.job);
    if (!session && next?.awaitingNext(spec.job)) session = next;
    if (!session && home.tsWorker === WORKER_RUNTIME_VERSION) session = this.pool.takeReady();
    record.via = session ? (session.job === null ? 'prestarted' : 'parked') : 'fresh';
    if (!session) {
      const env = { ...this.env, ...home.jobenvs };
      session = this.spawn(jobWorkerLaunch(home.dir, home.worker, env));
    }
    record.session = session;
    session.assign(task);
    this.replenish();
  }

  private spawn(launch: LaunchSpec): WorkerSession {
    const session = new WorkerSession(launch, this, this.timeouts);
    this.sessions.add(session);
    return session;
  }

  /** The TASK reply (§3.4): exactly these keys. */
  private taskInfo(spec: TaskSpec, home: JobHome): TaskInfo {
    const s = this.opts.settings;
    return {
      taskid: spec.taskid,
      master: this.opts.masterUrl(),
      disco_port: s.int('DISCO_PORT'),
      put_port: s.int('DDFS_PUT_PORT'),
      ddfs_data: path.resolve(s.get('DDFS_DATA')),
      disco_data: path.resolve(s.get('DISCO_DATA')),
      mode: spec.mode,
      jobfile: home.jobfile,
      jobname: spec.job,
      host: this.opts.host,
    };
  }

  private report(
    record: TaskRecord,
    outcome: { results: string[]; durationMs: number } | { kind: 'error' | 'fatal'; message: string },
    next: WorkerSession | null = null,
  ): void {
    const key = taskKey(record.spec);
    if (record.killed || this.tasks.get(key) !== record) return;
    this.tasks.delete(key);
    this.release(record);
    const { job, mode, taskid, attempt } = record.spec;
    const ref = { job, mode, taskid, attempt };
    // Events first, so the master logs the task's messages before its outcome.
    this.events.flush(job);
    this.log.debug(
      { task: key, via: record.via, ms: Date.now() - record.receivedAt, ok: 'results' in outcome },
      'task ended',
    );
    if ('results' in outcome) this.opts.send({ type: 'task_done', ...ref, ...outcome });
    else this.opts.send({ type: 'task_failed', ...ref, ...outcome });
    // The freed slot goes to the next queued task (sent in the same frame as this report).
    this.startWaiting(next?.reusable ? next : null);
    this.replenish();
  }

  private drop(record: TaskRecord): void {
    record.killed = true;
    this.tasks.delete(taskKey(record.spec));
    if (!record.started) {
      const i = this.waiting.indexOf(record);
      if (i >= 0) this.waiting.splice(i, 1);
      return;
    }
    this.release(record);
    record.session?.kill();
    this.startWaiting(null);
  }

  /** The record gives its slot back. */
  private release(record: TaskRecord): void {
    if (!record.started) return;
    record.started = false;
    this.active -= 1;
  }

  /**
   * Top up the pre-started workers, in a later turn of the event loop: spawning blocks the
   * loop for milliseconds, which must not delay the task report or reply just made.
   */
  private replenish(): void {
    if (this.closed || this.replenishing) return;
    this.replenishing = true;
    setImmediate(() => {
      this.replenishing = false;
      if (this.closed) return;
      this.pool.replenish(Math.max(0, this.maxWorkers - this.active), this.maxWorkers);
    });
  }
}

/** `node dist/worker.js` when this package has been built; else no pre-started workers. */
function defaultPrestart(): { file: string; args: string[] } | null {
  const script = path.join(PACKAGE_ROOT, 'dist', 'worker.js');
  return existsSync(script) ? { file: process.execPath, args: [script] } : null;
}
