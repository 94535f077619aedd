/** Builders for the coordinator tests. */
import {
  type CoordinatorState,
  coordinatorStep,
  createCoordinator,
} from '../../../src/master/jobs/coordinator.js';
import type {
  CoordinatorConfig,
  CoordinatorEffect,
  CoordinatorEvent,
  Mode,
  SchedTask,
} from '../../../src/master/scheduler/types.js';

export const JOB = 'WordCount@5dc:abcde:12345';

export function config(extra: Partial<CoordinatorConfig> = {}): CoordinatorConfig {
  return {
    job: JOB,
    inputs: [],
    mapPhase: true,
    reducePhase: false,
    nrReduces: 1,
    forceLocal: false,
    forceRemote: false,
    maxFailureRate: 10_000_000,
    ...extra,
  };
}

/** The `.results` URL a node reports for a task attempt. */
export function res(host: string, mode: Mode, taskid: number, attempt = 0): string {
  return `dir://${host}/disco/${host}/21/${JOB}/.disco/${mode}-${taskid}-${attempt}.results`;
}

/** The index URL a node's shuffle produces. */
export function idx(host: string, mode: Mode = 'map'): string {
  return `dir://${host}/disco/${host}/21/${JOB}/.disco/${mode}-index.txt.gz`;
}

/** A coordinator driven step by step. */
export class Coord {
  state: CoordinatorState;
  now = 0;

  constructor(cfg: CoordinatorConfig) {
    this.state = createCoordinator(cfg);
  }

  /** Step an event (its `now` defaults to the current clock). */
  step(ev: DistributiveOmit<CoordinatorEvent, 'now'> & { now?: number }): CoordinatorEffect[] {
    const r = coordinatorStep(this.state, { now: this.now, ...ev } as CoordinatorEvent);
    this.state = r.state;
    return r.effects;
  }

  start(): CoordinatorEffect[] {
    return this.step({ type: 'start' });
  }

  assign(mode: Mode, taskid: number, node: string, attempt = 0): CoordinatorEffect[] {
    return this.step({ type: 'task_assigned', mode, taskid, attempt, node });
  }

  done(mode: Mode, taskid: number, node: string, results: string[], attempt = 0): CoordinatorEffect[] {
    return this.step({ type: 'task_done', mode, taskid, attempt, node, results });
  }

  /** Assign and finish a task with one `.results` file on `node`. */
  run(mode: Mode, taskid: number, node: string, attempt = 0, extra: string[] = []): CoordinatorEffect[] {
    return [
      ...this.assign(mode, taskid, node, attempt),
      ...this.done(mode, taskid, node, [res(node, mode, taskid, attempt), ...extra], attempt),
    ];
  }

  fail(mode: Mode, taskid: number, node: string, attempt = 0, random = 0, kind: 'error' | 'fatal' = 'error') {
    return this.step({ type: 'task_failed', mode, taskid, attempt, node, kind, message: 'boom', random });
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export function events(fx: CoordinatorEffect[]): string[] {
  return fx.flatMap((e) => (e.type === 'event' ? [e.message] : []));
}

export function types(fx: CoordinatorEffect[]): string[] {
  return fx.map((e) => e.type);
}

export function queued(fx: CoordinatorEffect[]): SchedTask[] {
  return fx.flatMap((e) => (e.type === 'queue_task' ? [e.task] : []));
}

export function shuffles(fx: CoordinatorEffect[]) {
  return fx.flatMap((e) => (e.type === 'shuffle' ? [e] : []));
}
