/**
 * Out-of-band results (wire spec §6.5, the original's `Task.put`/`Task.get`): besides its
 * output stream a task may store values by key. Each `put(key, value)` becomes one DDFS blob
 * named `key` in the tag `disco:job:oob:<job>`; `get(key, job)` reads the newest blob of that
 * name. Reduce tasks read what the map phase put, and later jobs read what earlier ones put
 * (concurrent tasks must not use OOB to talk to each other: they are independent).
 *
 * A task's job functions may `put` at most {@link MAX_OOB_PUTS} values: each is a file on the
 * nodes and an entry in one tag, so the normal output stream is the place for bulk results.
 * (The worker's own values, the task profile, are not counted.)
 *
 * Each value is pushed as a blob at once; the tag update is batched and sent with `delayed=1`
 * when the task ends (successfully or not), or before a `get` of the same job, so a task costs
 * one tag update however many values it puts (each delayed update waits for the tag server's
 * flush, about a second). The blobs are posted newest first, so the last `put` of a key wins.
 *
 * @example
 * function map(line: string) {
 *   put(`length-${thisPartition()}`, String(line.length));
 *   return [[line, 1]];
 * }
 * function reduce(iter: Iterable<[string, number]>) {
 *   const n = Number(get('length-0').toString());   // what map task 0 put
 *   ...
 * }
 */
import { readFileSync } from 'node:fs';
import { CommError, DiscoError, JobError } from '../common/errors.js';
import { blobName } from '../ddfs/names.js';
import { jobOobTag, oobKeyError } from '../protocol/names.js';
import { LocalSaveNode } from './local-save.js';
import { httpSync } from './readers/http-sync.js';
import { fetchToTemp, localFileOf, type OpenContext, removeQuietly } from './readers/open-url.js';
import { ddfsAuthHeaders, pushBlob, tagBlobs } from './save.js';

/** Most `put` calls one task may make. */
export const MAX_OOB_PUTS = 1000;

/** The OOB state of the running task. */
export interface TaskOob {
  readonly master: string;
  readonly jobname: string;
  /** Puts so far in this task. */
  readonly puts: number;
  /** Tag the blobs pushed since the last flush (one delayed tag update). */
  flush(): void;
  /** {@link TaskOob.flush} on a failing task: errors are swallowed (the task is failing anyway). */
  flushQuietly(): void;
  /** Forget this task (call last). */
  close(): void;
}

interface State {
  master: string;
  jobname: string;
  ctx: OpenContext;
  puts: number;
  /** Replica lists pushed but not yet tagged, oldest first. */
  pending: string[][];
  /** This node's DDFS, stored into directly (local-save.ts); looked for at the first put. */
  local?: LocalSaveNode | null;
}

let current: State | null = null;

function state(what: string): State {
  if (!current) throw new DiscoError(`${what}() is only available inside a running task`);
  return current;
}

function flushState(s: State): void {
  if (s.pending.length === 0) return;
  // POST prepends the posted list as it is: newest first keeps "the last put wins".
  const urls = s.pending.slice().reverse();
  tagBlobs(s.master, jobOobTag(s.jobname), urls);
  s.pending = [];
}

/**
 * Make `o` the current task for `put`/`get` (the task runner calls this; one task at a time).
 *
 * @example
 * const oob = openTaskOob({ master: task.master, jobname: task.jobname, ctx: openCtx });
 * try { runPhase(); oob.flush(); } catch (e) { oob.flushQuietly(); throw e; } finally { oob.close(); }
 */
export function openTaskOob(o: { master: string; jobname: string; ctx: OpenContext }): TaskOob {
  const s: State = {
    master: o.master.replace(/\/$/, ''),
    jobname: o.jobname,
    ctx: o.ctx,
    puts: 0,
    pending: [],
  };
  current = s;
  return {
    master: s.master,
    jobname: s.jobname,
    get puts() {
      return s.puts;
    },
    flush: () => flushState(s),
    flushQuietly: () => {
      try {
        flushState(s);
      } catch {
        // Nothing to add: the task's own error is the one worth reporting.
      }
    },
    close: () => {
      if (current === s) current = null;
    },
  };
}

function toBytes(value: unknown): Uint8Array {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof Uint8Array) return value;
  const what =
    value === null
      ? 'null'
      : typeof value === 'object'
        ? (value.constructor?.name ?? 'object')
        : typeof value;
  throw new JobError(
    `OOB values must be strings or bytes (Uint8Array/Buffer), got ${what}; convert it first, e.g. put(key, JSON.stringify(value))`,
  );
}

/**
 * Store `value` under `key` as an out-of-band result of this job. Keys use letters, digits
 * and `_ - @ :` (at most 256 characters) and should be unique within the job (the newest
 * value of a key wins). At most 1,000 puts per task.
 *
 * @example
 * put(`stats-${thisPartition()}`, JSON.stringify({ lines: 42 }));
 */
export function put(key: string, value: string | Uint8Array): void {
  const s = state('put');
  const bad = oobKeyError(key);
  if (bad) throw new JobError(bad);
  const bytes = toBytes(value);
  if (s.puts >= MAX_OOB_PUTS)
    throw new JobError(
      `too many OOB results: a task may put at most ${MAX_OOB_PUTS} values (put ${JSON.stringify(key)} would be number ${s.puts + 1}); write bulk results to the normal output stream (yield them from map/reduce) instead`,
    );
  s.puts++;
  pushValue(s, key, bytes);
}

/**
 * A value the worker itself stores for the task (its profile): not counted against the
 * task's {@link MAX_OOB_PUTS}, which limit what job functions put.
 */
export function putTaskValue(key: string, value: string | Uint8Array): void {
  const s = state('putTaskValue');
  const bad = oobKeyError(key);
  if (bad) throw new Error(`internal: ${bad}`);
  pushValue(s, key, toBytes(value));
}

function pushValue(s: State, key: string, bytes: Uint8Array): void {
  if (s.local === undefined) s.local = LocalSaveNode.find(s.ctx.ddfsData);
  s.pending.push(pushBlob(s.master, key, { data: bytes }, s.local));
}

function readReplica(url: string, ctx: OpenContext): Buffer {
  const local = localFileOf(url, ctx);
  if (local) return readFileSync(local);
  const tmp = fetchToTemp(url, ctx);
  try {
    return readFileSync(tmp);
  } finally {
    removeQuietly(tmp);
  }
}

/**
 * The newest out-of-band value stored under `key` by `job` (default: this job — in a reduce
 * task, what the map phase put). Throws when the job has no such key.
 *
 * @example
 * const stats = JSON.parse(get('stats-0').toString('utf8'));
 * const earlier = get('model', params.trainingJob);   // another, finished job
 */
export function get(key: string, job?: string): Buffer {
  const s = state('get');
  const bad = oobKeyError(key);
  if (bad) throw new JobError(bad);
  const jobname = job ?? s.jobname;
  if (jobname === s.jobname) flushState(s);
  const tag = jobOobTag(jobname);
  let body: string;
  try {
    body = httpSync({
      method: 'GET',
      url: `${s.master}/ddfs/tag/${tag}`,
      headers: ddfsAuthHeaders('read'),
    }).body;
  } catch (e) {
    if (e instanceof CommError && e.status === 404)
      throw new JobError(
        `job ${jobname} has no OOB results (no tag ${tag}): is the job name right, and did its tasks put anything?`,
      );
    throw e;
  }
  const urls = (JSON.parse(body) as { urls?: unknown }).urls;
  if (!Array.isArray(urls)) throw new CommError(`tag ${tag} has no urls list`, s.master);
  for (const set of urls) {
    const replicas = (Array.isArray(set) ? set : [set]).filter((u): u is string => typeof u === 'string');
    if (replicas.length === 0 || blobName(replicas[0]) !== key) continue;
    let last: unknown = null;
    for (const url of replicas) {
      try {
        return readReplica(url, s.ctx);
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }
  throw new JobError(`job ${jobname} has no OOB key ${JSON.stringify(key)}`);
}
