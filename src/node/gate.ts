/**
 * A concurrency gate for the node's data server (wire spec §5.1): at most `maxActive`
 * requests served at once, at most `maxQueued` waiting; a full queue is refused at once
 * (the server answers 503, which the Python client retries), and a wait longer than
 * `maxWaitMs` gives up (403 `Disco node is busy`, as the original).
 */

/** Why a request did not get a slot. */
export type GateRefusal = 'full' | 'timeout';

/** FIFO admission of concurrent requests. */
export class Gate {
  private active = 0;
  private readonly waiting: { grant: () => void; timer: NodeJS.Timeout }[] = [];

  constructor(
    private readonly maxActive: number,
    private readonly maxQueued: number,
    private readonly maxWaitMs: number,
  ) {}

  /** Wait for a slot; resolves to a release function, or to the reason for refusal. */
  acquire(): Promise<(() => void) | GateRefusal> {
    if (this.active < this.maxActive) {
      this.active += 1;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.maxQueued) return Promise.resolve('full');
    return new Promise((resolve) => {
      const entry = {
        grant: () => resolve(this.releaser()),
        timer: setTimeout(() => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) this.waiting.splice(i, 1);
          resolve('timeout');
        }, this.maxWaitMs),
      };
      this.waiting.push(entry);
    });
  }

  get stats(): { active: number; queued: number } {
    return { active: this.active, queued: this.waiting.length };
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) {
        // The slot passes straight to the next waiter.
        clearTimeout(next.timer);
        next.grant();
      } else {
        this.active -= 1;
      }
    };
  }
}
