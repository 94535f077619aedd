/**
 * One job's coordinator as a pure state machine (wire spec §4.1, §4.3, §4.4, §3.5, §3.7):
 * `coordinatorStep(state, event) → { state, effects }`. No I/O, timers, clock or randomness:
 * `now` and back-off jitter arrive in events; the shell (runner.ts) performs the effects.
 *
 * Life of a job: `start` → map phase (one task per input) → shuffle of the map `.results` per
 * node → reduce phase (`nrReduces` tasks over all map results) → shuffle → ready. A missing
 * phase is skipped. Failures follow §4.4: a task error is retried after a back-off with the
 * failing node avoided, until a task has failed `maxFailureRate` times; a fatal error, an
 * unschedulable task or a kill ends the job at once.
 *
 * Exactly-once results: only the *current* attempt of a task (the one last queued) may report;
 * `task_done`/`task_failed` of any other attempt, or of a task already done, are ignored. A new
 * attempt is only queued after the previous one was settled (failed, lost, or withdrawn), so
 * every task contributes the results of exactly one attempt.
 *
 * Lost nodes: running tasks there fail (`Connection lost to the node (network busy?)`, counted,
 * with back-off; a `kill_task` is emitted too, in case the node comes back with the worker
 * alive), except attempts the event lists as `unstarted` (prefetched, still in the node's
 * queue): they are queued again at once and not counted (the shell removed them from the
 * scheduler already, so each is re-queued exactly once). Done tasks whose `.results` lived there are run again (not counted as failures)
 * while their data is still needed. If the reduce phase runs and map data is lost, the reduce
 * phase is paused (queued reduce tasks withdrawn with `unqueue_task`, running ones killed), the
 * lost map tasks are re-run and only the nodes whose file lists changed are re-shuffled, and
 * the reduce phase resumes with the new map results (Hadoop's behaviour); reduce tasks already
 * done are kept, and every reduce attempt is queued with the map results current at that time.
 * Map data lost after every reduce task finished is only remembered: if a reduce task must
 * run again later (its own results were lost), those map tasks run again first.
 *
 * After `job_ended` every event is ignored. The state is mutated in place and returned; the
 * shell that owns it must not share it.
 *
 * @example
 * let s = createCoordinator({ job: 'J@1:2:3', inputs: ['raw://a'], mapPhase: true, reducePhase: false,
 *   nrReduces: 1, forceLocal: false, forceRemote: false, maxFailureRate: 3 });
 * const { effects } = coordinatorStep(s, { type: 'start', now: 0 });
 * // effects: event 'Starting job', event 'Starting map phase', queue_task map:0
 */
import { formatDuration } from '../../common/time.js';
import { urlHost } from '../../protocol/urls.js';
import type {
  CoordinatorConfig,
  CoordinatorEffect,
  CoordinatorEvent,
  FailedTask,
  Mode,
  PhaseCounters,
} from '../scheduler/types.js';
import {
  clearRunning,
  type HostShuffle,
  hostResultFiles,
  markDataLost,
  markDone,
  markUndone,
  newPhase,
  newTask,
  type PhaseState,
  phaseResults,
  setRunning,
  sortedHosts,
  type TaskRec,
} from './coordinator-phase.js';

/** Failure reason of a killed job (its record's `failure.reason`). */
export const JOB_KILLED = 'Job killed';
/** The message of a task failure caused by a lost node. */
export const CONNECTION_LOST = 'Connection lost to the node (network busy?)';
/** Pause between shuffle attempts on a node (spec §3.7: every 10 s). */
export const SHUFFLE_RETRY_MS = 10_000;

export interface CoordinatorState {
  readonly config: CoordinatorConfig;
  readonly retryDelayScale: number;
  status: 'new' | 'active' | 'ready' | 'dead';
  /** `job_ended` was emitted: every further event is ignored. */
  ended: boolean;
  startedAt: number;
  map: PhaseState | null;
  reduce: PhaseState | null;
  /** The phase whose tasks are being run (map while lost map data is re-made). */
  current: Mode | null;
  /** Reduce tasks wait for lost map data to be re-made. */
  reducePaused: boolean;
  nextRequestId: number;
  /**
   * What reduce tasks read (spec §3.5): one replica set per input, and the sorted hosts for
   * locality. Replaced when lost map data was re-made; every reduce attempt is queued with the
   * inputs current at that moment.
   */
  reduceInputs: { sets: string[][]; hosts: string[] } | null;
  mapResults: string[] | null;
  results: string[] | null;
}

export interface CoordinatorStepResult {
  state: CoordinatorState;
  effects: CoordinatorEffect[];
}

/** A coordinator for a job that has not started yet. */
export function createCoordinator(config: CoordinatorConfig): CoordinatorState {
  return {
    config,
    retryDelayScale: config.retryDelayScale ?? 1,
    status: 'new',
    ended: false,
    startedAt: 0,
    map: null,
    reduce: null,
    current: null,
    reducePaused: false,
    nextRequestId: 1,
    reduceInputs: null,
    mapResults: null,
    results: null,
  };
}

/** Working context of one step. */
interface Ctx {
  st: CoordinatorState;
  fx: CoordinatorEffect[];
  now: number;
}

/** Apply one event (mutating `state`) and return what the shell must do. */
export function coordinatorStep(state: CoordinatorState, ev: CoordinatorEvent): CoordinatorStepResult {
  const cx: Ctx = { st: state, fx: [], now: ev.now };
  if (state.ended) return { state, effects: cx.fx };
  switch (ev.type) {
    case 'start':
      if (state.status === 'new') start(cx);
      break;
    case 'task_assigned':
      onAssigned(cx, ev.mode, ev.taskid, ev.attempt, ev.node);
      break;
    case 'task_done':
      onDone(cx, ev);
      break;
    case 'task_failed':
      onFailed(cx, ev);
      break;
    case 'retry_due':
      onRetryDue(cx, ev.mode, ev.taskid);
      break;
    case 'unschedulable': {
      const t = taskOf(state, ev.mode, ev.taskid);
      if (t && t.status === 'queued') {
        event(cx, `ERROR: [${ev.mode}:${ev.taskid}] ${ev.reason}`);
        failJob(cx, ev.reason, failedTask(ev.mode, t, null));
      }
      break;
    }
    case 'node_lost':
      onNodeLost(cx, ev.node, ev.random ?? 0, ev.unstarted ?? []);
      break;
    case 'shuffle_done':
      onShuffleDone(cx, ev.mode, ev.node, ev.requestId, ev.index);
      break;
    case 'shuffle_failed':
      onShuffleFailed(cx, ev.mode, ev.node, ev.requestId, ev.message);
      break;
    case 'shuffle_retry_due': {
      const ph = phaseOf(state, ev.mode);
      const sh = ph?.shuffles.get(ev.node);
      if (ph && sh?.retryWaiting) {
        sh.retryWaiting = false;
        if (ph.stage === 'shuffle') advanceShuffle(cx, ph);
      }
      break;
    }
    case 'kill':
      event(cx, 'WARN: Job killed');
      failJob(cx, JOB_KILLED, null);
      break;
  }
  return { state, effects: cx.fx };
}

// ---------------------------------------------------------------- read helpers

/** jobinfo `mapi` / `redi` counters: [waiting, running, done, failed] (spec §7.2). */
export function coordinatorCounters(state: CoordinatorState): { mapi: PhaseCounters; redi: PhaseCounters } {
  const { config: c } = state;
  return {
    mapi: counters(state, state.map, c.mapPhase, c.inputs.length),
    redi: counters(state, state.reduce, c.reducePhase, c.nrReduces),
  };
}

function counters(
  st: CoordinatorState,
  ph: PhaseState | null,
  inJob: boolean,
  expected: number,
): PhaseCounters {
  if (!inJob) return [0, 0, 0, 0];
  const total = ph ? ph.tasks.length : expected;
  const done = ph?.done ?? 0;
  const running = ph?.running ?? 0;
  // A dead job has nothing waiting any more.
  const waiting = st.status === 'dead' ? 0 : total - done - running;
  return [waiting, running, done, ph?.failed ?? 0];
}

/** 'ready' once results exist, 'dead' after a failure or kill, else 'active'. */
export function coordinatorStatus(state: CoordinatorState): 'active' | 'ready' | 'dead' {
  return state.status === 'ready' || state.status === 'dead' ? state.status : 'active';
}

/** The node of every running task (one entry per task), for jobinfo `hosts`. */
export function runningHosts(state: CoordinatorState): string[] {
  const out: string[] = [];
  for (const ph of [state.map, state.reduce]) if (ph) for (const n of ph.runningOn.values()) out.push(n);
  return out;
}

/** Job results once ready, else null. */
export function coordinatorResults(state: CoordinatorState): string[] | null {
  return state.results;
}

/** Map-phase results once the map phase finished, else null. */
export function coordinatorMapResults(state: CoordinatorState): string[] | null {
  return state.mapResults;
}

// ---------------------------------------------------------------- helpers

/**
 * An event of the job's log; cut as failure reasons are (a worker's FATAL text, which may be
 * as long as a request, appears in two events and the job record: each is bounded).
 */
function event(cx: Ctx, message: string, host = 'master'): void {
  cx.fx.push({
    type: 'event',
    host,
    message: cutReason(message),
  });
}

function phaseOf(st: CoordinatorState, mode: Mode): PhaseState | null {
  return mode === 'map' ? st.map : st.reduce;
}

function taskOf(st: CoordinatorState, mode: Mode, taskid: number): TaskRec | undefined {
  const ph = phaseOf(st, mode);
  return ph && Number.isInteger(taskid) && taskid >= 0 ? ph.tasks[taskid] : undefined;
}

function since(cx: Ctx, t: number): string {
  return formatDuration(cx.now - t);
}

/** Hand the task's next attempt to the scheduler. */
function queueTask(cx: Ctx, ph: PhaseState, t: TaskRec): void {
  const ri = cx.st.reduceInputs;
  if (ph.mode === 'reduce' && ri) {
    // Reduce task i prefers hosts[i mod n] (spec §4.1; 0.4.5 meant to, see §0.1).
    t.inputs = ri.sets;
    t.preferredHosts = ri.hosts.length > 0 ? [ri.hosts[t.taskid % ri.hosts.length]] : [];
  }
  t.attempt += 1;
  t.status = 'queued';
  t.node = null;
  cx.fx.push({
    type: 'queue_task',
    task: {
      job: cx.st.config.job,
      mode: ph.mode,
      taskid: t.taskid,
      attempt: t.attempt,
      inputs: t.inputs,
      preferredHosts: t.preferredHosts,
      avoid: t.avoid.slice(),
      forceLocal: ph.forceLocal,
      forceRemote: ph.forceRemote,
    },
  });
}

/** Stop the task's current attempt wherever it is; it becomes `held`. */
function withdraw(cx: Ctx, ph: PhaseState, t: TaskRec): void {
  if (t.status === 'running' && t.node !== null) {
    cx.fx.push({ type: 'kill_task', mode: ph.mode, taskid: t.taskid, attempt: t.attempt, node: t.node });
    clearRunning(ph, t);
  } else if (t.status === 'queued') {
    cx.fx.push({ type: 'unqueue_task', mode: ph.mode, taskid: t.taskid, attempt: t.attempt });
  }
  if (t.status === 'running' || t.status === 'queued') t.status = 'held';
}

// ---------------------------------------------------------------- start and phases

function start(cx: Ctx): void {
  const { st } = cx;
  const c = st.config;
  st.status = 'active';
  st.startedAt = cx.now;
  event(cx, 'Starting job');
  if (c.mapPhase) {
    startMap(cx);
    return;
  }
  const inputs: string[] = [];
  for (const i of c.inputs) {
    if (typeof i === 'string') inputs.push(i);
    else if (c.reducePhase && i.length > 1) {
      event(cx, 'ERROR: Job failed: Redundant inputs in reduce');
      failJob(cx, 'Redundant inputs in reduce', null);
      return;
    } else inputs.push(...i);
  }
  if (c.reducePhase) startReduce(cx, inputs);
  else jobReady(cx, inputs);
}

function startMap(cx: Ctx): void {
  const { st } = cx;
  const c = st.config;
  event(cx, 'Starting map phase');
  const ph = newPhase('map', cx.now, c.forceLocal, c.forceRemote);
  st.map = ph;
  st.current = 'map';
  ph.tasks = c.inputs.map((input, i) => {
    const replicas = typeof input === 'string' ? [input] : input.slice();
    const hosts = [...new Set(replicas.map(urlHost).filter((h): h is string => h !== null))];
    return newTask(i, [replicas], hosts);
  });
  for (const t of ph.tasks) queueTask(cx, ph, t);
  if (ph.tasks.length === 0) tasksDone(cx, ph);
}

function setReduceInputs(st: CoordinatorState, inputs: readonly string[]): void {
  st.reduceInputs = { sets: inputs.map((u) => [u]), hosts: sortedHosts(inputs) };
}

function startReduce(cx: Ctx, inputs: string[]): void {
  const { st } = cx;
  event(cx, 'Starting reduce phase');
  // Reduce ignores force_local / force_remote (job_coordinator.erl `reduce/2`).
  const ph = newPhase('reduce', cx.now, false, false);
  st.reduce = ph;
  st.current = 'reduce';
  setReduceInputs(st, inputs);
  // No inputs (e.g. the map phase produced nothing): no reduce tasks, empty results.
  const n = inputs.length === 0 ? 0 : Math.max(0, st.config.nrReduces);
  for (let i = 0; i < n; i++) ph.tasks.push(newTask(i, [], []));
  for (const t of ph.tasks) queueTask(cx, ph, t);
  if (n === 0) tasksDone(cx, ph);
}

/** Every task of the phase is done: shuffle what lives on nodes, then finish. */
function tasksDone(cx: Ctx, ph: PhaseState): void {
  if (ph.hostFiles.size === 0) {
    finishPhase(cx, ph);
    return;
  }
  if (ph.stage !== 'shuffle') {
    ph.stage = 'shuffle';
    ph.shuffleStartedAt = cx.now;
    event(cx, 'Starting shuffle phase');
  }
  advanceShuffle(cx, ph);
}

function hostShuffle(ph: PhaseState, host: string): HostShuffle {
  let sh = ph.shuffles.get(host);
  if (!sh) {
    sh = { pending: null, retryWaiting: false, failCount: 0, done: null };
    ph.shuffles.set(host, sh);
  }
  return sh;
}

/** Ask every host whose file list changed since its last shuffle; finish when all are current. */
function advanceShuffle(cx: Ctx, ph: PhaseState): void {
  let complete = true;
  for (const host of ph.hostFiles.keys()) {
    const version = ph.hostVersion.get(host) ?? 0;
    const sh = hostShuffle(ph, host);
    if (sh.done?.version === version) continue;
    complete = false;
    if (sh.pending?.version === version || sh.retryWaiting) continue;
    const requestId = cx.st.nextRequestId++;
    sh.pending = { requestId, version };
    cx.fx.push({
      type: 'shuffle',
      node: host,
      mode: ph.mode,
      requestId,
      resultFiles: hostResultFiles(ph, host, cx.st.config.job),
    });
  }
  if (!complete) return;
  event(cx, `Finished shuffle phase in ${since(cx, ph.shuffleStartedAt)}`);
  finishPhase(cx, ph);
}

function finishPhase(cx: Ctx, ph: PhaseState): void {
  const { st } = cx;
  ph.stage = 'finished';
  const results = phaseResults(ph);
  if (ph.mode === 'reduce') {
    event(cx, `Finished reduce phase in ${since(cx, ph.startedAt)}`);
    jobReady(cx, results);
    return;
  }
  const reopened = ph.reopenedAt;
  ph.reopenedAt = null;
  if (reopened !== null) event(cx, `Finished re-running lost map tasks in ${since(cx, reopened)}`);
  else event(cx, `Finished map phase in ${since(cx, ph.startedAt)}`);
  st.mapResults = results;
  cx.fx.push({ type: 'map_results', results });
  if (!st.config.reducePhase) jobReady(cx, results);
  else if (st.reduce === null) startReduce(cx, results);
  else resumeReduce(cx, st.reduce, results);
}

/** Lost map data was re-made: the held reduce tasks run again over the new map results. */
function resumeReduce(cx: Ctx, ph: PhaseState, mapResults: string[]): void {
  const { st } = cx;
  st.reducePaused = false;
  st.current = 'reduce';
  event(cx, 'Resuming reduce phase');
  setReduceInputs(st, mapResults);
  // Tasks in back-off pick the new inputs up when their timer fires.
  for (const t of ph.tasks) if (t.status === 'held') queueTask(cx, ph, t);
  if (ph.done === ph.tasks.length) tasksDone(cx, ph);
}

function jobReady(cx: Ctx, results: string[]): void {
  const { st } = cx;
  event(cx, `READY: Job finished in ${since(cx, st.startedAt)}`);
  st.status = 'ready';
  st.results = results;
  st.current = null;
  cx.fx.push({ type: 'job_ready', results, durationMs: cx.now - st.startedAt });
  cx.fx.push({ type: 'job_ended' });
  st.ended = true;
}

/** Longest input URL kept in a job's failure record (`raw://` inputs carry their data). */
const MAX_FAILED_INPUT = 500;
/**
 * Longest failure reason kept in a job's record, in characters: a worker's FATAL message may be
 * as long as a whole request body, and the record stays in memory and in `state.json`.
 */
export const MAX_FAILURE_REASON = 65_536;

/** `text`, or its first `max` characters followed by `…` and `note` when it is longer. */
function cut(text: string, max: number, note = ''): string {
  if (text.length <= max) return text;
  // Not between the two halves of a surrogate pair.
  const end = /[\uD800-\uDBFF]/.test(text[max - 1]) ? max - 1 : max;
  return `${text.slice(0, end)}…${note}`;
}

/** A failure reason or event, at most {@link MAX_FAILURE_REASON} characters. */
function cutReason(text: string): string {
  return cut(text, MAX_FAILURE_REASON, ` (cut at ${MAX_FAILURE_REASON} characters)`);
}

/** What the job record keeps of the task that failed the job. */
function failedTask(mode: Mode, t: TaskRec, node: string | null): FailedTask {
  const url = mode === 'map' ? (t.inputs[0]?.[0] ?? null) : null;
  return { mode, taskid: t.taskid, node, input: url && cut(url, MAX_FAILED_INPUT) };
}

/**
 * The job failed or was killed: stop everything. The caller has emitted the explaining event(s);
 * `reason` is cut at {@link MAX_FAILURE_REASON} characters.
 */
function failJob(cx: Ctx, reason: string, task: FailedTask | null): void {
  const { st } = cx;
  for (const ph of [st.map, st.reduce]) {
    if (!ph) continue;
    for (const taskid of [...ph.runningOn.keys()]) withdraw(cx, ph, ph.tasks[taskid]);
  }
  st.status = 'dead';
  st.current = null;
  cx.fx.push({
    type: 'job_failed',
    reason: cutReason(reason),
    task,
  });
  cx.fx.push({ type: 'job_ended' });
  st.ended = true;
}

// ---------------------------------------------------------------- task events

function onAssigned(cx: Ctx, mode: Mode, taskid: number, attempt: number, node: string): void {
  const ph = phaseOf(cx.st, mode);
  const t = taskOf(cx.st, mode, taskid);
  if (!ph || !t) return;
  if (attempt !== t.attempt || t.status === 'held') {
    // An attempt we no longer want (superseded or withdrawn) reached a node: stop it.
    cx.fx.push({ type: 'kill_task', mode, taskid, attempt, node });
    return;
  }
  if (t.status !== 'queued') return;
  setRunning(ph, t, node);
  event(cx, `${mode}:${taskid} assigned to ${node}`);
}

function isCurrentAttempt(t: TaskRec | undefined, attempt: number): t is TaskRec {
  return t !== undefined && t.attempt === attempt && (t.status === 'queued' || t.status === 'running');
}

function onDone(cx: Ctx, ev: Extract<CoordinatorEvent, { type: 'task_done' }>): void {
  const ph = phaseOf(cx.st, ev.mode);
  const t = taskOf(cx.st, ev.mode, ev.taskid);
  if (!ph || !isCurrentAttempt(t, ev.attempt)) return;
  markDone(ph, t, ev.node, ev.results);
  if (ph.done === ph.tasks.length && ph.stage === 'tasks') tasksDone(cx, ph);
}

function onFailed(cx: Ctx, ev: Extract<CoordinatorEvent, { type: 'task_failed' }>): void {
  const ph = phaseOf(cx.st, ev.mode);
  const t = taskOf(cx.st, ev.mode, ev.taskid);
  if (!ph || !isCurrentAttempt(t, ev.attempt)) return;
  if (ev.kind === 'fatal') {
    ph.failed += 1;
    clearRunning(ph, t);
    t.status = 'held';
    const reason = `Worker at '${ev.node}' died: ${ev.message}`;
    // Task-scoped too, so the task's own messages (UI, `disco events`) show why it failed.
    event(cx, `ERROR: [${ev.mode}:${ev.taskid}] ${ev.message}`, ev.node);
    event(cx, `ERROR: Job failed: ${reason}`);
    failJob(cx, reason, failedTask(ev.mode, t, ev.node));
    return;
  }
  taskError(cx, ph, t, ev.node, ev.message, ev.random);
}

/** A retryable failure of the task's current attempt on `node` (spec §4.4). */
function taskError(cx: Ctx, ph: PhaseState, t: TaskRec, node: string, message: string, random: number): void {
  const { st } = cx;
  const tag = `${ph.mode}:${t.taskid}`;
  ph.failed += 1;
  event(cx, `WARNING: [${tag}] ${message}`, node);
  clearRunning(ph, t);
  t.status = 'backoff';
  t.failCount += 1;
  if (!t.avoid.includes(node)) t.avoid.push(node);
  const k = t.failCount;
  const max = st.config.maxFailureRate;
  if (k >= max) {
    const msg = `Task failed ${k} times. At most ${max} failures are allowed.`;
    t.status = 'held';
    event(cx, `ERROR: [${tag}] ${msg}`);
    event(cx, `ERROR: Job failed: ${msg}`);
    failJob(cx, msg, failedTask(ph.mode, t, node));
    return;
  }
  const jitter = 1000 + Math.min(Math.max(random, 0), 1) * 29_000;
  const delayMs = Math.round((Math.min(k * 1000, 60_000) + jitter) * st.retryDelayScale);
  event(
    cx,
    `${tag} Task failed for the ${k}th time. Sleeping ${Math.round(delayMs / 1000)} seconds before retrying.`,
  );
  cx.fx.push({ type: 'retry_after', mode: ph.mode, taskid: t.taskid, delayMs });
}

function onRetryDue(cx: Ctx, mode: Mode, taskid: number): void {
  const ph = phaseOf(cx.st, mode);
  const t = taskOf(cx.st, mode, taskid);
  if (!ph || !t || t.status !== 'backoff') return;
  if (mode === 'reduce' && cx.st.reducePaused) t.status = 'held';
  else queueTask(cx, ph, t);
}

// ---------------------------------------------------------------- lost nodes

function onNodeLost(
  cx: Ctx,
  node: string,
  random: number,
  unstarted: readonly { mode: Mode; taskid: number; attempt: number }[],
): void {
  const { st } = cx;
  const neverStarted = new Set(unstarted.map((u) => `${u.mode}:${u.taskid}:${u.attempt}`));
  // 1. Attempts running there failed; prefetched ones that never started there run again.
  for (const ph of [st.map, st.reduce]) {
    if (!ph) continue;
    const lost = [...ph.runningOn].filter(([, n]) => n === node).map(([id]) => ph.tasks[id]);
    for (const t of lost) {
      if (st.ended) return;
      // Stop it in case the node comes back with the worker still running.
      cx.fx.push({ type: 'kill_task', mode: ph.mode, taskid: t.taskid, attempt: t.attempt, node });
      if (neverStarted.has(`${ph.mode}:${t.taskid}:${t.attempt}`)) {
        clearRunning(ph, t);
        event(cx, `WARNING: [${ph.mode}:${t.taskid}] ${node} was lost before the task started; queued again`);
        queueTask(cx, ph, t);
        continue;
      }
      taskError(cx, ph, t, node, CONNECTION_LOST, random);
    }
  }
  if (st.ended) return;

  // 2. Results stored there are gone: forget them while they are still needed. Map data is
  // needed until every reduce task is done; lost earlier while unneeded, it is needed again
  // as soon as a reduce task must run again.
  const red = st.reduce;
  const redLost = red ? lostTasks(red, node) : [];
  for (const t of redLost) markUndone(red!, t);
  const map = st.map;
  let mapLost: TaskRec[] = [];
  if (map) {
    const here = lostTasks(map, node);
    if (red === null || red.done < red.tasks.length) {
      const ids = new Set([...here.map((t) => t.taskid), ...map.dataLost]);
      mapLost = [...ids].sort((a, b) => a - b).map((id) => map.tasks[id]);
      for (const t of mapLost) markUndone(map, t);
    } else for (const t of here) markDataLost(map, t);
  }
  for (const ph of [map, red]) ph?.shuffles.delete(node);

  // 3. Run them again.
  if (map && mapLost.length > 0) {
    event(cx, `WARNING: Results of ${mapLost.length} map task(s) were lost with ${node}: running them again`);
    if (red && !st.reducePaused) pauseReduce(cx, red);
    if (map.stage === 'finished') map.reopenedAt = cx.now;
    map.stage = 'tasks';
    for (const t of mapLost) queueTask(cx, map, t);
  }
  if (red && redLost.length > 0) {
    event(
      cx,
      `WARNING: Results of ${redLost.length} reduce task(s) were lost with ${node}: running them again`,
    );
    red.stage = 'tasks';
    if (!st.reducePaused) for (const t of redLost) queueTask(cx, red, t);
  }
}

function lostTasks(ph: PhaseState, node: string): TaskRec[] {
  const ids = [...(ph.hostFiles.get(node) ?? [])].sort((a, b) => a - b);
  return ids.map((id) => ph.tasks[id]);
}

/** Map data the reduce tasks read is gone: hold every reduce task that is not done. */
function pauseReduce(cx: Ctx, red: PhaseState): void {
  cx.st.reducePaused = true;
  cx.st.current = 'map';
  event(cx, 'Pausing reduce phase until the lost map results are made again');
  for (const t of red.tasks) withdraw(cx, red, t);
}

// ---------------------------------------------------------------- shuffle events

function onShuffleDone(cx: Ctx, mode: Mode, node: string, requestId: number, index: string | null): void {
  const ph = phaseOf(cx.st, mode);
  const sh = ph?.shuffles.get(node);
  if (!ph || !sh?.pending || sh.pending.requestId !== requestId) return;
  sh.done = { version: sh.pending.version, index };
  sh.pending = null;
  sh.failCount = 0;
  if (ph.stage === 'shuffle') advanceShuffle(cx, ph);
}

function onShuffleFailed(cx: Ctx, mode: Mode, node: string, requestId: number, message: string): void {
  const { st } = cx;
  const ph = phaseOf(st, mode);
  const sh = ph?.shuffles.get(node);
  if (!ph || !sh?.pending || sh.pending.requestId !== requestId) return;
  sh.pending = null;
  sh.failCount += 1;
  const max = st.config.maxFailureRate;
  if (sh.failCount >= max) {
    const msg = `Shuffling failed ${sh.failCount} times. At most ${max} failures are allowed.`;
    event(cx, `ERROR: Job failed: ${msg}`);
    failJob(cx, msg, null);
    return;
  }
  event(cx, `WARNING: Creating index file failed at ${node}: ${message} (retrying)`, node);
  sh.retryWaiting = true;
  cx.fx.push({
    type: 'retry_shuffle_after',
    mode,
    node,
    delayMs: Math.round(SHUFFLE_RETRY_MS * st.retryDelayScale),
  });
}
