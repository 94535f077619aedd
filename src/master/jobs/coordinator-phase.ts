/**
 * Per-phase bookkeeping of the job coordinator (coordinator.ts): task records, the exact
 * counters, which `.results` files live on which host, and the per-host shuffle state. Pure data
 * and small helpers; every decision stays in coordinator.ts.
 *
 * Counter invariants (kept by the helpers below, property-tested):
 * - `done` = #tasks in status `done`; `running` = #tasks in status `running` = `runningOn.size`.
 * - `hostFiles` lists exactly the done tasks (not in `dataLost`) with a `dir://…/*.results`
 *   result on that host, and `hostVersion[host]` changes whenever that list changes (a shuffle
 *   answer is only valid for the version it was asked for).
 *
 * @example
 * const ph = newPhase('map', 0, false, false);
 * resultRelPath('dir://n1/disco/n1/ab/J@1:2:3/.disco/map-0-1.results', 'J@1:2:3'); // '.disco/map-0-1.results'
 */
import { splitUrl, urlHost } from '../../protocol/urls.js';
import type { Mode } from '../scheduler/types.js';

/**
 * Life of one task: `queued` (handed to the scheduler) → `running` (assigned) → `done`, or on
 * failure → `backoff` (timer running) → `queued` again. `held`: waiting without being queued
 * (a paused reduce phase, or the task was stopped because the job ended).
 */
export type TaskStatus = 'queued' | 'running' | 'backoff' | 'held' | 'done';

export interface TaskRec {
  readonly taskid: number;
  /** The one attempt whose reports count (-1 before the first queueing). */
  attempt: number;
  status: TaskStatus;
  /** Where the current attempt runs (running) or ran (done). */
  node: string | null;
  /** Failed attempts so far (not counting attempts stopped for lost data). */
  failCount: number;
  avoid: string[];
  inputs: string[][];
  preferredHosts: string[];
  /** Results of the accepted attempt (when done). */
  results: string[];
  /** Hosts holding this task's `.results` files (when done). */
  resultHosts: string[];
}

/** Shuffle of one host's `.results` files. */
export interface HostShuffle {
  pending: { requestId: number; version: number } | null;
  /** A `retry_shuffle_after` timer is running. */
  retryWaiting: boolean;
  failCount: number;
  /** The last successful shuffle and the file-list version it covered. */
  done: { version: number; index: string | null } | null;
}

export type PhaseStage = 'tasks' | 'shuffle' | 'finished';

export interface PhaseState {
  readonly mode: Mode;
  readonly forceLocal: boolean;
  readonly forceRemote: boolean;
  tasks: TaskRec[];
  done: number;
  running: number;
  failed: number;
  stage: PhaseStage;
  startedAt: number;
  shuffleStartedAt: number;
  /** When lost data re-opened a finished phase (null otherwise). */
  reopenedAt: number | null;
  /** Running tasks: taskid → node. */
  runningOn: Map<number, string>;
  hostFiles: Map<string, Set<number>>;
  hostVersion: Map<string, number>;
  shuffles: Map<string, HostShuffle>;
  /**
   * Done tasks whose `.results` data was lost while nobody needed it (map data after every
   * reduce task finished). They still count as done; if the data is needed again (a reduce
   * task must re-run), they run again too.
   */
  dataLost: Set<number>;
}

export function newPhase(mode: Mode, now: number, forceLocal: boolean, forceRemote: boolean): PhaseState {
  return {
    mode,
    forceLocal,
    forceRemote,
    tasks: [],
    done: 0,
    running: 0,
    failed: 0,
    stage: 'tasks',
    startedAt: now,
    shuffleStartedAt: now,
    reopenedAt: null,
    runningOn: new Map(),
    hostFiles: new Map(),
    hostVersion: new Map(),
    shuffles: new Map(),
    dataLost: new Set(),
  };
}

export function newTask(taskid: number, inputs: string[][], preferredHosts: string[]): TaskRec {
  return {
    taskid,
    attempt: -1,
    status: 'held',
    node: null,
    failCount: 0,
    avoid: [],
    inputs,
    preferredHosts,
    results: [],
    resultHosts: [],
  };
}

/** A `.results` file of a task: shuffled per host. Anything else (tags) is a global result. */
export function isLocalResult(url: string): boolean {
  const u = splitUrl(url);
  return u.scheme === 'dir' && u.host !== '' && u.path.endsWith('.results');
}

/**
 * Path of a `.results` file relative to the job home: the part after
 * `disco/<host>/<HH>/<job>/` (wire spec §3.7).
 */
export function resultRelPath(url: string, job: string): string {
  const path = splitUrl(url).path;
  const parts = path.split('/');
  if (parts[0] === 'disco' && parts.length >= 5 && parts[3] === job) return parts.slice(4).join('/');
  const at = path.indexOf(`/${job}/`);
  return at >= 0 ? path.slice(at + job.length + 2) : path;
}

export function setRunning(ph: PhaseState, t: TaskRec, node: string): void {
  if (t.status === 'running') return;
  t.status = 'running';
  t.node = node;
  ph.running += 1;
  ph.runningOn.set(t.taskid, node);
}

/** Leave `running` (the caller sets the next status). */
export function clearRunning(ph: PhaseState, t: TaskRec): void {
  if (t.status !== 'running') return;
  ph.running -= 1;
  ph.runningOn.delete(t.taskid);
}

function bumpVersion(ph: PhaseState, host: string): void {
  ph.hostVersion.set(host, (ph.hostVersion.get(host) ?? 0) + 1);
}

/** Accept the results of the task's current attempt. */
export function markDone(ph: PhaseState, t: TaskRec, node: string, results: string[]): void {
  clearRunning(ph, t);
  t.status = 'done';
  t.node = node;
  t.results = results.slice();
  const hosts = new Set<string>();
  for (const r of results) if (isLocalResult(r)) hosts.add(urlHost(r) ?? '');
  t.resultHosts = [...hosts];
  for (const h of t.resultHosts) {
    let files = ph.hostFiles.get(h);
    if (!files) {
      files = new Set();
      ph.hostFiles.set(h, files);
    }
    files.add(t.taskid);
    bumpVersion(ph, h);
  }
  ph.done += 1;
}

function dropFiles(ph: PhaseState, t: TaskRec): void {
  for (const h of t.resultHosts) {
    const files = ph.hostFiles.get(h);
    if (!files?.delete(t.taskid)) continue;
    if (files.size === 0) ph.hostFiles.delete(h);
    bumpVersion(ph, h);
  }
}

/** A done task's data is gone but not needed now: it stays done, flagged in `dataLost`. */
export function markDataLost(ph: PhaseState, t: TaskRec): void {
  if (t.status !== 'done') return;
  dropFiles(ph, t);
  ph.dataLost.add(t.taskid);
}

/** Forget a done task's results (their data is gone); it becomes `held`. */
export function markUndone(ph: PhaseState, t: TaskRec): void {
  if (t.status !== 'done') return;
  dropFiles(ph, t);
  ph.dataLost.delete(t.taskid);
  t.status = 'held';
  t.results = [];
  t.resultHosts = [];
  ph.done -= 1;
}

/** The `.results` files on `host`, relative to the job home, in task order. */
export function hostResultFiles(ph: PhaseState, host: string, job: string): string[] {
  const ids = [...(ph.hostFiles.get(host) ?? [])].sort((a, b) => a - b);
  const files: string[] = [];
  for (const id of ids)
    for (const r of ph.tasks[id].results)
      if (isLocalResult(r) && urlHost(r) === host) files.push(resultRelPath(r, job));
  return files;
}

/** Phase results: sorted unique (global task results ++ the hosts' index URLs). */
export function phaseResults(ph: PhaseState): string[] {
  const out = new Set<string>();
  for (const t of ph.tasks)
    if (t.status === 'done') for (const r of t.results) if (!isLocalResult(r)) out.add(r);
  for (const h of ph.hostFiles.keys()) {
    const idx = ph.shuffles.get(h)?.done?.index;
    if (idx) out.add(idx);
  }
  return [...out].sort();
}

/** Sorted unique hosts of URLs (nulls dropped): reduce task i prefers `hosts[i % n]`. */
export function sortedHosts(urls: readonly string[]): string[] {
  const hosts = new Set<string>();
  for (const u of urls) {
    const h = urlHost(u);
    if (h) hosts.add(h);
  }
  return [...hosts].sort();
}
