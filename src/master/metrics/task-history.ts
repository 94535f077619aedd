/**
 * The attempt history of one job: every task attempt the master sent out, with its node, start,
 * end and outcome. It feeds the UI's task table and timeline, `disco trace` and the task
 * metrics. Recording costs an array push and a map entry per attempt; while the job runs, the
 * observatory also journals each event (task-journal.ts: batched appends that survive a master
 * crash). At the job's end the history is saved once as `tasks.json` next to
 * the job's `state.json` (no fsync: losing it in a crash loses only the timeline), so finished
 * jobs keep their task table after a master restart.
 *
 * The views ({@link taskTable}, {@link timeline}) are pure functions of the attempts.
 *
 * @example
 * const h = new TaskHistory();
 * h.assigned({ mode: 'map', taskid: 0, attempt: 1 }, 'node1', 1000);
 * h.ended({ mode: 'map', taskid: 0, attempt: 1 }, 'done', 1500);
 * taskTable(h.attempts, { nrMap: 1, nrReduce: 0, active: false }); // one row, status 'done'
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { writeFileAtomic } from '../../common/fs-atomic.js';

export type Mode = 'map' | 'reduce';

/** How an attempt ended ('running' while it has not). */
export type AttemptOutcome = 'running' | 'done' | 'error' | 'fatal' | 'lost' | 'killed';

export interface AttemptRef {
  mode: Mode;
  taskid: number;
  attempt: number;
}

export interface AttemptRec extends AttemptRef {
  node: string;
  /** ms since the epoch: when the node started it (assignment time until then). */
  start: number;
  /** Sent ahead (prefetched) and still waiting in the node's queue. */
  queued?: boolean;
  /** null while running (or when the master stopped before it ended). */
  end: number | null;
  outcome: AttemptOutcome;
  /** The failure message, for failed attempts. */
  message?: string;
}

/** Longest failure message kept per attempt. */
const MAX_MESSAGE = 500;

function key(r: AttemptRef): string {
  return `${r.mode}:${r.taskid}:${r.attempt}`;
}

/** One job's attempts, in the order they were assigned. */
export class TaskHistory {
  readonly attempts: AttemptRec[] = [];
  private readonly open = new Map<string, AttemptRec>();

  /** An attempt was sent to `node`; a `queued` (prefetched) one starts when the node says so. */
  assigned(ref: AttemptRef, node: string, now: number, queued = false): void {
    const rec: AttemptRec = {
      mode: ref.mode,
      taskid: ref.taskid,
      attempt: ref.attempt,
      node,
      start: now,
      end: null,
      outcome: 'running',
    };
    if (queued) rec.queued = true;
    this.attempts.push(rec);
    this.open.set(key(ref), rec);
  }

  /** A prefetched attempt left the node's queue and runs from `now`. */
  started(ref: AttemptRef, now: number): void {
    const rec = this.open.get(key(ref));
    if (!rec?.queued) return;
    delete rec.queued;
    rec.start = now;
  }

  /** The open attempt `ref`, if any. */
  get(ref: AttemptRef): AttemptRec | undefined {
    return this.open.get(key(ref));
  }

  /** An attempt ended; returns its record (null if it was not running). */
  ended(
    ref: AttemptRef,
    outcome: Exclude<AttemptOutcome, 'running'>,
    now: number,
    message?: string,
  ): AttemptRec | null {
    const k = key(ref);
    const rec = this.open.get(k);
    if (!rec) return null;
    this.open.delete(k);
    // Ended before it left the node's queue: it never ran.
    if (rec.queued) {
      delete rec.queued;
      rec.start = now;
    }
    rec.end = now;
    rec.outcome = outcome;
    if (message) rec.message = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message;
    return rec;
  }

  /** Attempts still running. */
  get running(): number {
    return this.open.size;
  }

  /** Serialized form (`tasks.json`). */
  toJSON(job: string): TasksFile {
    return {
      version: 1,
      job,
      attempts: this.attempts.map((a) => {
        const row: AttemptRow = [
          a.mode === 'map' ? 0 : 1,
          a.taskid,
          a.attempt,
          a.node,
          a.start,
          a.end,
          OUTCOMES.indexOf(a.outcome),
        ];
        if (a.message) row.push(a.message);
        return row;
      }),
    };
  }

  static fromJSON(f: TasksFile): TaskHistory {
    const h = new TaskHistory();
    for (const [m, taskid, attempt, node, start, end, o, message] of f.attempts) {
      const rec: AttemptRec = {
        mode: m === 0 ? 'map' : 'reduce',
        taskid,
        attempt,
        node,
        start,
        end,
        outcome: OUTCOMES[o] ?? 'killed',
      };
      if (message) rec.message = message;
      h.attempts.push(rec);
      // A saved attempt without an end was cut off by a master shutdown: it never ends now.
    }
    return h;
  }
}

/** Outcomes by their index in `tasks.json` and the task journal. */
export const OUTCOMES: readonly AttemptOutcome[] = ['running', 'done', 'error', 'fatal', 'lost', 'killed'];

/** `[mode 0|1, taskid, attempt, node, start, end|null, outcome index, message?]` */
type AttemptRow = [number, number, number, string, number, number | null, number, string?];

const TasksFileSchema = z.object({
  version: z.literal(1),
  job: z.string(),
  attempts: z.array(
    z
      .tuple([z.number(), z.number(), z.number(), z.string(), z.number(), z.number().nullable(), z.number()])
      .rest(z.string()),
  ),
});
export type TasksFile = { version: 1; job: string; attempts: AttemptRow[] };

/** Write `tasks.json` (atomic rename, no fsync). A missing job directory is not an error. */
export async function saveTasksFile(file: string, job: string, h: TaskHistory): Promise<void> {
  try {
    await writeFileAtomic(file, JSON.stringify(h.toJSON(job)), { fsync: false });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** Read `tasks.json`; null when missing or unreadable. */
export async function loadTasksFile(file: string): Promise<TaskHistory | null> {
  try {
    const parsed = TasksFileSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
    return parsed.success ? TaskHistory.fromJSON(parsed.data as TasksFile) : null;
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------ views

/** What a task is doing, as the task table shows it. */
export type TaskStatus = 'waiting' | 'running' | 'done' | 'retrying' | 'failed' | 'killed' | 'not run';

export interface TaskRow {
  mode: Mode;
  taskid: number;
  status: TaskStatus;
  /** Attempts sent out so far. */
  attempts: number;
  /** Node of the latest attempt. */
  node: string | null;
  /** Start of the first attempt. */
  start: number | null;
  /** End of the latest attempt (null while it runs). */
  end: number | null;
  /** Run time of the latest attempt (up to `now` while it runs). */
  durationMs: number | null;
  /** Failure message of the latest failed attempt. */
  message: string | null;
}

export interface TaskTableOptions {
  nrMap: number;
  nrReduce: number;
  /** The job is still running (unstarted tasks are waiting, failed ones retrying). */
  active: boolean;
  now?: number;
}

/** One row per task of the job (map tasks first), from its attempts. */
export function taskTable(attempts: readonly AttemptRec[], o: TaskTableOptions): TaskRow[] {
  const now = o.now ?? Date.now();
  const rows: TaskRow[] = [];
  const byKey = new Map<string, TaskRow>();
  const add = (mode: Mode, taskid: number): TaskRow => {
    const row: TaskRow = {
      mode,
      taskid,
      status: o.active ? 'waiting' : 'not run',
      attempts: 0,
      node: null,
      start: null,
      end: null,
      durationMs: null,
      message: null,
    };
    rows.push(row);
    byKey.set(`${mode}:${taskid}`, row);
    return row;
  };
  for (let i = 0; i < o.nrMap; i++) add('map', i);
  for (let i = 0; i < o.nrReduce; i++) add('reduce', i);
  for (const a of attempts) {
    const row = byKey.get(`${a.mode}:${a.taskid}`) ?? add(a.mode, a.taskid);
    row.attempts += 1;
    row.node = a.node;
    if (a.queued) {
      // Sent ahead, waiting in the node's queue.
      row.status = o.active ? 'waiting' : 'killed';
      continue;
    }
    row.start ??= a.start;
    row.end = a.end;
    row.durationMs = (a.end ?? (o.active ? now : a.start)) - a.start;
    if (a.message) row.message = a.message;
    row.status = attemptStatus(a, o.active);
  }
  rows.sort((x, y) => (x.mode === y.mode ? x.taskid - y.taskid : x.mode === 'map' ? -1 : 1));
  return rows;
}

function attemptStatus(a: AttemptRec, active: boolean): TaskStatus {
  switch (a.outcome) {
    case 'running':
      return active ? 'running' : 'killed';
    case 'done':
      return 'done';
    case 'fatal':
      return 'failed';
    case 'error':
    case 'lost':
      return active ? 'retrying' : 'failed';
    case 'killed':
      return active ? 'waiting' : 'killed';
  }
}

/** Counts of task statuses (for the filter's labels). */
export function statusCounts(rows: readonly TaskRow[]): Record<TaskStatus, number> {
  const out: Record<TaskStatus, number> = {
    waiting: 0,
    running: 0,
    done: 0,
    retrying: 0,
    failed: 0,
    killed: 0,
    'not run': 0,
  };
  for (const r of rows) out[r.status] += 1;
  return out;
}

export interface TimelineBar extends AttemptRef {
  node: string;
  /** Slot lane on the node (0-based). */
  lane: number;
  start: number;
  /** End, or `now` for running attempts. */
  end: number;
  outcome: AttemptOutcome;
}

export interface Timeline {
  /** Earliest start and latest end over all bars (0 when there are none). */
  start: number;
  end: number;
  /** Nodes in name order, with the number of lanes each needs. */
  nodes: { node: string; lanes: number }[];
  bars: TimelineBar[];
}

/**
 * Attempts laid out per node in slot lanes: each attempt takes the lowest lane that is free
 * at its start (interval partitioning), so a node needs as many lanes as it ran attempts at
 * once — at most its slot count.
 */
export function timeline(attempts: readonly AttemptRec[], now = Date.now()): Timeline {
  const sorted = [...attempts].sort((a, b) => a.start - b.start);
  const laneEnds = new Map<string, number[]>();
  const bars: TimelineBar[] = [];
  let start = Number.POSITIVE_INFINITY;
  let end = 0;
  for (const a of sorted) {
    if (a.queued) continue;
    const finish = Math.max(a.start, a.end ?? now);
    let lanes = laneEnds.get(a.node);
    if (!lanes) laneEnds.set(a.node, (lanes = []));
    let lane = lanes.findIndex((e) => e <= a.start);
    if (lane < 0) {
      lane = lanes.length;
      lanes.push(finish);
    } else lanes[lane] = finish;
    bars.push({
      mode: a.mode,
      taskid: a.taskid,
      attempt: a.attempt,
      node: a.node,
      lane,
      start: a.start,
      end: finish,
      outcome: a.outcome,
    });
    start = Math.min(start, a.start);
    end = Math.max(end, finish);
  }
  const nodes = [...laneEnds.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([node, l]) => ({ node, lanes: l.length }));
  return { start: bars.length ? start : 0, end, nodes, bars };
}
