import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  attemptKey,
  checkSchedulerInvariants,
  queuedTasks,
  runningTasks,
} from '../../../src/master/scheduler/scheduler.js';
import type { SchedNode, SchedTask, SchedulerEvent } from '../../../src/master/scheduler/types.js';
import { Sched } from './helpers.js';

/** Runs per property; raise with PROP_RUNS=5000 for a soak. */
const runs = (n: number): number => Number(process.env.PROP_RUNS ?? n);

const NODES = ['n1', 'n2', 'n3', 'n4'];
const JOBS = ['a', 'b', 'c'];

const nodeArb: fc.Arbitrary<SchedNode> = fc.record({
  name: fc.constantFrom(...NODES),
  maxWorkers: fc.integer({ min: 0, max: 3 }),
  connected: fc.constantFrom(true, true, true, false),
  blacklisted: fc.constantFrom(false, false, false, true),
});

const hostsArb = fc.subarray([...NODES, 'ghost'], { maxLength: 3 });

const taskArb: fc.Arbitrary<SchedTask> = fc
  .record({
    job: fc.constantFrom(...JOBS),
    mode: fc.constantFrom('map' as const, 'reduce' as const),
    taskid: fc.integer({ min: 0, max: 7 }),
    attempt: fc.integer({ min: 0, max: 3 }),
    preferredHosts: hostsArb,
    avoid: fc.oneof(fc.constant([] as string[]), hostsArb),
    force: fc.constantFrom('none', 'none', 'none', 'local', 'remote'),
  })
  .map(({ force, ...t }) => ({
    ...t,
    inputs: [t.preferredHosts.map((h) => `disco://${h}/ddfs/${t.job}-${t.taskid}`).concat(['raw://x'])],
    forceLocal: force === 'local',
    forceRemote: force === 'remote',
  }));

/**
 * Commands; `end` picks a running attempt by index (modulo the running count) and ends it
 * after `durationMs` (undefined: it failed).
 */
type Cmd = SchedulerEvent | { type: 'end_running'; pick: number; durationMs?: number };

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.array(nodeArb, { maxLength: 4 }).map((nodes) => ({ type: 'nodes' as const, nodes })),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('job_add' as const),
      job: fc.constantFrom(...JOBS),
      maxCores: fc.constantFrom(1, 2, 3, 1000),
      submittedAt: fc.integer({ min: 0, max: 5 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ type: fc.constant('job_remove' as const), job: fc.constantFrom(...JOBS) }),
  },
  { weight: 8, arbitrary: taskArb.map((task) => ({ type: 'task_add' as const, task })) },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('task_remove' as const),
      job: fc.constantFrom(...JOBS),
      mode: fc.constantFrom('map' as const, 'reduce' as const),
      taskid: fc.integer({ min: 0, max: 7 }),
      attempt: fc.integer({ min: 0, max: 3 }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      type: fc.constant('end_running' as const),
      pick: fc.nat(),
      durationMs: fc.option(fc.constantFrom(1, 5, 50, 99, 100, 400, 5000), { nil: undefined }),
    }),
  },
  { weight: 1, arbitrary: fc.nat({ max: 10_000 }).map((now) => ({ type: 'tick' as const, now })) },
);

function eligible(t: SchedTask, n: string, usable: Set<string>): boolean {
  if (t.forceRemote || t.avoid.length > 0) return false;
  if (t.forceLocal) return t.preferredHosts.includes(n);
  return t.preferredHosts.includes(n) || !t.preferredHosts.some((h) => usable.has(h));
}

const PREFETCH_BELOW = 100;

function run(policy: 'fair' | 'fifo', cmds: Cmd[], prefetch = 0): void {
  const s = new Sched(policy, 0.3, { prefetch, prefetchBelowMs: PREFETCH_BELOW });
  // Per attempt key: index of the last task_add and of the last assignment.
  const lastAdd = new Map<string, number>();
  const lastAssign = new Map<string, number>();
  for (const [i, cmd] of cmds.entries()) {
    let ev: SchedulerEvent;
    if (cmd.type === 'end_running') {
      const running = runningTasks(s.state);
      if (running.length === 0) continue;
      const r = running[cmd.pick % running.length];
      ev = { type: 'task_end', ...r, durationMs: cmd.durationMs };
    } else ev = cmd;
    if (ev.type === 'task_add')
      lastAdd.set(attemptKey(ev.task.job, ev.task.mode, ev.task.taskid, ev.task.attempt), i);
    const effects = s.step(ev);
    const st = s.state;

    expect(checkSchedulerInvariants(st)).toEqual([]);
    // Assigned counts per node before this step's assignments, to check the prefetched flags.
    const load = new Map<string, number>();
    for (const n of st.nodes.values()) load.set(n.name, n.running);
    for (const e of effects) if (e.type === 'assign') load.set(e.node, load.get(e.node)! - 1);
    for (const e of effects) {
      if (e.type !== 'assign') continue;
      const before = load.get(e.node)!;
      load.set(e.node, before + 1);
      const t = e.task;
      const key = attemptKey(t.job, t.mode, t.taskid, t.attempt);
      // Every assignment consumes a task_add: an attempt runs again only if added again.
      expect(lastAdd.get(key) ?? -1).toBeGreaterThan(lastAssign.get(key) ?? -1);
      lastAssign.set(key, i);
      const n = st.nodes.get(e.node)!;
      expect(n.known && n.connected && !n.blacklisted).toBe(true);
      expect(e.prefetched).toBe(before >= n.maxWorkers);
      expect(n.running).toBeLessThanOrEqual(n.maxWorkers * (1 + prefetch));
      if (e.prefetched) {
        // Only jobs whose tasks (of this mode) are known to be short wait in a node's queue.
        const avg = st.jobs.get(t.job)?.avgMs[t.mode];
        expect(avg ?? Number.POSITIVE_INFINITY).toBeLessThan(PREFETCH_BELOW);
      }
      const job = st.jobs.get(t.job);
      if (job && job.maxCores >= 1) expect(job.running).toBeLessThanOrEqual(job.maxCores);
      if (t.forceLocal) expect(t.preferredHosts).toContain(e.node);
      if (t.forceRemote) expect(t.preferredHosts).not.toContain(e.node);
      if (t.avoid.includes(e.node)) {
        // Allowed only when the avoid list covers every usable node the task may use.
        for (const u of st.usable) {
          const allowed = t.forceLocal
            ? t.preferredHosts.includes(u)
            : t.forceRemote
              ? !t.preferredHosts.includes(u)
              : true;
          if (allowed) expect(t.avoid).toContain(u);
        }
      }
      expect(e.inputs.map((r) => [...r].sort())).toEqual(t.inputs.map((r) => [...r].sort()));
    }
    // Work conservation: no free usable node is left idle next to a task it could obviously run.
    const usable = new Set(st.usable);
    for (const n of st.usable) {
      const rec = st.nodes.get(n)!;
      if (rec.running >= rec.maxWorkers) continue;
      for (const job of st.jobs.values()) {
        if (job.maxCores >= 1 && job.running >= job.maxCores) continue;
        for (const t of queuedTasks(st, job.name))
          expect(eligible(t, n, usable), `${job.name}:${t.taskid} idle next to free ${n}`).toBe(false);
      }
    }
  }
}

describe('scheduler properties', () => {
  it('keeps its invariants and conserves work under random events (fair)', () => {
    fc.assert(
      fc.property(fc.array(cmdArb, { minLength: 10, maxLength: 150, size: 'max' }), (cmds) =>
        run('fair', cmds),
      ),
      { numRuns: runs(300) },
    );
  });

  it('keeps its invariants and conserves work under random events (fifo)', () => {
    fc.assert(
      fc.property(fc.array(cmdArb, { minLength: 10, maxLength: 150, size: 'max' }), (cmds) =>
        run('fifo', cmds),
      ),
      { numRuns: runs(300) },
    );
  });

  it('keeps them with prefetching: bounded extra load, only short jobs, flags exact (fair, fifo)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('fair' as const, 'fifo' as const),
        fc.constantFrom(1, 2),
        fc.array(cmdArb, { minLength: 10, maxLength: 150, size: 'max' }),
        (policy, prefetch, cmds) => run(policy, cmds, prefetch),
      ),
      { numRuns: runs(300) },
    );
  });
});
