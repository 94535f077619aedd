/**
 * Which task attempts run where, as the master last sent them out. A node's report about an
 * attempt that is not in this table (stale, killed, or from a replaced connection) is ignored,
 * so each attempt ends exactly once and frees its scheduler slot exactly once.
 *
 * An attempt sent as `prefetched` waits in the node's queue until a slot there frees; it is
 * `started: false` until the node says `task_started`. The job's coordinator counts every
 * attempt in this table as running; jobinfo and nodeinfo subtract the unstarted ones (see
 * {@link RunningTasks.unstarted}), and a lost node's unstarted attempts are re-queued without
 * counting a failure.
 */
import { type TaskRef, taskKey } from '../../protocol/control.js';

export interface RunningTask extends TaskRef {
  node: string;
  /** False while a prefetched attempt waits in the node's queue. */
  started: boolean;
}

export class RunningTasks {
  private readonly byKey = new Map<string, RunningTask>();
  /** Unstarted attempts per job (few: at most the prefetch depth of every node). */
  private readonly waiting = new Map<string, Set<RunningTask>>();

  add(t: RunningTask): void {
    this.byKey.set(taskKey(t), t);
    if (!t.started) {
      let set = this.waiting.get(t.job);
      if (!set) this.waiting.set(t.job, (set = new Set()));
      set.add(t);
    }
  }

  has(ref: TaskRef): boolean {
    return this.byKey.has(taskKey(ref));
  }

  /** The node started a prefetched attempt; false when it is unknown there (stale). */
  started(ref: TaskRef, node: string): boolean {
    const t = this.byKey.get(taskKey(ref));
    if (!t || t.node !== node) return false;
    this.markStarted(t);
    return true;
  }

  /** Remove and return the attempt if it runs on `node` (any node when omitted). */
  take(ref: TaskRef, node?: string): RunningTask | null {
    const key = taskKey(ref);
    const t = this.byKey.get(key);
    if (!t || (node !== undefined && t.node !== node)) return null;
    this.byKey.delete(key);
    this.markStarted(t);
    return t;
  }

  /** Remove and return every attempt matching `pred`. */
  takeWhere(pred: (t: RunningTask) => boolean): RunningTask[] {
    const out: RunningTask[] = [];
    for (const [k, t] of this.byKey) {
      if (pred(t)) {
        // Reported as they were: the caller may want to know which never started.
        out.push({ ...t });
        this.byKey.delete(k);
        this.markStarted(t);
      }
    }
    return out;
  }

  /** The job's attempts that wait in a node's queue. */
  unstarted(job: string): RunningTask[] {
    const set = this.waiting.get(job);
    return set ? [...set] : [];
  }

  /** host → job name of every attempt running there (nodeinfo `tasks`; queued ones excluded). */
  byHost(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const t of this.byKey.values()) {
      if (!t.started) continue;
      let l = out.get(t.node);
      if (!l) out.set(t.node, (l = []));
      l.push(t.job);
    }
    return out;
  }

  private markStarted(t: RunningTask): void {
    if (t.started) return;
    t.started = true;
    const set = this.waiting.get(t.job);
    set?.delete(t);
    if (set?.size === 0) this.waiting.delete(t.job);
  }
}
