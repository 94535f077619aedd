/**
 * The FIFO policy (`fair_scheduler_fifo_policy.erl`): the oldest job (by submission time, then
 * insertion order) gets every free slot it can use; younger jobs only get what it cannot use
 * (e.g. because of its `max_cores` or data-locality constraints).
 *
 * @example
 * const next = fifoPolicy.order(jobs)[0]; // the oldest job
 */
import type { JobPolicy } from './policy.js';

export const fifoPolicy: JobPolicy = {
  order: (jobs) => jobs.slice().sort((a, b) => a.submittedAt - b.submittedAt || a.seq - b.seq),
  scheduled() {},
  tick() {},
};
