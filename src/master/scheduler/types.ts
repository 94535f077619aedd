/**
 * Contracts of the master's two pure state machines (no I/O, no clocks, no randomness except
 * through their inputs): the cluster-wide task scheduler and the per-job coordinator.
 * Shape: `step(state, event) → { state, effects }`; a thin shell (master/jobs/runner.ts)
 * performs the effects and feeds results back as events.
 *
 * Concurrency invariant: each job's coordinator state is owned by exactly one shell object;
 * the scheduler state is owned by the master's single scheduler shell. Events are applied
 * one at a time (Node's event loop), so no locks are needed.
 */
export type Mode = 'map' | 'reduce';

// ---------------------------------------------------------------- scheduler

export interface SchedNode {
  name: string;
  /** Slots (the config table's cores column). */
  maxWorkers: number;
  connected: boolean;
  /** Manually blacklisted: no new tasks. */
  blacklisted: boolean;
}

/** A task waiting for a slot. `attempt` increases on every retry of the same taskid. */
export interface SchedTask {
  job: string;
  mode: Mode;
  taskid: number;
  attempt: number;
  /** Replica sets, one per input (map: one input; reduce: all phase results). */
  inputs: string[][];
  /** Hosts where the task would be data-local, best first (map: hosts of replicas; reduce: assigned host). */
  preferredHosts: string[];
  /** Nodes this task failed on (a retry avoids them; ignored when it would exclude every node). */
  avoid: string[];
  forceLocal: boolean;
  forceRemote: boolean;
}

export type SchedulerPolicy = 'fair' | 'fifo';

export type SchedulerEvent =
  /** The node list changed (config saved, node connected/disconnected, blacklist): full replacement. */
  | { type: 'nodes'; nodes: SchedNode[] }
  | { type: 'job_add'; job: string; maxCores: number; submittedAt: number }
  /** Forget the job: its queued tasks are dropped (running ones are the shell's business). */
  | { type: 'job_remove'; job: string }
  | { type: 'task_add'; task: SchedTask }
  /**
   * Withdraw a queued (not yet assigned) attempt; a no-op when it is running, unknown or a
   * different attempt is queued. Added for the coordinator's `unqueue_task` effect.
   */
  | { type: 'task_remove'; job: string; mode: Mode; taskid: number; attempt: number }
  /**
   * A running task ended (any outcome): frees its slot. `durationMs` (a successful attempt's
   * run time) feeds the job's task-duration average, which decides whether it may prefetch.
   */
  | {
      type: 'task_end';
      job: string;
      mode: Mode;
      taskid: number;
      attempt: number;
      node: string;
      durationMs?: number;
    }
  /** Periodic (1 s): fair-share priorities are recomputed from `now` (ms). */
  | { type: 'tick'; now: number };

export type SchedulerEffect =
  /**
   * Run `task` on `node`; `inputs` are the task's replica sets re-ordered best-first for that
   * node. `prefetched`: the node's slots were all taken when it was assigned, so it may wait
   * in the node's queue for one (see the scheduler's prefetching).
   */
  | { type: 'assign'; task: SchedTask; node: string; inputs: string[][]; prefetched: boolean }
  /** The task can never run (e.g. force_local but no node hosts its input): the job must fail. */
  | { type: 'unschedulable'; task: SchedTask; reason: string };

// ---------------------------------------------------------------- coordinator

export interface CoordinatorConfig {
  job: string;
  inputs: (string | string[])[];
  mapPhase: boolean;
  reducePhase: boolean;
  nrReduces: number;
  forceLocal: boolean;
  forceRemote: boolean;
  /** A task failing this many times fails the job (`max_failure_rate`). */
  maxFailureRate: number;
  /** Multiplies every back-off delay (tests use 0 or small values). Default 1. */
  retryDelayScale?: number;
}

export type CoordinatorEvent =
  | { type: 'start'; now: number }
  /** The scheduler assigned an attempt of a task to a node. */
  | { type: 'task_assigned'; mode: Mode; taskid: number; attempt: number; node: string; now: number }
  | {
      type: 'task_done';
      mode: Mode;
      taskid: number;
      attempt: number;
      node: string;
      results: string[];
      now: number;
    }
  | {
      type: 'task_failed';
      mode: Mode;
      taskid: number;
      attempt: number;
      node: string;
      kind: 'error' | 'fatal';
      message: string;
      now: number;
      /** Uniform random in [0,1) supplied by the shell (for the back-off jitter). */
      random: number;
    }
  /** A back-off timer requested by a `retry_after` effect fired. */
  | { type: 'retry_due'; mode: Mode; taskid: number; now: number }
  | { type: 'unschedulable'; mode: Mode; taskid: number; reason: string; now: number }
  /**
   * A node disconnected: its running tasks failed; done tasks whose data was there re-run.
   * `random` (uniform in [0,1), default 0) is the back-off jitter for the failed tasks.
   * `unstarted`: attempts that were assigned there (prefetched) but never started — they are
   * queued again at once, without counting a failure.
   */
  | {
      type: 'node_lost';
      node: string;
      now: number;
      random?: number;
      unstarted?: { mode: Mode; taskid: number; attempt: number }[];
    }
  | { type: 'shuffle_done'; mode: Mode; node: string; requestId: number; index: string | null; now: number }
  | {
      type: 'shuffle_failed';
      mode: Mode;
      node: string;
      requestId: number;
      message: string;
      now: number;
      random: number;
    }
  /** A shuffle back-off timer requested by a `retry_shuffle_after` effect fired. */
  | { type: 'shuffle_retry_due'; mode: Mode; node: string; now: number }
  | { type: 'kill'; now: number };

export type CoordinatorEffect =
  /** Append an event to the job's log (`host` = node name or 'master'). */
  | { type: 'event'; host: string; message: string }
  | { type: 'queue_task'; task: SchedTask }
  /** Stop a running attempt (kill/job failure/superseded). */
  | { type: 'kill_task'; mode: Mode; taskid: number; attempt: number; node: string }
  | { type: 'retry_after'; mode: Mode; taskid: number; delayMs: number }
  /** Withdraw a queued attempt from the scheduler (scheduler event `task_remove`). */
  | { type: 'unqueue_task'; mode: Mode; taskid: number; attempt: number }
  /** Start a timer; when it fires, feed `shuffle_retry_due` for (mode, node). */
  | { type: 'retry_shuffle_after'; mode: Mode; node: string; delayMs: number }
  /** Ask `node` to shuffle the `.results` files (relative to the job home) of a phase. */
  | { type: 'shuffle'; node: string; mode: Mode; requestId: number; resultFiles: string[] }
  /** The map phase finished with these results (kept for `get_mapresults`). */
  | { type: 'map_results'; results: string[] }
  | { type: 'job_ready'; results: string[]; durationMs: number }
  /** The job failed: `reason` is the text of its `ERROR: Job failed: …` event, cut at 65536 characters. */
  | { type: 'job_failed'; reason: string; task: FailedTask | null }
  /** Nothing of this job may run any more (ready, failed or killed): drop queued tasks. */
  | { type: 'job_ended' };

/**
 * The task whose failure failed a job (kept in the job record, shown by the UI): `node` ran
 * its last attempt (null: it never ran), `input` is a map task's first input URL (null for
 * reduce tasks).
 */
export interface FailedTask {
  mode: Mode;
  taskid: number;
  node: string | null;
  input: string | null;
}

/** Task counters as in jobinfo `mapi`/`redi`: [waiting, running, done, failed]. */
export type PhaseCounters = [waiting: number, running: number, done: number, failed: number];
