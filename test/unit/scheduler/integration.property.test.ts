/**
 * The scheduler and a coordinator wired together the way the master's shells wire them
 * (queue_task → task_add, unqueue_task → task_remove, kill_task → task_end, assign →
 * task_assigned, unschedulable → unschedulable, job_ended → job_remove), under random worker
 * outcomes and node disconnects. Every job must end ready, with one result per task, and leave
 * nothing queued or running in the scheduler.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CoordinatorState,
  coordinatorStatus,
  coordinatorStep,
  createCoordinator,
} from '../../../src/master/jobs/coordinator.js';
import {
  checkSchedulerInvariants,
  createScheduler,
  queuedCount,
  runningTasks,
  type SchedulerState,
  schedulerStep,
} from '../../../src/master/scheduler/scheduler.js';
import type {
  CoordinatorEvent,
  Mode,
  SchedNode,
  SchedTask,
  SchedulerEvent,
} from '../../../src/master/scheduler/types.js';
import { JOB, res } from './coord-helpers.js';

/** Runs per property; raise with PROP_RUNS=5000 for a soak. */
const runs = (n: number): number => Number(process.env.PROP_RUNS ?? n);

const NODES = ['n1', 'n2', 'n3'];

type Msg = { to: 'sched'; ev: SchedulerEvent } | { to: 'coord'; ev: CoordinatorEvent };

class Master {
  sched: SchedulerState = createScheduler({ policy: 'fair' });
  coord: CoordinatorState;
  up = new Map(NODES.map((n) => [n, true]));
  workers = new Map<string, { task: SchedTask; node: string }>();
  timers: { mode: Mode; taskid: number }[] = [];
  shuffles: { mode: Mode; node: string; requestId: number }[] = [];
  shuffleTimers: { mode: Mode; node: string }[] = [];
  now = 0;

  constructor(inputs: string[], nrReduces: number, forceLocal: boolean) {
    this.coord = createCoordinator({
      job: JOB,
      inputs,
      mapPhase: true,
      reducePhase: nrReduces > 0,
      nrReduces,
      forceLocal,
      forceRemote: false,
      maxFailureRate: 1_000_000,
      retryDelayScale: 0,
    });
    this.send([
      { to: 'sched', ev: { type: 'nodes', nodes: this.nodeList() } },
      { to: 'sched', ev: { type: 'job_add', job: JOB, maxCores: 4, submittedAt: 0 } },
      { to: 'coord', ev: { type: 'start', now: 0 } },
    ]);
  }

  nodeList(): SchedNode[] {
    return NODES.map((name) => ({ name, maxWorkers: 2, connected: this.up.get(name)!, blacklisted: false }));
  }

  /** Deliver messages one at a time, in order (what the shells' serial queues do). */
  send(msgs: Msg[]): void {
    const q = [...msgs];
    while (q.length > 0) {
      const m = q.shift()!;
      this.now += 1;
      if (m.to === 'sched') {
        const r = schedulerStep(this.sched, m.ev);
        this.sched = r.state;
        expect(checkSchedulerInvariants(this.sched)).toEqual([]);
        for (const e of r.effects) {
          const t = e.task;
          if (e.type === 'assign') {
            expect(this.up.get(e.node)).toBe(true);
            this.workers.set(`${t.mode}:${t.taskid}:${t.attempt}`, { task: t, node: e.node });
            q.push({
              to: 'coord',
              ev: {
                type: 'task_assigned',
                mode: t.mode,
                taskid: t.taskid,
                attempt: t.attempt,
                node: e.node,
                now: this.now,
              },
            });
          } else {
            q.push({
              to: 'coord',
              ev: { type: 'unschedulable', mode: t.mode, taskid: t.taskid, reason: e.reason, now: this.now },
            });
          }
        }
      } else {
        const r = coordinatorStep(this.coord, m.ev);
        this.coord = r.state;
        for (const e of r.effects) {
          switch (e.type) {
            case 'queue_task':
              q.push({ to: 'sched', ev: { type: 'task_add', task: e.task } });
              break;
            case 'unqueue_task':
              q.push({
                to: 'sched',
                ev: { type: 'task_remove', job: JOB, mode: e.mode, taskid: e.taskid, attempt: e.attempt },
              });
              break;
            case 'kill_task': {
              const key = `${e.mode}:${e.taskid}:${e.attempt}`;
              if (this.workers.delete(key))
                q.push({
                  to: 'sched',
                  ev: {
                    type: 'task_end',
                    job: JOB,
                    mode: e.mode,
                    taskid: e.taskid,
                    attempt: e.attempt,
                    node: e.node,
                  },
                });
              break;
            }
            case 'retry_after':
              this.timers.push({ mode: e.mode, taskid: e.taskid });
              break;
            case 'shuffle':
              this.shuffles.push({ mode: e.mode, node: e.node, requestId: e.requestId });
              break;
            case 'retry_shuffle_after':
              this.shuffleTimers.push({ mode: e.mode, node: e.node });
              break;
            case 'job_ended':
              q.push({ to: 'sched', ev: { type: 'job_remove', job: JOB } });
              break;
            default:
              break;
          }
        }
      }
    }
  }

  finish(key: string, ok: boolean): void {
    const w = this.workers.get(key);
    if (!w) return;
    this.workers.delete(key);
    const { task: t, node } = w;
    const base = { mode: t.mode, taskid: t.taskid, attempt: t.attempt, node, now: this.now };
    const report: CoordinatorEvent = ok
      ? { type: 'task_done', ...base, results: [res(node, t.mode, t.taskid, t.attempt)] }
      : { type: 'task_failed', ...base, kind: 'error', message: 'boom', random: 0 };
    this.send([
      { to: 'coord', ev: report },
      {
        to: 'sched',
        ev: { type: 'task_end', job: JOB, mode: t.mode, taskid: t.taskid, attempt: t.attempt, node },
      },
    ]);
  }

  setUp(node: string, up: boolean): void {
    if (this.up.get(node) === up) return;
    this.up.set(node, up);
    const msgs: Msg[] = [{ to: 'sched', ev: { type: 'nodes', nodes: this.nodeList() } }];
    if (!up) {
      for (const [key, w] of this.workers)
        if (w.node === node) {
          this.workers.delete(key);
          const t = w.task;
          msgs.push({
            to: 'sched',
            ev: { type: 'task_end', job: JOB, mode: t.mode, taskid: t.taskid, attempt: t.attempt, node },
          });
        }
      msgs.push({ to: 'coord', ev: { type: 'node_lost', node, now: this.now, random: 0 } });
    }
    this.send(msgs);
  }

  fireTimer(i: number): void {
    const [t] = this.timers.splice(i % this.timers.length, 1);
    this.send([{ to: 'coord', ev: { type: 'retry_due', ...t, now: this.now } }]);
  }

  answerShuffle(i: number, ok: boolean): void {
    const [s] = this.shuffles.splice(i % this.shuffles.length, 1);
    if (!this.up.get(s.node)) ok = false;
    const ev: CoordinatorEvent = ok
      ? {
          type: 'shuffle_done',
          ...s,
          index: `dir://${s.node}/disco/${s.node}/21/${JOB}/.disco/${s.mode}-index.txt.gz`,
          now: this.now,
        }
      : { type: 'shuffle_failed', ...s, message: 'x', now: this.now, random: 0 };
    this.send([{ to: 'coord', ev }]);
  }

  fireShuffleTimer(i: number): void {
    const [s] = this.shuffleTimers.splice(i % this.shuffleTimers.length, 1);
    this.send([{ to: 'coord', ev: { type: 'shuffle_retry_due', ...s, now: this.now } }]);
  }
}

const stepArb = fc.record({
  kind: fc.constantFrom(
    'ok',
    'ok',
    'ok',
    'ok',
    'fail',
    'down',
    'up',
    'up',
    'timer',
    'shuffle',
    'shuffle',
    'sfail',
    'stimer',
  ),
  i: fc.nat(),
});

describe('scheduler + coordinator', () => {
  it('every job ends ready with one result per task, leaving the scheduler clean', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 0, max: 3 }),
        fc.boolean(),
        fc.array(stepArb, { maxLength: 120, size: 'max' }),
        (n, nrReduces, forceLocal, steps) => {
          // Inputs with replicas on two of the three nodes, so force_local always has a chance.
          const inputs = Array.from({ length: n }, (_, i) => `disco://${NODES[i % 3]}/ddfs/${i}`);
          const m = new Master(inputs, nrReduces, forceLocal);
          for (const s of steps) {
            if (m.coord.ended) break;
            const keys = [...m.workers.keys()];
            if (s.kind === 'ok' || s.kind === 'fail') {
              if (keys.length) m.finish(keys[s.i % keys.length], s.kind === 'ok');
            } else if (s.kind === 'down' || s.kind === 'up') m.setUp(NODES[s.i % 3], s.kind === 'up');
            else if (s.kind === 'timer' && m.timers.length) m.fireTimer(s.i);
            else if ((s.kind === 'shuffle' || s.kind === 'sfail') && m.shuffles.length)
              m.answerShuffle(s.i, s.kind === 'shuffle');
            else if (s.kind === 'stimer' && m.shuffleTimers.length) m.fireShuffleTimer(s.i);
          }
          for (const node of NODES) m.setUp(node, true);
          for (let round = 0; round < 100 && !m.coord.ended; round++) {
            while (m.timers.length) m.fireTimer(0);
            while (m.shuffleTimers.length) m.fireShuffleTimer(0);
            while (m.workers.size) m.finish([...m.workers.keys()][0], true);
            while (m.shuffles.length) m.answerShuffle(0, true);
          }
          expect(coordinatorStatus(m.coord)).toBe('ready');
          for (const ph of [m.coord.map, m.coord.reduce])
            if (ph) expect(ph.tasks.every((t) => t.status === 'done')).toBe(true);
          expect(queuedCount(m.sched)).toBe(0);
          expect(runningTasks(m.sched)).toEqual([]);
        },
      ),
      { numRuns: runs(300) },
    );
  });
});
