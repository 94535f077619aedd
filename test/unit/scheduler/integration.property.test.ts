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
  sched: SchedulerState;
  coord: CoordinatorState;
  up = new Map(NODES.map((n) => [n, true]));
  /** Attempts handed to a node (running or waiting in its queue). */
  workers = new Map<string, { task: SchedTask; node: string }>();
  /** Attempts that hold one of their node's two slots. */
  started = new Set<string>();
  /** Per node: prefetched attempts waiting for a slot, oldest first (what the node's runner does). */
  nodeQueue = new Map<string, string[]>(NODES.map((n) => [n, []]));
  /** Failures the coordinator must have counted: worker errors and started attempts lost with a node. */
  expectedFailures = 0;
  timers: { mode: Mode; taskid: number }[] = [];
  shuffles: { mode: Mode; node: string; requestId: number }[] = [];
  shuffleTimers: { mode: Mode; node: string }[] = [];
  now = 0;

  constructor(inputs: string[], nrReduces: number, forceLocal: boolean, prefetch = 0) {
    this.sched = createScheduler({ policy: 'fair', prefetch, prefetchBelowMs: 100 });
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
            const key = `${t.mode}:${t.taskid}:${t.attempt}`;
            this.workers.set(key, { task: t, node: e.node });
            if (this.slotsBusy(e.node) < 2) this.started.add(key);
            else {
              // Only a prefetched assignment may find the node's slots taken.
              expect(e.prefetched).toBe(true);
              this.nodeQueue.get(e.node)!.push(key);
            }
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
              if (this.workers.has(key)) this.release(key, e.node);
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

  slotsBusy(node: string): number {
    let n = 0;
    for (const k of this.started) if (this.workers.get(k)?.node === node) n++;
    return n;
  }

  /** The attempt leaves its node: a slot it held goes to the oldest queued attempt there. */
  release(key: string, node: string): void {
    const q = this.nodeQueue.get(node)!;
    const i = q.indexOf(key);
    if (i >= 0) q.splice(i, 1);
    if (this.started.delete(key) && q.length > 0) this.started.add(q.shift()!);
  }

  finish(key: string, ok: boolean): void {
    const w = this.workers.get(key);
    if (!w || !this.started.has(key)) return;
    const { task: t, node } = w;
    this.release(key, node);
    this.workers.delete(key);
    if (!ok && this.isCurrent(t)) this.expectedFailures += 1;
    const base = { mode: t.mode, taskid: t.taskid, attempt: t.attempt, node, now: this.now };
    const report: CoordinatorEvent = ok
      ? { type: 'task_done', ...base, results: [res(node, t.mode, t.taskid, t.attempt)] }
      : { type: 'task_failed', ...base, kind: 'error', message: 'boom', random: 0 };
    this.send([
      { to: 'coord', ev: report },
      {
        to: 'sched',
        ev: {
          type: 'task_end',
          job: JOB,
          mode: t.mode,
          taskid: t.taskid,
          attempt: t.attempt,
          node,
          durationMs: ok ? 5 : undefined,
        },
      },
    ]);
  }

  /** Whether the coordinator still waits for this attempt (its failure then counts). */
  isCurrent(t: SchedTask): boolean {
    const ph = t.mode === 'map' ? this.coord.map : this.coord.reduce;
    const rec = ph?.tasks[t.taskid];
    return rec !== undefined && rec.attempt === t.attempt && rec.status === 'running';
  }

  setUp(node: string, up: boolean): void {
    if (this.up.get(node) === up) return;
    this.up.set(node, up);
    const msgs: Msg[] = [{ to: 'sched', ev: { type: 'nodes', nodes: this.nodeList() } }];
    if (!up) {
      const unstarted: { mode: Mode; taskid: number; attempt: number }[] = [];
      for (const [key, w] of this.workers)
        if (w.node === node) {
          this.workers.delete(key);
          const t = w.task;
          if (this.started.delete(key)) {
            if (this.isCurrent(t)) this.expectedFailures += 1;
          } else unstarted.push({ mode: t.mode, taskid: t.taskid, attempt: t.attempt });
          msgs.push({
            to: 'sched',
            ev: { type: 'task_end', job: JOB, mode: t.mode, taskid: t.taskid, attempt: t.attempt, node },
          });
        }
      this.nodeQueue.set(node, []);
      msgs.push({ to: 'coord', ev: { type: 'node_lost', node, now: this.now, random: 0, unstarted } });
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

function scenario(prefetch: number) {
  return fc.property(
    fc.integer({ min: 0, max: 12 }),
    fc.integer({ min: 0, max: 3 }),
    fc.boolean(),
    fc.array(stepArb, { maxLength: 120, size: 'max' }),
    (n, nrReduces, forceLocal, steps) => {
      // Inputs with replicas on two of the three nodes, so force_local always has a chance.
      const inputs = Array.from({ length: n }, (_, i) => `disco://${NODES[i % 3]}/ddfs/${i}`);
      const m = new Master(inputs, nrReduces, forceLocal, prefetch);
      for (const s of steps) {
        if (m.coord.ended) break;
        const keys = [...m.started];
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
        while (m.started.size) m.finish([...m.started][0], true);
        while (m.shuffles.length) m.answerShuffle(0, true);
      }
      expect(coordinatorStatus(m.coord)).toBe('ready');
      for (const ph of [m.coord.map, m.coord.reduce])
        if (ph) expect(ph.tasks.every((t) => t.status === 'done')).toBe(true);
      // Prefetched attempts lost before they started were re-queued without counting a failure.
      const failed = (m.coord.map?.failed ?? 0) + (m.coord.reduce?.failed ?? 0);
      expect(failed).toBe(m.expectedFailures);
      expect(m.workers.size).toBe(0);
      expect(queuedCount(m.sched)).toBe(0);
      expect(runningTasks(m.sched)).toEqual([]);
    },
  );
}

describe('scheduler + coordinator', () => {
  it('every job ends ready with one result per task, leaving the scheduler clean', () => {
    fc.assert(scenario(0), { numRuns: runs(300) });
  });

  it('the same with prefetching: queued attempts lost with a node run again exactly once, uncounted', () => {
    fc.assert(scenario(1), { numRuns: runs(300) });
  });
});
