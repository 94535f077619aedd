/**
 * Which task attempts run where, as the master last sent them out. A node's report about an
 * attempt that is not in this table (stale, killed, or from a replaced connection) is ignored,
 * so each attempt ends exactly once and frees its scheduler slot exactly once.
 */
import { type TaskRef, taskKey } from '../../protocol/control.js';

export interface RunningTask extends TaskRef {
  node: string;
}

export class RunningTasks {
  private readonly byKey = new Map<string, RunningTask>();

  add(t: RunningTask): void {
    this.byKey.set(taskKey(t), t);
  }

  has(ref: TaskRef): boolean {
    return this.byKey.has(taskKey(ref));
  }

  /** Remove and return the attempt if it runs on `node` (any node when omitted). */
  take(ref: TaskRef, node?: string): RunningTask | null {
    const key = taskKey(ref);
    const t = this.byKey.get(key);
    if (!t || (node !== undefined && t.node !== node)) return null;
    this.byKey.delete(key);
    return t;
  }

  /** Remove and return every attempt matching `pred`. */
  takeWhere(pred: (t: RunningTask) => boolean): RunningTask[] {
    const out: RunningTask[] = [];
    for (const [k, t] of this.byKey) {
      if (pred(t)) {
        out.push(t);
        this.byKey.delete(k);
      }
    }
    return out;
  }

  /** host → job name of every attempt running there (nodeinfo `tasks`). */
  byHost(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const t of this.byKey.values()) {
      let l = out.get(t.node);
      if (!l) out.set(t.node, (l = []));
      l.push(t.job);
    }
    return out;
  }
}
