/**
 * The job manager: submission, the life of every job (one {@link JobRunner} each), the master's
 * one scheduler, and the glue to the nodes — it performs the effects of both state machines
 * and turns node messages into their events (wire spec §2.3, §4).
 *
 * Concurrency invariants: everything runs on the event loop; a job's coordinator state is only
 * touched through its runner, the scheduler's only through the scheduler shell. A task attempt
 * is in {@link RunningTasks} from `assign` until its first end (done, failed, killed, node
 * lost); only that first end reaches the coordinator and the scheduler.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../../common/errors.js';
import type { Settings } from '../../common/settings.js';
import { formatEventTime } from '../../common/time.js';
import type { MasterToNode, NodeToMaster } from '../../protocol/control.js';
import { decodeJobPack } from '../../protocol/jobpack.js';
import { isValidJobName, makeJobName } from '../../protocol/names.js';
import type { ClusterConfig } from '../cluster/config.js';
import type { NodeRegistry } from '../cluster/nodes.js';
import type { TaskObserver } from '../metrics/observatory.js';
import { SchedulerShell } from '../scheduler/shell.js';
import type { Mode, PhaseCounters, SchedTask, SchedulerEffect, SchedulerPolicy } from '../scheduler/types.js';
import { JOB_KILLED } from './coordinator.js';
import { EventLog } from './events.js';
import { type JobEntry, JobTable } from './job-table.js';
import { JobRunner, type RunnerEffects } from './runner.js';
import { type RunningTask, RunningTasks } from './running-tasks.js';
import { type JobFailure, type JobStore, newJobRecord } from './store.js';

/** Purged job names are remembered this long, for nodes that connect later (`temp_gc`). */
export const PURGE_MEMORY_MS = 24 * 3600 * 1000;
const TICK_MS = 1000;
/** Default `scheduler.max_cores` (2^31). */
const DEFAULT_MAX_CORES = 2 ** 31;
/**
 * Tasks a node may hold per slot beyond its slots (`DISCO_TASK_PREFETCH`), for jobs whose
 * tasks take less than `DISCO_TASK_PREFETCH_BELOW_MS` on average (see the scheduler).
 */
const DEFAULT_PREFETCH = 1;
const DEFAULT_PREFETCH_BELOW_MS = 100;

function numberSetting(raw: string, fallback: number): number {
  const n = Number.parseFloat(raw);
  return raw.trim() !== '' && Number.isFinite(n) && n >= 0 ? n : fallback;
}
/** Events after which the log is written out at once (phase and job ends). */
const FLUSH_NOW = /^(Finished |READY|ERROR: Job failed|WARN: Job killed)/;

export const NODE_LOST_MESSAGE = 'Connection lost to the node (network busy?)';

/** jobinfo (wire spec §7.2). */
export interface JobInfo {
  timestamp: string;
  active: 'active' | 'ready' | 'dead';
  mapi: PhaseCounters;
  redi: PhaseCounters;
  reduce: boolean;
  results: string[];
  inputs: (string | string[])[];
  worker: string;
  hosts: string[];
  owner: string;
}

export interface JobManagerDeps {
  settings: Settings;
  store: JobStore;
  config: ClusterConfig;
  registry: NodeRegistry;
  log: Logger;
  /** Told where task attempts start and end (task history, metrics; src/master/metrics). */
  observer?: TaskObserver;
  /** Deletes what a purged job left outside the nodes' job directories (its OOB tag in DDFS). */
  onPurge?: (job: string) => Promise<unknown>;
}

/** Owner of every job, the scheduler and the task traffic with the nodes. */
export class JobManager {
  readonly jobs = new JobTable();
  private readonly runners = new Map<string, JobRunner>();
  private readonly running = new RunningTasks();
  private readonly scheduler: SchedulerShell;
  private readonly purged = new Map<string, number>();
  private readonly ended = new Set<string>();
  private readonly ticker: NodeJS.Timeout;
  private readonly retryDelayScale: number;

  constructor(private readonly deps: JobManagerDeps) {
    const s = deps.settings;
    const policyName = s.get('DISCO_SCHEDULER').trim().toLowerCase() || 'fair';
    let policy: SchedulerPolicy = 'fair';
    if (policyName === 'fifo') policy = 'fifo';
    else if (policyName !== 'fair')
      deps.log.warn({ DISCO_SCHEDULER: policyName }, 'unknown scheduler; using fair');
    const alpha = Number.parseFloat(s.get('DISCO_SCHEDULER_ALPHA'));
    const scale = Number.parseFloat(s.get('DISCO_RETRY_DELAY_SCALE'));
    this.retryDelayScale = Number.isFinite(scale) && scale >= 0 ? scale : 1;
    this.scheduler = new SchedulerShell(
      {
        policy,
        alpha: Number.isFinite(alpha) && alpha > 0 ? alpha : 0.001,
        prefetch: numberSetting(s.get('DISCO_TASK_PREFETCH'), DEFAULT_PREFETCH),
        prefetchBelowMs: numberSetting(s.get('DISCO_TASK_PREFETCH_BELOW_MS'), DEFAULT_PREFETCH_BELOW_MS),
      },
      (e) => this.onSchedulerEffect(e),
    );
    this.ticker = setInterval(() => this.tick(), TICK_MS);
    this.ticker.unref();
  }

  /** Load the jobs of earlier runs and tell the scheduler the node list. */
  async init(): Promise<void> {
    for (const record of await this.deps.store.loadAll()) {
      this.jobs.add({ record, events: new EventLog(this.deps.store.eventsFile(record.name)), live: null });
    }
    this.nodesChanged();
  }

  // ------------------------------------------------------------------ client operations

  /** `POST /disco/job/new`: the reply body (`["ok", name]` or `["error", message]`). */
  async submit(pack: Uint8Array): Promise<['ok', string] | ['error', string]> {
    let dict: ReturnType<typeof decodeJobPack>['jobdict'];
    try {
      dict = decodeJobPack(pack).jobdict;
    } catch (e) {
      return ['error', `Job failed to start: ${errorMessage(e)}`];
    }
    // The pack checks refuse '/' and '.'; a name must also be a safe, parseable path component.
    if (!isValidJobName(makeJobName(dict.prefix)))
      return [
        'error',
        `Job failed to start: invalid prefix ${JSON.stringify(dict.prefix)}: not usable in a job name`,
      ];
    let name: string;
    try {
      name = await this.deps.store.create(dict.prefix, pack);
    } catch (e) {
      this.deps.log.error({ err: e }, 'could not store a job pack');
      return ['error', `Job failed to start: could not store the job: ${errorMessage(e)}`];
    }
    const now = Date.now();
    const entry: JobEntry = {
      record: newJobRecord(name, dict, now),
      events: new EventLog(this.deps.store.eventsFile(name)),
      live: null,
    };
    this.jobs.add(entry);
    this.deps.observer?.jobSubmitted(name);
    entry.events.add('master', 'New job initialized!');
    await this.deps.store.saveRecord(entry.record);
    const runner = new JobRunner(
      name,
      {
        job: name,
        inputs: dict.input,
        mapPhase: dict['map?'] ?? false,
        reducePhase: dict['reduce?'] ?? false,
        nrReduces: dict.nr_reduces,
        forceLocal: dict.scheduler.force_local ?? false,
        forceRemote: dict.scheduler.force_remote ?? false,
        maxFailureRate: this.deps.config.maxFailureRate(),
        retryDelayScale: this.retryDelayScale,
      },
      this.effectsFor(entry),
    );
    this.runners.set(name, runner);
    entry.live = runner;
    this.scheduler.apply({
      type: 'job_add',
      job: name,
      maxCores: dict.scheduler.max_cores ?? DEFAULT_MAX_CORES,
      submittedAt: now,
    });
    runner.apply({ type: 'start', now });
    this.deps.log.info({ job: name }, 'job submitted');
    return ['ok', name];
  }

  /** `kill_job`: synchronous — the job is dead (and persisted) when this resolves. */
  async kill(name: string): Promise<void> {
    const entry = this.jobs.get(name);
    if (entry?.record.status !== 'active') return;
    // The coordinator logs `WARN: Job killed` and stops the job's tasks.
    this.runners.get(name)?.apply({ type: 'kill', now: Date.now() });
    // Whatever the coordinator decided, a killed job is dead.
    if (entry.record.status === 'active')
      this.finish(entry, { status: 'dead', failure: { reason: JOB_KILLED, task: null } });
    this.deps.registry.broadcast({ type: 'kill_job', job: name });
    await this.deps.store.saveRecord(entry.record, { fsync: true });
  }

  /** `clean_job`: kill, forget, delete the master's job directory. */
  async clean(name: string): Promise<void> {
    await this.kill(name);
    const entry = this.jobs.get(name);
    entry?.events.discard();
    this.jobs.delete(name);
    this.deps.observer?.jobRemoved(name);
    this.ended.delete(name);
    await this.deps.store.remove(name);
  }

  /** `purge_job`: clean, and have every node delete the job's data (now and for 24 h). */
  async purge(name: string): Promise<void> {
    await this.clean(name);
    if (!isValidJobName(name)) return;
    this.purged.set(name, Date.now() + PURGE_MEMORY_MS);
    this.deps.registry.broadcast({ type: 'purge_job', job: name });
    await this.deps
      .onPurge?.(name)
      .catch((err: unknown) =>
        this.deps.log.warn({ err, job: name }, 'purge: deleting the job\u2019s DDFS data failed'),
      );
  }

  /** Names purged in the last 24 h. */
  purgedJobs(): string[] {
    const now = Date.now();
    return [...this.purged.entries()].filter(([, until]) => until > now).map(([n]) => n);
  }

  jobInfo(name: string): JobInfo | null {
    const e = this.jobs.get(name);
    if (!e) return null;
    const r = e.record;
    let c = e.live ? e.live.counters() : { mapi: r.mapi, redi: r.redi };
    let hosts = e.live ? e.live.hosts() : [];
    // The coordinator counts assigned attempts as running; prefetched ones still waiting in a
    // node's queue are waiting (and not on that host) until the node starts them.
    const unstarted = e.live ? this.running.unstarted(name) : [];
    if (unstarted.length > 0) {
      const mapi: PhaseCounters = [...c.mapi];
      const redi: PhaseCounters = [...c.redi];
      hosts = hosts.slice();
      for (const t of unstarted) {
        const ph = t.mode === 'map' ? mapi : redi;
        if (ph[1] === 0) continue;
        ph[0] += 1;
        ph[1] -= 1;
        const i = hosts.indexOf(t.node);
        if (i >= 0) hosts.splice(i, 1);
      }
      c = { mapi, redi };
    }
    return {
      timestamp: formatEventTime(new Date(r.submittedAt)),
      active: r.status,
      mapi: c.mapi,
      redi: c.redi,
      reduce: r.reduce,
      results: r.results,
      inputs: r.inputs,
      worker: r.worker,
      hosts,
      owner: r.owner,
    };
  }

  /** The scheduler's queue lengths (metrics). */
  schedulerStats(): { queued: number; running: number; jobs: number } {
    return this.scheduler.stats();
  }

  /** host → job name of each running task (nodeinfo). */
  tasksByHost(): Map<string, string[]> {
    return this.running.byHost();
  }

  // ------------------------------------------------------------------ nodes

  /** The node list changed (connection, config, blacklist): tell the scheduler. */
  nodesChanged(): void {
    this.scheduler.apply({ type: 'nodes', nodes: this.deps.registry.schedNodes() });
  }

  nodeConnected(host: string): void {
    for (const job of this.purgedJobs()) this.deps.registry.send(host, { type: 'purge_job', job });
    this.nodesChanged();
  }

  /**
   * A node's connection is gone: its running attempts fail, every job hears `node_lost` (with
   * the prefetched attempts that had not started there: they are queued again, not failed).
   */
  nodeLost(host: string): void {
    this.nodesChanged();
    const lost = this.running.takeWhere((t) => t.node === host);
    const unstarted = new Map<string, { mode: Mode; taskid: number; attempt: number }[]>();
    for (const t of lost) {
      if (t.started) continue;
      let l = unstarted.get(t.job);
      if (!l) unstarted.set(t.job, (l = []));
      l.push({ mode: t.mode, taskid: t.taskid, attempt: t.attempt });
    }
    for (const t of lost) {
      this.deps.observer?.taskEnded(t, 'lost', NODE_LOST_MESSAGE);
      this.deps.registry.countOutcome(host, 'error');
      this.slotFreed(t);
    }
    const now = Date.now();
    for (const runner of [...this.runners.values()])
      runner.apply({
        type: 'node_lost',
        node: host,
        now,
        random: Math.random(),
        unstarted: unstarted.get(runner.job) ?? [],
      });
  }

  nodeMessage(host: string, msg: Exclude<NodeToMaster, { type: 'hello' }>): void {
    switch (msg.type) {
      case 'events': {
        const entry = this.jobs.get(msg.job);
        if (entry) for (const m of msg.messages) this.addEvent(entry, host, m);
        return;
      }
      case 'task_done': {
        const t = this.running.take(msg, host);
        if (!t) return;
        this.deps.registry.countOutcome(host, 'ok');
        this.deps.observer?.taskEnded(t, 'done');
        this.runners.get(t.job)?.apply({
          type: 'task_done',
          mode: t.mode,
          taskid: t.taskid,
          attempt: t.attempt,
          node: host,
          results: msg.results,
          now: Date.now(),
        });
        this.slotFreed(t, msg.durationMs);
        return;
      }
      case 'task_failed': {
        const t = this.running.take(msg, host);
        if (!t) return;
        this.deps.registry.countOutcome(host, msg.kind);
        this.deps.observer?.taskEnded(t, msg.kind, msg.message);
        this.runners.get(t.job)?.apply({
          type: 'task_failed',
          mode: t.mode,
          taskid: t.taskid,
          attempt: t.attempt,
          node: host,
          kind: msg.kind,
          message: msg.message,
          now: Date.now(),
          random: Math.random(),
        });
        this.slotFreed(t);
        return;
      }
      case 'shuffle_done':
        this.runners.get(msg.job)?.apply({
          type: 'shuffle_done',
          mode: msg.mode,
          node: host,
          requestId: msg.requestId,
          index: msg.index,
          now: Date.now(),
        });
        return;
      case 'shuffle_failed':
        this.runners.get(msg.job)?.apply({
          type: 'shuffle_failed',
          mode: msg.mode,
          node: host,
          requestId: msg.requestId,
          message: msg.message,
          now: Date.now(),
          random: Math.random(),
        });
        return;
      case 'task_started':
        if (this.running.started(msg, host)) this.deps.observer?.taskStarted({ ...msg, node: host });
        return;
      case 'status':
        this.deps.registry.setDisk(host, msg.diskFree, msg.diskUsed);
        return;
    }
  }

  /** Stop timers and write out every log and record (master shutdown). */
  async close(): Promise<void> {
    clearInterval(this.ticker);
    for (const r of this.runners.values()) r.dispose();
    const all = this.jobs.list();
    await Promise.all(all.map((j) => j.events.flush()));
    await Promise.all(all.map((j) => this.deps.store.saveRecord(j.record)));
  }

  // ------------------------------------------------------------------ effects

  /** An attempt ended, whatever its outcome: the scheduler frees its slot on the node. */
  private slotFreed(t: RunningTask, durationMs?: number): void {
    const { job, mode, taskid, attempt, node } = t;
    this.scheduler.apply({ type: 'task_end', job, mode, taskid, attempt, node, durationMs });
  }

  private tick(): void {
    const now = Date.now();
    this.scheduler.apply({ type: 'tick', now });
    for (const [name, until] of this.purged) if (until <= now) this.purged.delete(name);
  }

  private addEvent(entry: JobEntry, host: string, message: string): void {
    entry.events.add(host, message);
    if (FLUSH_NOW.test(message)) void entry.events.flush();
  }

  private onSchedulerEffect(e: SchedulerEffect): void {
    const { task } = e;
    const runner = this.runners.get(task.job);
    if (e.type === 'unschedulable') {
      runner?.apply({
        type: 'unschedulable',
        mode: task.mode,
        taskid: task.taskid,
        reason: e.reason,
        now: Date.now(),
      });
      return;
    }
    const ref = { job: task.job, mode: task.mode, taskid: task.taskid, attempt: task.attempt };
    const end = () => this.scheduler.apply({ type: 'task_end', ...ref, node: e.node });
    if (!runner) {
      end();
      return;
    }
    this.running.add({ ...ref, node: e.node, started: !e.prefetched });
    this.deps.observer?.taskAssigned({ ...ref, node: e.node }, !!e.prefetched);
    runner.apply({ type: 'task_assigned', ...ref, node: e.node, now: Date.now() });
    // The coordinator may not want this attempt any more (superseded: it asked to kill it,
    // which freed the slot) or the job may have ended meanwhile: then nothing is sent.
    if (!this.running.has(ref)) return;
    if (!this.runners.has(task.job)) {
      if (this.running.take(ref)) {
        this.deps.observer?.taskEnded({ ...ref, node: e.node }, 'killed');
        end();
      }
      return;
    }
    const run: Extract<MasterToNode, { type: 'run_task' }> = {
      type: 'run_task',
      task: { ...ref, inputs: e.inputs },
    };
    if (e.prefetched) run.prefetched = true;
    if (!this.deps.registry.send(e.node, run)) {
      if (!this.running.take(ref)) return;
      this.deps.observer?.taskEnded({ ...ref, node: e.node }, 'lost', NODE_LOST_MESSAGE);
      this.deps.registry.countOutcome(e.node, 'error');
      runner.apply({
        type: 'task_failed',
        ...ref,
        node: e.node,
        kind: 'error',
        message: NODE_LOST_MESSAGE,
        now: Date.now(),
        random: Math.random(),
      });
      end();
    }
  }

  private effectsFor(entry: JobEntry): RunnerEffects {
    const job = entry.record.name;
    return {
      event: (host, message) => this.addEvent(entry, host, message),
      queueTask: (task: SchedTask) => this.scheduler.apply({ type: 'task_add', task }),
      unqueueTask: (mode, taskid, attempt) =>
        this.scheduler.apply({ type: 'task_remove', job, mode, taskid, attempt }),
      killTask: (mode: Mode, taskid, attempt, node) => {
        const ref = { job, mode, taskid, attempt };
        this.deps.registry.send(node, { type: 'kill_task', task: ref });
        const t = this.running.take(ref);
        if (t) {
          this.deps.observer?.taskEnded(t, 'killed');
          this.scheduler.apply({ type: 'task_end', ...ref, node: t.node });
        }
      },
      shuffle: (node, mode, requestId, resultFiles) => {
        if (this.deps.registry.send(node, { type: 'shuffle', job, mode, requestId, resultFiles })) return;
        this.runners.get(job)?.apply({
          type: 'shuffle_failed',
          mode,
          node,
          requestId,
          message: `node ${node} is not connected`,
          now: Date.now(),
          random: Math.random(),
        });
      },
      mapResults: (results) => {
        entry.record = { ...entry.record, mapResults: results };
        void this.persist(entry);
      },
      ready: (results) => this.finish(entry, { status: 'ready', results }),
      failed: (reason, task) => this.finish(entry, { status: 'dead', failure: { reason, task } }),
      ended: () => this.endJob(job),
    };
  }

  /** Record the job's final state, stop its runner, wake `get_results` waiters. */
  private finish(
    entry: JobEntry,
    outcome: { status: 'ready'; results: string[] } | { status: 'dead'; failure: JobFailure },
  ): void {
    if (entry.record.status !== 'active') return;
    const job = entry.record.name;
    const c = entry.live?.counters() ?? { mapi: entry.record.mapi, redi: entry.record.redi };
    entry.record = {
      ...entry.record,
      status: outcome.status,
      results: outcome.status === 'ready' ? outcome.results : [],
      failure: outcome.status === 'dead' ? outcome.failure : null,
      finishedAt: Date.now(),
      mapi: c.mapi,
      redi: c.redi,
    };
    entry.live = null;
    this.endJob(job);
    this.deps.observer?.jobEnded(job, outcome.status);
    // Waiters hear of the end once it is on disk: what a client saw survives a crash.
    void Promise.all([entry.events.sync(), this.persist(entry, true)]).then(() => this.jobs.notifyEnded(job));
    this.deps.log.info({ job, status: outcome.status }, 'job ended');
  }

  /** Nothing of the job runs any more: drop it from the scheduler, kill leftover attempts. */
  private endJob(job: string): void {
    if (this.ended.has(job)) return;
    this.ended.add(job);
    const runner = this.runners.get(job);
    this.runners.delete(job);
    runner?.dispose();
    this.scheduler.apply({ type: 'job_remove', job });
    for (const t of this.running.takeWhere((x) => x.job === job)) {
      this.deps.observer?.taskEnded(t, 'killed');
      this.deps.registry.send(t.node, {
        type: 'kill_task',
        task: { job, mode: t.mode, taskid: t.taskid, attempt: t.attempt },
      });
      this.scheduler.apply({
        type: 'task_end',
        job,
        mode: t.mode,
        taskid: t.taskid,
        attempt: t.attempt,
        node: t.node,
      });
    }
  }

  private async persist(entry: JobEntry, fsync = false): Promise<void> {
    try {
      await this.deps.store.saveRecord(entry.record, { fsync });
    } catch (e) {
      this.deps.log.error({ job: entry.record.name, err: e }, 'could not save the job state');
    }
  }
}
