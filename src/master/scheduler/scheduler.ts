/**
 * The cluster-wide task scheduler as a pure state machine (wire spec §4.2):
 * `schedulerStep(state, event) → { state, effects }`. No I/O, no timers, no clock, no
 * randomness: time arrives in `tick` events; the shell performs the `assign` effects and reports
 * `task_end`.
 *
 * After every event it assigns as many queued tasks as possible:
 * 1. Free nodes = known nodes that are connected, not blacklisted and run fewer than
 *    `maxWorkers` tasks, fewest running first (then by name, for determinism).
 * 2. Jobs are tried in policy order (fair: lowest `prio + bias`; fifo: oldest first), skipping
 *    jobs at their `max_cores`.
 * 3. For a job: a task queued for one of the free nodes (data-local; the least-loaded such node
 *    wins), else a nopref task on the least-loaded free node that may take it, else, only onto
 *    free nodes for which no job has local tasks, a task stolen from the job's longest node
 *    queue (never a force_local task). A job with nothing for the free nodes is passed over.
 * 4. Prefetching (option `prefetch` > 0, off by default): when nothing more fits into free
 *    slots, a node may be handed up to `prefetch × maxWorkers` tasks beyond its slots, which
 *    wait in the node's queue and start the moment a slot there frees — hiding the master's
 *    round trip between two short tasks. Only jobs whose tasks are short may prefetch: the
 *    moving average of their successful task durations (`task_end.durationMs`, per mode, for
 *    every mode the job has queued) is known and below `prefetchBelowMs`, so a task waiting in
 *    a node's queue while another node idles costs little. Jobs are tried in policy order and
 *    the first job that may not prefetch (long or not yet measured tasks) stops prefetching
 *    for everyone behind it: it gets the next slot that frees (after at most the queued short
 *    tasks), so prefetching never starves a job the policy puts first. Extra slots go to the
 *    least-loaded nodes first, with the same locality rules.
 * Placement of a queued task: in the local queue of every usable node among its
 * `preferredHosts`; with none usable, in the nopref queue (force_local: the queue of a known
 * but currently unusable preferred node, waiting for it; no known preferred node at all →
 * `unschedulable`). force_remote tasks always go to nopref. Avoided nodes are skipped unless
 * they cover every node the task could use.
 *
 * Invariants (checked by {@link checkSchedulerInvariants} in the tests):
 * - A task attempt is either queued once or running once, never both; per job and
 *   (mode, taskid) at most one attempt is queued (a newer `task_add` replaces it).
 * - `node.running` equals the number of assigned-not-ended attempts on that node, and
 *   `job.running` those of the job.
 * - An assignment never makes a node exceed `maxWorkers` — or `maxWorkers × (1 + prefetch)`
 *   for a `prefetched` assignment of a job with short tasks — nor a job exceed `maxCores`
 *   (assigned attempts, prefetched ones included, count against it). A `nodes`/`job_add`
 *   event that lowers a limit does not stop running tasks; the count then drains below the new
 *   limit before anything new is assigned.
 * - `assign.prefetched` is true exactly when the node already had `maxWorkers` or more
 *   assigned attempts.
 * - Work conservation: after a step, no free node (fewer than `maxWorkers` assigned) could
 *   take a queued data-local or unconstrained nopref task of a job below its `maxCores`.
 *
 * Ownership: the state is mutated in place and returned, so that a step costs O(1) amortised
 * per assignment rather than a copy of 50,000 queued tasks. The caller (the master's single
 * scheduler shell) owns it, applies events one at a time and must not share or keep old
 * references expecting them to be unchanged.
 *
 * @example
 * let s = createScheduler({ policy: 'fair' });
 * s = schedulerStep(s, { type: 'nodes', nodes: [{ name: 'n1', maxWorkers: 2, connected: true, blacklisted: false }] }).state;
 * s = schedulerStep(s, { type: 'job_add', job: 'j@1:2:3', maxCores: 100, submittedAt: 0 }).state;
 * const { effects } = schedulerStep(s, { type: 'task_add', task });
 * // effects: [{ type: 'assign', task, node: 'n1', inputs: task.inputs }]
 */
import { avoidIgnored, forceError, orderInputsForNode, suitable } from './locality.js';
import { type JobPolicy, type PolicyJob, policyFor } from './policy.js';
import { killEntry, newEntry, type QueueEntry, TaskQueue } from './task-queue.js';
import type {
  Mode,
  SchedNode,
  SchedTask,
  SchedulerEffect,
  SchedulerEvent,
  SchedulerPolicy,
} from './types.js';

/** Default fair-share smoothing factor (`FF_ALPHA_DEFAULT`). */
export const DEFAULT_ALPHA = 0.001;
/** Default limit below which a job's average task duration allows prefetching (ms). */
export const DEFAULT_PREFETCH_BELOW_MS = 100;
/** Weight of the newest duration in a job's moving average. */
const DURATION_EMA = 0.2;

/** A node as the scheduler tracks it. */
export interface NodeRec extends SchedNode {
  /** Assigned, not yet ended attempts. */
  running: number;
  /** False for a node dropped from the node list that still has running attempts. */
  known: boolean;
}

/** A job as the scheduler tracks it. */
export interface JobRec extends PolicyJob {
  maxCores: number;
  /** Every queued entry of the job in arrival order (the order re-placement keeps). */
  all: TaskQueue;
  /** Local queues by node name. */
  local: Map<string, TaskQueue>;
  nopref: TaskQueue;
  /** The queued entry per `mode:taskid`. */
  byKey: Map<string, QueueEntry>;
  /** Queued entries per mode. */
  queuedByMode: Record<Mode, number>;
  /** Moving average of successful task durations per mode (ms; null: none finished yet). */
  avgMs: Record<Mode, number | null>;
}

/** An assigned attempt. */
export interface RunningRec {
  task: SchedTask;
  node: string;
}

/** The scheduler's whole state (see the module doc for ownership). */
export interface SchedulerState {
  readonly policyName: SchedulerPolicy;
  readonly policy: JobPolicy;
  readonly alpha: number;
  /** Extra assignments per slot for jobs with short tasks (0: no prefetching). */
  readonly prefetch: number;
  readonly prefetchBelowMs: number;
  nodes: Map<string, NodeRec>;
  jobs: Map<string, JobRec>;
  /** Assigned attempts by {@link attemptKey}. */
  running: Map<string, RunningRec>;
  /** Live local entries per node, over all jobs (steal only onto nodes where this is 0). */
  localCount: Map<string, number>;
  /** Known nodes (in node-list order) and the usable ones among them. */
  known: Set<string>;
  usable: string[];
  usableSet: Set<string>;
  /** Bumped whenever `known`/`usable` change; keys the queues' scan memos. */
  epoch: number;
  /** Next job insertion number. */
  seq: number;
  /** Queued entries over all jobs. */
  queued: number;
  lastTick: number | null;
}

/** Result of one step: the same (mutated) state and what the shell must do. */
export interface SchedulerStepResult {
  state: SchedulerState;
  effects: SchedulerEffect[];
}

/** An attempt in flight, as reported by {@link runningTasks}. */
export interface RunningTask {
  job: string;
  mode: Mode;
  taskid: number;
  attempt: number;
  node: string;
}

/** Identity of one attempt. */
export function attemptKey(job: string, mode: Mode, taskid: number, attempt: number): string {
  return `${job}\u0000${mode}\u0000${taskid}\u0000${attempt}`;
}

function taskKey(mode: Mode, taskid: number): string {
  return `${mode}:${taskid}`;
}

/**
 * A scheduler with no nodes and no jobs.
 * @param opts.alpha fair-share smoothing factor, default {@link DEFAULT_ALPHA}.
 * @param opts.prefetch extra assignments per slot for jobs with short tasks (default 0: none).
 * @param opts.prefetchBelowMs "short": average duration below this, default {@link DEFAULT_PREFETCH_BELOW_MS}.
 */
export function createScheduler(opts: {
  policy: SchedulerPolicy;
  alpha?: number;
  prefetch?: number;
  prefetchBelowMs?: number;
}): SchedulerState {
  const prefetch = opts.prefetch ?? 0;
  return {
    policyName: opts.policy,
    policy: policyFor(opts.policy),
    alpha: opts.alpha ?? DEFAULT_ALPHA,
    prefetch: Number.isFinite(prefetch) && prefetch > 0 ? prefetch : 0,
    prefetchBelowMs: opts.prefetchBelowMs ?? DEFAULT_PREFETCH_BELOW_MS,
    nodes: new Map(),
    jobs: new Map(),
    running: new Map(),
    localCount: new Map(),
    known: new Set(),
    usable: [],
    usableSet: new Set(),
    epoch: 0,
    seq: 0,
    queued: 0,
    lastTick: null,
  };
}

/** Apply one event (mutating `state`, see the module doc) and assign what can be assigned. */
export function schedulerStep(state: SchedulerState, ev: SchedulerEvent): SchedulerStepResult {
  const effects: SchedulerEffect[] = [];
  switch (ev.type) {
    case 'nodes':
      setNodes(state, ev.nodes, effects);
      break;
    case 'job_add': {
      const j = state.jobs.get(ev.job);
      if (j) {
        j.maxCores = ev.maxCores;
        j.submittedAt = ev.submittedAt;
      } else addJob(state, ev.job, ev.maxCores, ev.submittedAt);
      break;
    }
    case 'job_remove':
      removeJob(state, ev.job);
      break;
    case 'task_add':
      addTask(state, ev.task, effects);
      break;
    case 'task_remove': {
      const e = state.jobs.get(ev.job)?.byKey.get(taskKey(ev.mode, ev.taskid));
      if (e && e.task.attempt === ev.attempt) dropEntry(state, e);
      break;
    }
    case 'task_end':
      endTask(state, ev);
      break;
    case 'tick':
      state.policy.tick([...state.jobs.values()], totalCores(state), state.alpha);
      state.lastTick = ev.now;
      break;
  }
  assignAll(state, effects);
  return { state, effects };
}

// ---------------------------------------------------------------- events

function addJob(state: SchedulerState, name: string, maxCores: number, submittedAt: number): JobRec {
  // Attempts of an earlier incarnation of this job may still run; they hold its cores.
  let running = 0;
  for (const r of state.running.values()) if (r.task.job === name) running++;
  const job: JobRec = {
    name,
    submittedAt,
    seq: state.seq++,
    running,
    prio: 0,
    bias: 0,
    maxCores,
    all: new TaskQueue(null),
    local: new Map(),
    nopref: new TaskQueue(null),
    byKey: new Map(),
    queuedByMode: { map: 0, reduce: 0 },
    avgMs: { map: null, reduce: null },
  };
  state.jobs.set(name, job);
  return job;
}

function removeJob(state: SchedulerState, name: string): void {
  const job = state.jobs.get(name);
  if (!job) return;
  for (const e of [...job.all.entries()]) dropEntry(state, e);
  state.jobs.delete(name);
}

function addTask(state: SchedulerState, task: SchedTask, effects: SchedulerEffect[]): void {
  // Tasks of a job we were not told about still run (with no core limit, after every known
  // job in FIFO order) rather than being lost.
  const job = state.jobs.get(task.job) ?? addJob(state, task.job, Number.POSITIVE_INFINITY, Number.MAX_VALUE);
  if (state.running.has(attemptKey(task.job, task.mode, task.taskid, task.attempt))) return;
  const old = job.byKey.get(taskKey(task.mode, task.taskid));
  if (old) dropEntry(state, old);
  place(state, job, newEntry(task), effects);
}

function endTask(state: SchedulerState, ev: Extract<SchedulerEvent, { type: 'task_end' }>): void {
  const key = attemptKey(ev.job, ev.mode, ev.taskid, ev.attempt);
  const rec = state.running.get(key);
  if (!rec || rec.node !== ev.node) return;
  state.running.delete(key);
  const node = state.nodes.get(rec.node);
  if (node) {
    node.running -= 1;
    if (!node.known && node.running === 0) state.nodes.delete(node.name);
  }
  const job = state.jobs.get(ev.job);
  if (!job) return;
  job.running -= 1;
  const d = ev.durationMs;
  if (d !== undefined && Number.isFinite(d) && d >= 0) {
    const avg = job.avgMs[ev.mode];
    job.avgMs[ev.mode] = avg === null ? d : avg + DURATION_EMA * (d - avg);
  }
}

function setNodes(state: SchedulerState, list: readonly SchedNode[], effects: SchedulerEffect[]): void {
  const next = new Map<string, NodeRec>();
  for (const n of list) {
    const prev = state.nodes.get(n.name);
    next.set(n.name, { ...n, running: prev?.running ?? 0, known: true });
  }
  // A vanished node keeps its running attempts (the shell ends them) but takes nothing new.
  for (const prev of state.nodes.values())
    if (!next.has(prev.name) && prev.running > 0)
      next.set(prev.name, { ...prev, known: false, connected: false });
  state.nodes = next;

  const known = new Set(list.map((n) => n.name));
  const usable = [...next.values()]
    .filter((n) => n.known && n.connected && !n.blacklisted)
    .map((n) => n.name);
  if (sameSet(known, state.known) && sameList(usable, state.usable)) return;
  state.known = known;
  state.usable = usable;
  state.usableSet = new Set(usable);
  state.epoch += 1;
  replaceAll(state, effects);
}

// ---------------------------------------------------------------- placement

function localQueue(job: JobRec, node: string): TaskQueue {
  let q = job.local.get(node);
  if (!q) {
    q = new TaskQueue(node);
    job.local.set(node, q);
  }
  return q;
}

/** Put an entry into its job's queues, or report it unschedulable. */
function place(state: SchedulerState, job: JobRec, e: QueueEntry, effects: SchedulerEffect[]): void {
  const t = e.task;
  const reason = forceError(t, state.known);
  if (reason !== null) {
    effects.push({ type: 'unschedulable', task: t, reason });
    return;
  }
  let hosts: string[] = [];
  if (!t.forceRemote && t.preferredHosts.length > 0) {
    // Like the original, a retry is not queued locally on a node it failed on (unless it
    // failed everywhere it could run).
    const avoid = avoidIgnored(t, state.usable) ? [] : t.avoid;
    hosts = unique(t.preferredHosts.filter((h) => state.usableSet.has(h) && !avoid.includes(h)));
    // force_local with its nodes temporarily unusable: wait in their queues.
    if (hosts.length === 0 && t.forceLocal)
      hosts = unique(t.preferredHosts.filter((h) => state.known.has(h)));
  }
  job.all.push(e);
  job.byKey.set(taskKey(t.mode, t.taskid), e);
  job.queuedByMode[t.mode] += 1;
  state.queued += 1;
  if (hosts.length === 0) {
    job.nopref.push(e);
    return;
  }
  for (const h of hosts) {
    localQueue(job, h).push(e);
    state.localCount.set(h, (state.localCount.get(h) ?? 0) + 1);
  }
}

/** Take an entry out of every queue (assigned, replaced, removed or job dropped). */
function dropEntry(state: SchedulerState, e: QueueEntry): void {
  if (!killEntry(e)) return;
  state.queued -= 1;
  for (const q of e.queues)
    if (q.node !== null) state.localCount.set(q.node, (state.localCount.get(q.node) ?? 0) - 1);
  const job = state.jobs.get(e.task.job);
  const key = taskKey(e.task.mode, e.task.taskid);
  if (job && job.byKey.get(key) === e) {
    job.byKey.delete(key);
    job.queuedByMode[e.task.mode] -= 1;
  }
}

/** The node set changed: re-place every queued task, keeping each job's arrival order. */
function replaceAll(state: SchedulerState, effects: SchedulerEffect[]): void {
  state.localCount.clear();
  state.queued = 0;
  for (const job of state.jobs.values()) {
    const tasks = [...job.all.entries()].map((e) => e.task);
    job.all = new TaskQueue(null);
    job.local = new Map();
    job.nopref = new TaskQueue(null);
    job.byKey = new Map();
    job.queuedByMode = { map: 0, reduce: 0 };
    for (const t of tasks) place(state, job, newEntry(t), effects);
  }
}

// ---------------------------------------------------------------- assignment

function totalCores(state: SchedulerState): number {
  let n = 0;
  for (const name of state.usable) n += state.nodes.get(name)?.maxWorkers ?? 0;
  return n;
}

/** Usable nodes with fewer than `maxWorkers × (1 + extra)` assigned, least loaded first. */
function freeNodes(state: SchedulerState, extra = 0): NodeRec[] {
  const free: NodeRec[] = [];
  for (const name of state.usable) {
    const n = state.nodes.get(name);
    if (n && n.running < n.maxWorkers * (1 + extra)) free.push(n);
  }
  return free.sort((a, b) => a.running - b.running || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** May the job's queued tasks wait in a node's queue? (Every queued mode has short tasks.) */
function mayPrefetch(state: SchedulerState, job: JobRec): boolean {
  for (const mode of ['map', 'reduce'] as const) {
    if (job.queuedByMode[mode] === 0) continue;
    const avg = job.avgMs[mode];
    if (avg === null || avg >= state.prefetchBelowMs) return false;
  }
  return true;
}

function underCap(job: JobRec): boolean {
  // max_cores below 1 would starve the job forever; treat it as "no limit" like an absent one.
  return job.maxCores < 1 || job.running < job.maxCores;
}

function assignAll(state: SchedulerState, effects: SchedulerEffect[]): void {
  const cores = totalCores(state);
  while (state.queued > 0) {
    const free = freeNodes(state);
    const spare = state.prefetch > 0 ? freeNodes(state, state.prefetch) : free;
    if (spare.length === 0) return;
    const candidates: JobRec[] = [];
    for (const j of state.jobs.values()) if (j.all.live > 0 && underCap(j)) candidates.push(j);
    if (candidates.length === 0) return;
    const order = state.policy.order(candidates);
    let picked: [QueueEntry, NodeRec, JobRec] | null = null;
    if (free.length > 0) {
      for (const job of order) {
        const p = pickTask(state, job, free);
        if (p) {
          picked = [p[0], p[1], job];
          break;
        }
      }
    }
    if (!picked && spare !== free) {
      // Nothing fits a free slot: short tasks may wait in nodes' queues (see the module doc).
      for (const job of order) {
        if (!mayPrefetch(state, job)) break;
        const p = pickTask(state, job, spare);
        if (p) {
          picked = [p[0], p[1], job];
          break;
        }
      }
    }
    if (!picked) return;
    const [e, node, job] = picked;
    const prefetched = node.running >= node.maxWorkers;
    dropEntry(state, e);
    state.running.set(attemptKey(job.name, e.task.mode, e.task.taskid, e.task.attempt), {
      task: e.task,
      node: node.name,
    });
    node.running += 1;
    job.running += 1;
    state.policy.scheduled(job, cores);
    effects.push({
      type: 'assign',
      task: e.task,
      node: node.name,
      inputs: orderInputsForNode(e.task.inputs, node.name),
      prefetched,
    });
  }
}

/** The job's best task for one of the free nodes (local, nopref, steal), or null. */
function pickTask(state: SchedulerState, job: JobRec, free: NodeRec[]): [QueueEntry, NodeRec] | null {
  const { usable, epoch } = state;
  for (const n of free) {
    const q = job.local.get(n.name);
    if (!q || q.live === 0) continue;
    const e = q.find(n.name, epoch, (x) => suitable(x, n.name, usable, epoch));
    if (e) return [e, n];
  }
  if (job.nopref.live > 0) {
    for (const n of free) {
      const e = job.nopref.find(n.name, epoch, (x) => suitable(x, n.name, usable, epoch));
      if (e) return [e, n];
    }
  }
  if (job.all.live === job.nopref.live) return null;
  const empty = free.filter((n) => (state.localCount.get(n.name) ?? 0) === 0);
  if (empty.length === 0) return null;
  const queues = [...job.local.values()]
    .filter((q) => q.live > 0)
    .sort((a, b) => b.live - a.live || ((a.node ?? '') < (b.node ?? '') ? -1 : 1));
  for (const q of queues) {
    for (const n of empty) {
      // force_local tasks never move; suitable() already refuses them on a non-preferred node.
      const e = q.find(n.name, epoch, (x) => suitable(x, n.name, usable, epoch));
      if (e) return [e, n];
    }
  }
  return null;
}

// ---------------------------------------------------------------- read helpers

/** Queued (not yet assigned) tasks, of one job or of all. */
export function queuedCount(state: SchedulerState, job?: string): number {
  if (job === undefined) return state.queued;
  return state.jobs.get(job)?.all.live ?? 0;
}

/** Running attempts, of one job (including a removed job's leftovers) or of all. */
export function runningCount(state: SchedulerState, job?: string): number {
  if (job === undefined) return state.running.size;
  let n = 0;
  for (const r of state.running.values()) if (r.task.job === job) n++;
  return n;
}

/** Running attempts on a node. */
export function runningOn(state: SchedulerState, node: string): number {
  return state.nodes.get(node)?.running ?? 0;
}

/** Running attempts, optionally filtered by job and/or node. */
export function runningTasks(
  state: SchedulerState,
  filter: { job?: string; node?: string } = {},
): RunningTask[] {
  const out: RunningTask[] = [];
  for (const r of state.running.values()) {
    if (filter.job !== undefined && r.task.job !== filter.job) continue;
    if (filter.node !== undefined && r.node !== filter.node) continue;
    out.push({
      job: r.task.job,
      mode: r.task.mode,
      taskid: r.task.taskid,
      attempt: r.task.attempt,
      node: r.node,
    });
  }
  return out;
}

/** Queued tasks of a job in arrival order (for debugging and tests). */
export function queuedTasks(state: SchedulerState, job: string): SchedTask[] {
  const j = state.jobs.get(job);
  return j ? [...j.all.entries()].map((e) => e.task) : [];
}

/** Jobs with their current priority (`prio + bias`), best first, as in the UI's `current_priorities`. */
export function jobPriorities(state: SchedulerState): { job: string; priority: number }[] {
  return state.policy
    .order([...state.jobs.values()])
    .map((j) => ({ job: j.name, priority: j.prio + j.bias }));
}

/**
 * Violations of the module's invariants (empty when all hold). O(total tasks): for tests and
 * debugging, not for the hot path.
 */
export function checkSchedulerInvariants(state: SchedulerState): string[] {
  const errors: string[] = [];
  const perNode = new Map<string, number>();
  const perJob = new Map<string, number>();
  for (const [key, r] of state.running) {
    const t = r.task;
    if (key !== attemptKey(t.job, t.mode, t.taskid, t.attempt)) errors.push(`bad running key ${key}`);
    perNode.set(r.node, (perNode.get(r.node) ?? 0) + 1);
    perJob.set(t.job, (perJob.get(t.job) ?? 0) + 1);
  }
  for (const n of state.nodes.values()) {
    if ((perNode.get(n.name) ?? 0) !== n.running)
      errors.push(`node ${n.name}: running ${n.running} != ${perNode.get(n.name) ?? 0}`);
    if (!n.known && n.running === 0) errors.push(`node ${n.name}: stale unknown node`);
  }
  for (const [name, c] of perNode)
    if (!state.nodes.has(name)) errors.push(`node ${name}: ${c} running, no record`);
  let queued = 0;
  const local = new Map<string, number>();
  for (const job of state.jobs.values()) {
    if ((perJob.get(job.name) ?? 0) !== job.running)
      errors.push(`job ${job.name}: running ${job.running} mismatch`);
    const seen = new Set<string>();
    for (const e of job.all.entries()) {
      const t = e.task;
      const k = taskKey(t.mode, t.taskid);
      if (seen.has(k)) errors.push(`job ${job.name}: ${k} queued twice`);
      seen.add(k);
      if (job.byKey.get(k) !== e) errors.push(`job ${job.name}: ${k} not indexed`);
      if (state.running.has(attemptKey(t.job, t.mode, t.taskid, t.attempt)))
        errors.push(`job ${job.name}: ${k} attempt ${t.attempt} queued and running`);
      for (const q of e.queues) if (q.node !== null) local.set(q.node, (local.get(q.node) ?? 0) + 1);
    }
    if (seen.size !== job.byKey.size) errors.push(`job ${job.name}: index size mismatch`);
    let maps = 0;
    for (const k of seen) if (k.startsWith('map:')) maps++;
    if (job.queuedByMode.map !== maps || job.queuedByMode.reduce !== seen.size - maps)
      errors.push(`job ${job.name}: queuedByMode ${JSON.stringify(job.queuedByMode)} mismatch`);
    queued += seen.size;
  }
  if (queued !== state.queued) errors.push(`queued ${state.queued} != ${queued}`);
  for (const [node, c] of state.localCount)
    if ((local.get(node) ?? 0) !== c) errors.push(`localCount ${node}: ${c} != ${local.get(node) ?? 0}`);
  return errors;
}

// ---------------------------------------------------------------- small utilities

function unique(xs: string[]): string[] {
  return xs.length < 2 ? xs : [...new Set(xs)];
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
