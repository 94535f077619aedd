/**
 * The scheduler's task queues: FIFO arrays with lazy deletion and a per-node scan memo, so that
 * picking a task is O(1) amortised even with 50,000 queued tasks.
 *
 * One queued task is one {@link QueueEntry}; the entry may sit in several queues at once (its
 * job's order list, one local queue per preferred node, or the job's nopref queue). Taking or
 * dropping it marks it dead once ({@link killEntry}); every queue skips dead entries when it
 * reaches them, which is why each queue keeps a `live` count instead of trusting its length.
 *
 * Scan memo: `find(node, epoch, ok)` remembers, per node, the position below which no live entry
 * is acceptable for that node. That is only sound because acceptability of an entry for a node
 * depends on nothing but the entry, the node and the scheduler's node-set `epoch` (which the
 * caller bumps whenever the set of known/usable nodes changes); entries never become acceptable
 * by being removed from *other* queues, and new entries are appended after the memo.
 *
 * @example
 * const q = new TaskQueue(null);
 * const e = newEntry(task);
 * q.push(e);
 * q.find('node1', 0, () => true) === e; // true
 * killEntry(e); // q.live === 0
 */
import type { SchedTask } from './types.js';

/** A queued task, shared by every queue that holds it. */
export interface QueueEntry {
  readonly task: SchedTask;
  /** False once taken or dropped; dead entries are skipped (lazy deletion). */
  live: boolean;
  /** The queues holding this entry; their `live` counts drop when it dies. */
  readonly queues: TaskQueue[];
  /** Epoch for which {@link QueueEntry.avoidIgnored} was computed (-1: never). */
  avoidEpoch: number;
  /** True when `task.avoid` covers every node the task could use, so it is ignored. */
  avoidIgnored: boolean;
}

/** A fresh, live entry not yet in any queue. */
export function newEntry(task: SchedTask): QueueEntry {
  return { task, live: true, queues: [], avoidEpoch: -1, avoidIgnored: false };
}

/**
 * Mark an entry dead and update the live counts of all its queues. Returns false when it was
 * already dead (so callers can keep their own counters exact).
 */
export function killEntry(e: QueueEntry): boolean {
  if (!e.live) return false;
  e.live = false;
  for (const q of e.queues) q.live -= 1;
  return true;
}

/** Compact the backing array once this many dead entries have piled up at its head. */
const COMPACT_MIN = 256;

/** A FIFO queue of entries with lazy deletion. */
export class TaskQueue {
  /** Live entries in this queue. */
  live = 0;
  private items: QueueEntry[] = [];
  /** Absolute index of `items[0]` (grows on compaction, so memo positions stay valid). */
  private base = 0;
  /** Index into `items` of the first entry that may be live. */
  private head = 0;
  private memo = new Map<string, number>();
  private memoEpoch = Number.NaN;

  /** @param node The node this is the local queue of, or null (nopref / order list). */
  constructor(readonly node: string | null) {}

  push(e: QueueEntry): void {
    this.items.push(e);
    e.queues.push(this);
    this.live += 1;
  }

  /**
   * The first live entry acceptable on `node` (FIFO order), or undefined. `ok` must depend only on
   * the entry, `node` and `epoch` (see the module doc). The caller is expected to take the
   * returned entry (kill it); if it does not, it is simply found again next time.
   */
  find(node: string, epoch: number, ok: (e: QueueEntry) => boolean): QueueEntry | undefined {
    this.dropDeadHead();
    if (this.live === 0) return undefined;
    if (epoch !== this.memoEpoch) {
      this.memo.clear();
      this.memoEpoch = epoch;
    }
    const items = this.items;
    let i = Math.max(this.head, (this.memo.get(node) ?? 0) - this.base);
    for (; i < items.length; i++) {
      const e = items[i];
      if (e.live && ok(e)) {
        this.memo.set(node, this.base + i);
        return e;
      }
    }
    this.memo.set(node, this.base + items.length);
    return undefined;
  }

  /** Live entries in FIFO order. */
  *entries(): IterableIterator<QueueEntry> {
    for (let i = this.head; i < this.items.length; i++) {
      const e = this.items[i];
      if (e.live) yield e;
    }
  }

  private dropDeadHead(): void {
    const items = this.items;
    let h = this.head;
    while (h < items.length && !items[h].live) h++;
    if (h >= COMPACT_MIN && h * 2 >= items.length) {
      this.items = items.slice(h);
      this.base += h;
      h = 0;
    }
    this.head = h;
  }
}
