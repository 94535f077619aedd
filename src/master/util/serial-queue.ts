/**
 * Runs a handler over events strictly one at a time, in arrival order, even when the handler
 * itself raises new events (re-entrant `push`): those are queued and handled after the
 * current one finishes. This is how the shells around the pure state machines make sure all
 * effects of one step are performed before the next event is stepped.
 */
export class SerialQueue<E> {
  private items: E[] = [];
  private head = 0;
  private draining = false;

  constructor(private readonly handle: (e: E) => void) {}

  push(e: E): void {
    this.items.push(e);
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.head < this.items.length) this.handle(this.items[this.head++]);
    } finally {
      // After a throw the unhandled rest stays queued for the next push.
      this.items = this.items.slice(this.head);
      this.head = 0;
      this.draining = false;
    }
  }
}
