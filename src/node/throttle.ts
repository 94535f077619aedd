/**
 * The MSG rate limit of the worker protocol (wire spec §3.6, `worker_throttle.erl`).
 *
 * A queue of arrival times: every MSG pushes its arrival; when the oldest entry is more than a
 * second old, one (and only one) entry is dropped, as the original does. With N entries left:
 * N > 15 → the worker is flooding and the task fails fatally; N > 5 → the reply is delayed
 * 200 ms, which settles a synchronous worker at about 5 messages a second.
 */

/** What to do with one MSG. */
export type ThrottleVerdict =
  | { kind: 'ok' }
  | { kind: 'delay'; ms: number }
  | { kind: 'fatal'; count: number; message: string };

/** Messages allowed in a window before replies are delayed. */
export const THROTTLE_DELAY_AFTER = 5;
/** Messages allowed in a window before the worker is failed. */
export const THROTTLE_FATAL_AFTER = 15;
/** How long a delayed reply waits. */
export const THROTTLE_DELAY_MS = 200;
const WINDOW_MS = 1000;

/** Per-task MSG throttle; feed it arrival times (ms) in order. */
export class MsgThrottle {
  private readonly arrivals: number[] = [];

  /** Record one MSG that arrived at `now` and decide how to answer it. */
  push(now: number = Date.now()): ThrottleVerdict {
    this.arrivals.push(now);
    if (now - this.arrivals[0] > WINDOW_MS) this.arrivals.shift();
    const n = this.arrivals.length;
    if (n > THROTTLE_FATAL_AFTER) {
      return {
        kind: 'fatal',
        count: n,
        message: `Worker is behaving badly: Sent ${n} events in a second, ignoring replies.`,
      };
    }
    if (n > THROTTLE_DELAY_AFTER) return { kind: 'delay', ms: THROTTLE_DELAY_MS };
    return { kind: 'ok' };
  }
}
