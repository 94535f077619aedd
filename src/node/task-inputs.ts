/**
 * A task's inputs as its worker sees them (wire spec §3.5, `worker_inputs.erl`): input id =
 * index in the task's input list, replica id = index within the input's replica list.
 * Replicas are listed by last failure time (never failed first), then by replica id, so a
 * worker falls back to replicas that have not failed yet.
 */
import type { InputEntry, InputReply, Replica } from '../protocol/worker-protocol.js';

/** Reply to `INPUT_ERR`: the replicas still worth trying, or none left. */
export type InputErrReply = { type: 'RETRY'; body: Replica[] } | { type: 'FAIL'; body: '' };

/** Replica state of one task attempt. */
export class TaskInputs {
  /** `failedAt[iid][rid]` = time of the last failure (0 = never failed). */
  private readonly failedAt: number[][];
  private clock = 0;

  constructor(private readonly inputs: readonly (readonly string[])[]) {
    this.failedAt = inputs.map((replicas) => replicas.map(() => 0));
  }

  get count(): number {
    return this.inputs.length;
  }

  /** The `INPUT` reply for a request body (`""`, `["include", ids]`, `["exclude", ids]`). */
  reply(request: '' | readonly ['include' | 'exclude', readonly number[]]): InputReply {
    let ids: number[];
    if (request === '') {
      ids = this.inputs.map((_, i) => i);
    } else if (request[0] === 'include') {
      // Unknown ids are skipped: the worker asked for something the task does not have.
      ids = request[1].filter((i) => i < this.inputs.length);
    } else {
      const excluded = new Set(request[1]);
      ids = this.inputs.map((_, i) => i).filter((i) => !excluded.has(i));
    }
    return ['done', ids.map((iid) => this.entry(iid))];
  }

  /**
   * Mark replicas of input `iid` failed and answer `INPUT_ERR`: the remaining replicas in
   * preference order (excluding the ones just reported), or `FAIL` when none remain.
   * Returns null when `iid` is not an input of this task.
   */
  fail(iid: number, rids: readonly number[]): InputErrReply | null {
    const times = this.failedAt[iid];
    if (!times) return null;
    // A logical clock keeps failures in report order even within one millisecond.
    this.clock = Math.max(this.clock + 1, Date.now());
    for (const rid of rids) if (rid < times.length) times[rid] = this.clock;
    const reported = new Set(rids);
    const remaining = this.entry(iid)[2].filter(([rid]) => !reported.has(rid));
    return remaining.length ? { type: 'RETRY', body: remaining } : { type: 'FAIL', body: '' };
  }

  private entry(iid: number): InputEntry {
    const times = this.failedAt[iid];
    const replicas: Replica[] = this.inputs[iid].map((url, rid) => [rid, url]);
    replicas.sort((a, b) => times[a[0]] - times[b[0]] || a[0] - b[0]);
    return [iid, 'ok', replicas];
  }
}
