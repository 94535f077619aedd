/** Builders shared by the scheduler and coordinator tests. */
import {
  createScheduler,
  type SchedulerState,
  type SchedulerStepResult,
  schedulerStep,
} from '../../../src/master/scheduler/scheduler.js';
import type {
  Mode,
  SchedNode,
  SchedTask,
  SchedulerEffect,
  SchedulerEvent,
  SchedulerPolicy,
} from '../../../src/master/scheduler/types.js';

export function node(name: string, maxWorkers = 1, extra: Partial<SchedNode> = {}): SchedNode {
  return { name, maxWorkers, connected: true, blacklisted: false, ...extra };
}

export function task(job: string, taskid: number, extra: Partial<SchedTask> = {}): SchedTask {
  return {
    job,
    mode: 'map' as Mode,
    taskid,
    attempt: 0,
    inputs: [[`raw://${job}-${taskid}`]],
    preferredHosts: [],
    avoid: [],
    forceLocal: false,
    forceRemote: false,
    ...extra,
  };
}

/** A task whose single input lives on `hosts` (one replica per host). */
export function localTask(
  job: string,
  taskid: number,
  hosts: string[],
  extra: Partial<SchedTask> = {},
): SchedTask {
  return task(job, taskid, {
    inputs: [hosts.map((h) => `disco://${h}/ddfs/vol0/blob/${job}-${taskid}`)],
    preferredHosts: hosts,
    ...extra,
  });
}

/** A scheduler driven step by step, collecting effects. */
export class Sched {
  state: SchedulerState;
  readonly log: SchedulerEffect[] = [];

  constructor(
    policy: SchedulerPolicy = 'fair',
    alpha?: number,
    opts: { prefetch?: number; prefetchBelowMs?: number } = {},
  ) {
    this.state = createScheduler({ policy, alpha, ...opts });
  }

  step(ev: SchedulerEvent): SchedulerEffect[] {
    const r: SchedulerStepResult = schedulerStep(this.state, ev);
    this.state = r.state;
    this.log.push(...r.effects);
    return r.effects;
  }

  nodes(...ns: SchedNode[]): SchedulerEffect[] {
    return this.step({ type: 'nodes', nodes: ns });
  }

  job(job: string, maxCores = 1_000_000, submittedAt = 0): SchedulerEffect[] {
    return this.step({ type: 'job_add', job, maxCores, submittedAt });
  }

  add(t: SchedTask): SchedulerEffect[] {
    return this.step({ type: 'task_add', task: t });
  }

  /** The attempt ended; with `durationMs` it succeeded after that long. */
  end(t: SchedTask, nodeName: string, durationMs?: number): SchedulerEffect[] {
    return this.step({
      type: 'task_end',
      job: t.job,
      mode: t.mode,
      taskid: t.taskid,
      attempt: t.attempt,
      node: nodeName,
      durationMs,
    });
  }
}

/** `[job:taskid@node, ...]` of the assign effects (`+` marks a prefetched one), for compact assertions. */
export function assigned(effects: SchedulerEffect[]): string[] {
  return effects.flatMap((e) =>
    e.type === 'assign' ? [`${e.task.job}:${e.task.taskid}@${e.node}${e.prefetched ? '+' : ''}`] : [],
  );
}
