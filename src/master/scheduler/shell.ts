/**
 * The shell around the master's one scheduler (the pure state machine in scheduler.ts): it
 * steps events one at a time and hands the effects (`assign`, `unschedulable`) to the job
 * manager. Like the job runner, `apply()` queues events raised while effects are performed,
 * so every step's effects are finished before the next event is stepped.
 *
 * Concurrency invariant: the scheduler state is owned by this object alone.
 */

import { SerialQueue } from '../util/serial-queue.js';
import { createScheduler, type SchedulerState, schedulerStep } from './scheduler.js';
import type { SchedulerEffect, SchedulerEvent, SchedulerPolicy } from './types.js';

/** Steps the master's scheduler and hands its effects to the job manager. */
export class SchedulerShell {
  private state: SchedulerState;
  private readonly queue = new SerialQueue<SchedulerEvent>((ev) => {
    const { state, effects } = schedulerStep(this.state, ev);
    this.state = state;
    for (const e of effects) this.onEffect(e);
  });

  constructor(
    opts: { policy: SchedulerPolicy; alpha: number; prefetch?: number; prefetchBelowMs?: number },
    private readonly onEffect: (e: SchedulerEffect) => void,
  ) {
    this.state = createScheduler(opts);
  }

  /** Step an event (queued while another step's effects are being performed). */
  apply(ev: SchedulerEvent): void {
    this.queue.push(ev);
  }

  /** Queue lengths for metrics: queued attempts, assigned attempts, jobs known. */
  stats(): { queued: number; running: number; jobs: number } {
    return { queued: this.state.queued, running: this.state.running.size, jobs: this.state.jobs.size };
  }
}
