/**
 * The shell around one job's coordinator (the pure state machine in coordinator.ts): it feeds
 * events in, one at a time, and performs the effects that come out through {@link RunnerEffects}
 * (the job manager), plus the back-off timers of `retry_after`.
 *
 * Concurrency invariant: the coordinator state is owned by this object alone. `apply()` is
 * re-entrant safe: an event raised while effects are being performed (e.g. the scheduler
 * assigns a task queued by this very step) is queued and stepped after the current step's
 * effects are all done, so effects are performed in the order the coordinator emitted them.
 */

import type {
  CoordinatorConfig,
  CoordinatorEffect,
  CoordinatorEvent,
  FailedTask,
  Mode,
  PhaseCounters,
  SchedTask,
} from '../scheduler/types.js';
import { SerialQueue } from '../util/serial-queue.js';
import {
  type CoordinatorState,
  coordinatorCounters,
  coordinatorStatus,
  coordinatorStep,
  createCoordinator,
  runningHosts,
} from './coordinator.js';

/** What the job manager does for a runner's effects. */
export interface RunnerEffects {
  event(host: string, message: string): void;
  queueTask(task: SchedTask): void;
  /** Withdraw a queued, not yet assigned attempt from the scheduler. */
  unqueueTask(mode: Mode, taskid: number, attempt: number): void;
  killTask(mode: Mode, taskid: number, attempt: number, node: string): void;
  shuffle(node: string, mode: Mode, requestId: number, resultFiles: string[]): void;
  mapResults(results: string[]): void;
  ready(results: string[], durationMs: number): void;
  /** The job failed (`task`: the task whose failure failed it, if one did). */
  failed(reason: string, task: FailedTask | null): void;
  /** Nothing of the job may run any more. */
  ended(): void;
}

/** Runs one job's coordinator: steps events, performs effects, keeps its timers. */
export class JobRunner {
  private state: CoordinatorState;
  private readonly queue = new SerialQueue<CoordinatorEvent>((ev) => {
    const { state, effects } = coordinatorStep(this.state, ev);
    this.state = state;
    for (const e of effects) this.perform(e);
  });
  private readonly timers = new Set<NodeJS.Timeout>();
  private finished = false;

  constructor(
    readonly job: string,
    config: CoordinatorConfig & { retryDelayScale?: number },
    private readonly fx: RunnerEffects,
  ) {
    this.state = createCoordinator(config);
  }

  /** Step an event (queued if a step is in progress). */
  apply(ev: CoordinatorEvent): void {
    this.queue.push(ev);
  }

  counters(): { mapi: PhaseCounters; redi: PhaseCounters } {
    return coordinatorCounters(this.state);
  }

  hosts(): string[] {
    return runningHosts(this.state);
  }

  status(): 'active' | 'ready' | 'dead' {
    return coordinatorStatus(this.state);
  }

  /** Stop the back-off timers (the job ended or the master shuts down). */
  dispose(): void {
    this.finished = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private perform(e: CoordinatorEffect): void {
    switch (e.type) {
      case 'event':
        this.fx.event(e.host, e.message);
        break;
      case 'queue_task':
        this.fx.queueTask(e.task);
        break;
      case 'unqueue_task':
        this.fx.unqueueTask(e.mode, e.taskid, e.attempt);
        break;
      case 'kill_task':
        this.fx.killTask(e.mode, e.taskid, e.attempt, e.node);
        break;
      case 'retry_after':
        this.after(e.delayMs, () => ({ type: 'retry_due', mode: e.mode, taskid: e.taskid, now: Date.now() }));
        break;
      case 'retry_shuffle_after':
        this.after(e.delayMs, () => ({
          type: 'shuffle_retry_due',
          mode: e.mode,
          node: e.node,
          now: Date.now(),
        }));
        break;
      case 'shuffle':
        this.fx.shuffle(e.node, e.mode, e.requestId, e.resultFiles);
        break;
      case 'map_results':
        this.fx.mapResults(e.results);
        break;
      case 'job_ready':
        this.fx.ready(e.results, e.durationMs);
        break;
      case 'job_failed':
        this.fx.failed(e.reason, e.task);
        break;
      case 'job_ended':
        this.dispose();
        this.fx.ended();
        break;
    }
  }

  /** Feed the event made by `make` after `delayMs` (unless the job ended meanwhile). */
  private after(delayMs: number, make: () => CoordinatorEvent): void {
    if (this.finished) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.finished) this.apply(make());
    }, delayMs);
    t.unref();
    this.timers.add(t);
  }
}
