/**
 * The fair policy (`fair_scheduler_fair_policy.erl`): every job should hold an equal share of
 * the cluster's cores. Each tick, a job's priority becomes the exponential moving average
 * `prio = alpha·deficit + (1−alpha)·prio` of `deficit = running/cores − (cores/#jobs)/cores`,
 * and its bias is reset. Between ticks every scheduled task adds `1/cores` to the job's bias
 * (a cheap guess that its share just grew), and jobs are served lowest `prio + bias` first.
 *
 * @example
 * fairPolicy.tick(jobs, 8, 0.001);
 * const next = fairPolicy.order(jobs)[0];
 */
import type { JobPolicy, PolicyJob } from './policy.js';

/** Lowest `prio + bias` first; ties by insertion order. */
function byPriority(a: PolicyJob, b: PolicyJob): number {
  return a.prio + a.bias - (b.prio + b.bias) || a.seq - b.seq;
}

export const fairPolicy: JobPolicy = {
  order: (jobs) => jobs.slice().sort(byPriority),
  scheduled(job, totalCores) {
    if (totalCores > 0) job.bias += 1 / totalCores;
  },
  tick(jobs, totalCores, alpha) {
    // With no cores there is no share to compute (the original skips the update too).
    if (totalCores <= 0) return;
    const share = totalCores / Math.max(1, jobs.length);
    for (const j of jobs) {
      const deficit = j.running / totalCores - share / totalCores;
      j.prio = alpha * deficit + (1 - alpha) * j.prio;
      j.bias = 0;
    }
  },
};
