/**
 * Progress messages while a task walks its entries (the original's `status_iter`): every
 * `interval` entries `MSG "<N> entries mapped"` (or `reduced`) — skipped when it would exceed
 * the message rate — and `Done: <N> entries ...` at the end; an interval of 0 only sends the
 * final one.
 *
 * The iterator has no `return()`: job functions that stop early (a `break` in `mapInit`)
 * leave it open, and the next consumer continues where they stopped — as Python iterators do.
 *
 * @example
 * const entries = new StatusIterator(source, 100000, (n) => `${n} entries mapped`, send);
 */
export class StatusIterator<T> implements IterableIterator<T> {
  /** Entries delivered so far. */
  count = 0;
  private finished = false;

  constructor(
    private readonly source: Iterator<T>,
    private readonly interval: number,
    private readonly template: (n: number) => string,
    private readonly send: (text: string, opts?: { droppable?: boolean; defer?: boolean }) => void,
  ) {}

  next(): IteratorResult<T> {
    if (this.finished) return { done: true, value: undefined };
    const r = this.source.next();
    if (r.done) {
      this.finished = true;
      // The end of the walk is followed by the task's outputs: the message may go out with them.
      this.send(`Done: ${this.template(this.count)}`, { defer: true });
      return r;
    }
    this.count++;
    // Progress is best effort: under the message rate limit it is skipped, never waited for.
    if (this.interval > 0 && this.count % this.interval === 0)
      this.send(this.template(this.count), { droppable: true });
    return r;
  }

  [Symbol.iterator](): this {
    return this;
  }
}
