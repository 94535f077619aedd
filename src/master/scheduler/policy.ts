/**
 * The job-ordering policy interface shared by the fair and FIFO policies: which job gets the
 * next free slot. Policies only read and update the few per-job numbers below; the scheduler
 * owns everything else.
 *
 * @example
 * const next = policyFor('fifo').order(jobs)[0];
 */
import { fairPolicy } from './fair-policy.js';
import { fifoPolicy } from './fifo-policy.js';
import type { SchedulerPolicy } from './types.js';

/** The per-job numbers a policy sees (a view of the scheduler's job record). */
export interface PolicyJob {
  readonly name: string;
  /** Submission time (ms); FIFO order. */
  submittedAt: number;
  /** Insertion order: the tie-breaker that keeps every ordering deterministic. */
  readonly seq: number;
  /** Tasks of the job running now. */
  running: number;
  /** Fair policy: exponential moving average of (running share − fair share). */
  prio: number;
  /** Fair policy: 1/totalCores per task scheduled since the last tick. */
  bias: number;
}

export interface JobPolicy {
  /** Jobs best-first (a new array; the input is not modified). */
  order<J extends PolicyJob>(jobs: readonly J[]): J[];
  /** A task of `job` was just assigned. */
  scheduled(job: PolicyJob, totalCores: number): void;
  /** The periodic re-computation (every second in the original). */
  tick(jobs: readonly PolicyJob[], totalCores: number, alpha: number): void;
}

/** The policy object for a policy name. */
export function policyFor(name: SchedulerPolicy): JobPolicy {
  return name === 'fifo' ? fifoPolicy : fairPolicy;
}
