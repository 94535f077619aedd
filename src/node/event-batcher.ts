/**
 * Batches task events for the control channel: events of one job are collected and sent as
 * one `events` message at most every `intervalMs`, so a chatty worker costs one control
 * message per interval, not one per line. {@link EventBatcher.flush} sends a job's pending
 * events at once — done before a task's result so the master sees its events first.
 */
import type { NodeToMaster } from '../protocol/control.js';

/** Per-job event batches on a timer. */
export class EventBatcher {
  private readonly pending = new Map<string, string[]>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly send: (msg: NodeToMaster) => void,
    private readonly intervalMs = 100,
  ) {}

  /** Queue one formatted event (`MSG: [map:0] hello`) of `job`. */
  add(job: string, message: string): void {
    const list = this.pending.get(job);
    if (list) list.push(message);
    else this.pending.set(job, [message]);
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.flushAll();
    }, this.intervalMs);
  }

  /** Send `job`'s pending events now. */
  flush(job: string): void {
    const messages = this.pending.get(job);
    if (!messages) return;
    this.pending.delete(job);
    this.send({ type: 'events', job, messages });
  }

  flushAll(): void {
    for (const job of [...this.pending.keys()]) this.flush(job);
  }

  /** Send what is pending and stop the timer. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.flushAll();
  }
}
