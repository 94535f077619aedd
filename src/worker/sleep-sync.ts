/**
 * Blocking sleep. The worker is synchronous by design (one task per process, blocking
 * protocol), so short waits — retrying a busy pipe, pacing messages — block the thread.
 *
 * @example
 * sleepSync(5); // about 5 ms
 */
const cell = new Int32Array(new SharedArrayBuffer(4));

/** Block the calling thread for `ms` milliseconds. */
export function sleepSync(ms: number): void {
  if (ms > 0) Atomics.wait(cell, 0, 0, ms);
}
