import { describe, expect, it } from 'vitest';
import { fairPolicy } from '../../../src/master/scheduler/fair-policy.js';
import { fifoPolicy } from '../../../src/master/scheduler/fifo-policy.js';
import { orderInputsForNode } from '../../../src/master/scheduler/locality.js';
import type { PolicyJob } from '../../../src/master/scheduler/policy.js';
import {
  checkSchedulerInvariants,
  jobPriorities,
  queuedCount,
  queuedTasks,
  runningCount,
  runningOn,
  runningTasks,
} from '../../../src/master/scheduler/scheduler.js';
import { assigned, localTask, node, Sched, task } from './helpers.js';

describe('scheduler: slots and node order', () => {
  it('fills a node up to maxWorkers and refills it when a task ends', () => {
    const s = new Sched();
    s.nodes(node('n1', 2));
    s.job('j');
    const ts = [0, 1, 2, 3].map((i) => task('j', i));
    expect(assigned(ts.flatMap((t) => s.add(t)))).toEqual(['j:0@n1', 'j:1@n1']);
    expect(queuedCount(s.state)).toBe(2);
    expect(runningOn(s.state, 'n1')).toBe(2);
    expect(assigned(s.end(ts[1], 'n1'))).toEqual(['j:2@n1']);
    expect(assigned(s.end(ts[0], 'n1'))).toEqual(['j:3@n1']);
    expect(queuedCount(s.state, 'j')).toBe(0);
    expect(checkSchedulerInvariants(s.state)).toEqual([]);
  });

  it('orders free nodes by fewest running tasks', () => {
    const s = new Sched();
    s.job('j');
    for (let i = 0; i < 5; i++) s.add(task('j', i));
    // All five wait until nodes exist, then spread by load: a, b, c, then a, b again.
    const eff = s.nodes(node('b', 2), node('a', 2), node('c', 1));
    expect(assigned(eff)).toEqual(['j:0@a', 'j:1@b', 'j:2@c', 'j:3@a', 'j:4@b']);
  });

  it('ignores task_end for unknown attempts or the wrong node', () => {
    const s = new Sched();
    s.nodes(node('n1', 1));
    s.job('j');
    const t = task('j', 0);
    s.add(t);
    s.add(task('j', 1));
    expect(s.end({ ...t, attempt: 5 }, 'n1')).toEqual([]);
    expect(s.end(t, 'n2')).toEqual([]);
    expect(runningOn(s.state, 'n1')).toBe(1);
    expect(assigned(s.end(t, 'n1'))).toEqual(['j:1@n1']);
    expect(s.end(t, 'n1')).toEqual([]); // already ended
    expect(runningCount(s.state)).toBe(1);
  });

  it('gives blacklisted and disconnected nodes nothing', () => {
    const s = new Sched();
    s.nodes(node('a', 4, { blacklisted: true }), node('b', 4, { connected: false }), node('c', 1));
    s.job('j');
    expect(assigned([...s.add(task('j', 0)), ...s.add(task('j', 1))])).toEqual(['j:0@c']);
    expect(assigned(s.nodes(node('a', 4), node('b', 4, { connected: false }), node('c', 1)))).toEqual([
      'j:1@a',
    ]);
  });
});

describe('scheduler: data locality', () => {
  it('runs a task on a node holding its input even if another node is idler', () => {
    const s = new Sched();
    s.nodes(node('n1', 2), node('n2', 2));
    s.job('j');
    s.add(task('j', 0)); // n1 (tie broken by name)
    expect(assigned(s.add(localTask('j', 1, ['n1'])))).toEqual(['j:1@n1']);
    expect(runningOn(s.state, 'n1')).toBe(2);
  });

  it('prefers local tasks, then nopref, then steals only onto nodes nobody has local work for', () => {
    const s = new Sched();
    s.nodes(node('n1', 1), node('n2', 1), node('n3', 1));
    s.job('a');
    s.job('b');
    // Keep every node busy while queuing.
    const blockers = ['n1', 'n2', 'n3'].map((n, i) => localTask('z', i, [n]));
    s.job('z');
    for (const b of blockers) s.add(b);
    s.add(localTask('a', 0, ['n1']));
    s.add(localTask('a', 1, ['n1']));
    s.add(localTask('b', 0, ['n2']));
    expect(queuedCount(s.state)).toBe(3);
    // n3 frees: nobody has local work for n3, so a task is stolen (a's n1 queue is longest).
    expect(assigned(s.end(blockers[2], 'n3'))).toEqual(['a:0@n3']);
    // n2 frees: b has local work for it.
    expect(assigned(s.end(blockers[1], 'n2'))).toEqual(['b:0@n2']);
    expect(checkSchedulerInvariants(s.state)).toEqual([]);
  });

  it('does not steal onto a node another job has local tasks for', () => {
    const s = new Sched('fifo');
    s.nodes(node('n1', 1), node('n2', 1));
    s.job('old', 1_000_000, 1);
    s.job('new', 1, 2); // max_cores 1, already used below
    s.job('z', 1_000_000, 3);
    const zs = [localTask('z', 0, ['n1']), localTask('z', 1, ['n2'])];
    for (const z of zs) s.add(z);
    const newRunning = localTask('new', 0, ['n2']);
    s.add(newRunning); // queued (all busy)
    s.add(localTask('new', 1, ['n2']));
    s.add(localTask('old', 0, ['n1']));
    // n2 frees: 'old' comes first but may not steal onto n2 ('new' has local work there).
    expect(assigned(s.end(zs[1], 'n2'))).toEqual(['new:0@n2']);
    expect(assigned(s.end(newRunning, 'n2'))).toEqual(['new:1@n2']);
    expect(queuedTasks(s.state, 'old').map((t) => t.taskid)).toEqual([0]);
  });

  it('orders replicas of each input with the chosen node first, others in original order', () => {
    expect(
      orderInputsForNode(
        [['disco://a/x', 'disco://b/x', 'http://b:8989/y', 'disco://c/x'], ['raw://q'], ['dir://b/z']],
        'b',
      ),
    ).toEqual([['disco://b/x', 'http://b:8989/y', 'disco://a/x', 'disco://c/x'], ['raw://q'], ['dir://b/z']]);
    const s = new Sched();
    s.nodes(node('b', 1));
    s.job('j');
    const eff = s.add(localTask('j', 0, ['a', 'b']));
    expect(eff).toHaveLength(1);
    const e = eff[0];
    expect(e.type === 'assign' && e.inputs).toEqual([
      ['disco://b/ddfs/vol0/blob/j-0', 'disco://a/ddfs/vol0/blob/j-0'],
    ]);
  });
});

describe('scheduler: force_local, force_remote, avoid', () => {
  it('force_local tasks run only on a preferred node and are never stolen', () => {
    const s = new Sched();
    s.nodes(node('n1', 1), node('n2', 1));
    s.job('j');
    const t0 = localTask('j', 0, ['n1'], { forceLocal: true });
    s.add(t0);
    expect(assigned(s.add(localTask('j', 1, ['n1'], { forceLocal: true })))).toEqual([]);
    expect(runningOn(s.state, 'n2')).toBe(0);
    expect(assigned(s.end(t0, 'n1'))).toEqual(['j:1@n1']);
  });

  it('force_local with no known preferred node is unschedulable', () => {
    const s = new Sched();
    s.nodes(node('n1', 1));
    s.job('j');
    const eff = s.add(localTask('j', 0, ['gone'], { forceLocal: true }));
    expect(eff).toEqual([
      {
        type: 'unschedulable',
        task: expect.objectContaining({ taskid: 0 }),
        reason:
          'Task is forced to be local but there are no nodes where it could be run (inputs: disco://gone/ddfs/vol0/blob/j-0)',
      },
    ]);
    expect(queuedCount(s.state)).toBe(0);
  });

  it('force_local waits while its node is disconnected, and fails when it leaves the config', () => {
    const s = new Sched();
    s.nodes(node('n1', 1, { connected: false }), node('n2', 1));
    s.job('j');
    expect(s.add(localTask('j', 0, ['n1'], { forceLocal: true }))).toEqual([]);
    expect(queuedCount(s.state)).toBe(1);
    const eff = s.nodes(node('n2', 1));
    expect(eff.map((e) => e.type)).toEqual(['unschedulable']);
    expect(queuedCount(s.state)).toBe(0);
  });

  it('force_remote never runs on a preferred node; all nodes preferred → unschedulable', () => {
    const s = new Sched();
    s.nodes(node('n1', 2), node('n2', 1));
    s.job('j');
    expect(assigned(s.add(localTask('j', 0, ['n1'], { forceRemote: true })))).toEqual(['j:0@n2']);
    // n2 is full, n1 is free but preferred: waits.
    expect(assigned(s.add(localTask('j', 1, ['n1'], { forceRemote: true })))).toEqual([]);
    const eff = s.add(localTask('j', 2, ['n1', 'n2'], { forceRemote: true }));
    expect(eff).toHaveLength(1);
    expect(eff[0].type === 'unschedulable' && eff[0].reason).toMatch(
      /^Task is forced to be remote but there are no nodes/,
    );
  });

  it('skips avoided nodes unless they cover every usable node', () => {
    const s = new Sched();
    s.nodes(node('n1', 1), node('n2', 1));
    s.job('j');
    expect(assigned(s.add(task('j', 0, { avoid: ['n1'] })))).toEqual(['j:0@n2']);
    // Only n1 free, the task avoids n1 but n2 exists: it waits.
    expect(assigned(s.add(task('j', 1, { avoid: ['n1'] })))).toEqual([]);
    // Avoiding every node: the list is ignored.
    expect(assigned(s.add(task('j', 2, { avoid: ['n1', 'n2'] })))).toEqual(['j:2@n1']);
  });

  it('does not queue a retry locally on a node it failed on', () => {
    const s = new Sched();
    s.nodes(node('n1', 1), node('n2', 1));
    s.job('j');
    s.job('k');
    s.add(task('j', 9)); // n1
    const k0 = task('k', 0);
    s.add(k0); // n2
    s.add(localTask('k', 1, ['n2'])); // keeps n2 "non-empty": nothing may be stolen onto it
    s.add(localTask('j', 0, ['n1'], { avoid: ['n1'] }));
    // j:0 avoids n1, so it waits in nopref (not in n1's queue) and takes n2 as soon as it frees.
    expect(assigned(s.end(k0, 'n2'))).toEqual(['j:0@n2']);
  });
});

describe('scheduler: jobs and policies', () => {
  it('respects max_cores', () => {
    const s = new Sched();
    s.nodes(node('n1', 4));
    s.job('j', 2);
    const ts = [0, 1, 2].map((i) => task('j', i));
    expect(assigned(ts.flatMap((t) => s.add(t)))).toEqual(['j:0@n1', 'j:1@n1']);
    expect(runningOn(s.state, 'n1')).toBe(2);
    expect(assigned(s.end(ts[0], 'n1'))).toEqual(['j:2@n1']);
  });

  it('fifo: the oldest job gets every slot it can use', () => {
    const s = new Sched('fifo');
    s.job('young', 1_000_000, 20);
    s.job('old', 1_000_000, 10);
    for (let i = 0; i < 3; i++) {
      s.add(task('young', i));
      s.add(task('old', i));
    }
    expect(assigned(s.nodes(node('n1', 4)))).toEqual(['old:0@n1', 'old:1@n1', 'old:2@n1', 'young:0@n1']);
  });

  it('fair: equal jobs alternate thanks to the per-task bias', () => {
    const s = new Sched('fair');
    s.job('a');
    s.job('b');
    for (let i = 0; i < 3; i++) {
      s.add(task('a', i));
      s.add(task('b', i));
    }
    expect(assigned(s.nodes(node('n1', 4)))).toEqual(['a:0@n1', 'b:0@n1', 'a:1@n1', 'b:1@n1']);
  });

  it('fair: a tick turns running shares into priorities (heavy users wait)', () => {
    const s = new Sched('fair', 0.5);
    s.nodes(node('n1', 4));
    s.job('heavy');
    const hs = [0, 1, 2, 3].map((i) => task('heavy', i));
    for (const h of hs) s.add(h);
    s.job('light');
    s.step({ type: 'tick', now: 1000 });
    // heavy: deficit 4/4 - 2/4 = 0.5 → prio 0.25; light: 0 - 0.5 → -0.25.
    expect(jobPriorities(s.state)).toEqual([
      { job: 'light', priority: -0.25 },
      { job: 'heavy', priority: 0.25 },
    ]);
    s.add(task('heavy', 4));
    s.add(task('light', 0));
    expect(assigned(s.end(hs[0], 'n1'))).toEqual(['light:0@n1']);
    expect(s.state.lastTick).toBe(1000);
  });

  it('policy modules order deterministically', () => {
    const mk = (name: string, seq: number, submittedAt: number, prio: number): PolicyJob => ({
      name,
      seq,
      submittedAt,
      running: 0,
      prio,
      bias: 0,
    });
    const jobs = [mk('x', 0, 5, 0.1), mk('y', 1, 1, 0.1), mk('z', 2, 1, -1)];
    expect(fifoPolicy.order(jobs).map((j) => j.name)).toEqual(['y', 'z', 'x']);
    expect(fairPolicy.order(jobs).map((j) => j.name)).toEqual(['z', 'x', 'y']);
    fairPolicy.scheduled(jobs[0], 4);
    expect(jobs[0].bias).toBe(0.25);
    fairPolicy.tick(jobs, 0, 0.5); // no cores: no change
    expect(jobs[0].bias).toBe(0.25);
  });

  it('job_remove drops queued tasks but keeps running ones until they end', () => {
    const s = new Sched();
    s.nodes(node('n1', 1));
    s.job('j');
    const t0 = task('j', 0);
    s.add(t0);
    s.add(task('j', 1));
    s.step({ type: 'job_remove', job: 'j' });
    expect(queuedCount(s.state)).toBe(0);
    expect(runningTasks(s.state)).toEqual([{ job: 'j', mode: 'map', taskid: 0, attempt: 0, node: 'n1' }]);
    s.job('k');
    s.add(task('k', 0));
    expect(assigned(s.end(t0, 'n1'))).toEqual(['k:0@n1']);
    expect(checkSchedulerInvariants(s.state)).toEqual([]);
  });

  it('task_remove withdraws only the named queued attempt', () => {
    const s = new Sched();
    s.nodes(node('n1', 1));
    s.job('j');
    const t0 = task('j', 0);
    s.add(t0);
    s.add(task('j', 1, { attempt: 3 }));
    s.step({ type: 'task_remove', job: 'j', mode: 'map', taskid: 1, attempt: 2 });
    expect(queuedCount(s.state)).toBe(1);
    s.step({ type: 'task_remove', job: 'j', mode: 'map', taskid: 1, attempt: 3 });
    expect(queuedCount(s.state)).toBe(0);
    s.step({ type: 'task_remove', job: 'j', mode: 'map', taskid: 0, attempt: 0 }); // running: no-op
    expect(runningCount(s.state, 'j')).toBe(1);
  });

  it('a newer attempt replaces the queued one; a running attempt is not queued again', () => {
    const s = new Sched();
    s.nodes(node('n1', 1));
    s.job('j');
    const t0 = task('j', 0);
    s.add(t0);
    s.add(t0); // same attempt, already running: ignored
    s.add(task('j', 1));
    s.add(task('j', 1, { attempt: 1 }));
    expect(queuedTasks(s.state, 'j').map((t) => [t.taskid, t.attempt])).toEqual([[1, 1]]);
    expect(checkSchedulerInvariants(s.state)).toEqual([]);
  });

  it('runs tasks of a job it was not told about', () => {
    const s = new Sched();
    s.nodes(node('n1', 1));
    expect(assigned(s.add(task('stray', 0)))).toEqual(['stray:0@n1']);
  });
});

describe('scheduler: node list changes', () => {
  it('keeps running counts, and re-places tasks queued for a vanished node', () => {
    const s = new Sched();
    s.nodes(node('n1', 1), node('n2', 1));
    s.job('j');
    s.job('z');
    const z1 = task('z', 0);
    const z2 = task('z', 1);
    s.add(z1); // n1
    s.add(z2); // n2
    s.add(localTask('j', 0, ['n1']));
    s.add(localTask('j', 1, ['n2']));
    // n1 leaves the config while z:0 still runs there; n3 joins.
    const eff = s.nodes(node('n2', 1), node('n3', 1));
    // j:0 (was local to n1) can now run anywhere: n3 is free.
    expect(assigned(eff)).toEqual(['j:0@n3']);
    expect(runningOn(s.state, 'n1')).toBe(1);
    expect(checkSchedulerInvariants(s.state)).toEqual([]);
    expect(s.end(z1, 'n1')).toEqual([]);
    expect(s.state.nodes.has('n1')).toBe(false);
    expect(assigned(s.end(z2, 'n2'))).toEqual(['j:1@n2']);
    expect(checkSchedulerInvariants(s.state)).toEqual([]);
  });

  it('a disconnected node’s local tasks run elsewhere', () => {
    const s = new Sched();
    s.nodes(node('n1', 1), node('n2', 1));
    s.job('j');
    const b = [task('j', 10), task('j', 11)];
    for (const t of b) s.add(t);
    s.add(localTask('j', 0, ['n1']));
    expect(assigned(s.nodes(node('n1', 1, { connected: false }), node('n2', 1)))).toEqual([]);
    // n2 frees; n1 is unusable, so j:0 is now a nopref task.
    expect(assigned(s.end(b[1], 'n2'))).toEqual(['j:0@n2']);
  });
});

describe('scheduler: scale', () => {
  it('schedules a 50,000-task job over 100 nodes quickly', () => {
    const s = new Sched('fair');
    const nodes = Array.from({ length: 100 }, (_, i) => node(`n${String(i).padStart(3, '0')}`, 4));
    s.nodes(...nodes);
    s.job('big');
    s.job('other');
    const t0 = performance.now();
    const running: { t: ReturnType<typeof task>; node: string }[] = [];
    for (let i = 0; i < 50_000; i++) {
      const hosts = [nodes[i % 100].name, nodes[(i * 7 + 3) % 100].name];
      for (const e of s.add(localTask('big', i, hosts, { forceRemote: i % 10 === 0 })))
        if (e.type === 'assign') running.push({ t: e.task, node: e.node });
    }
    for (let i = 0; i < 2000; i++) s.add(task('other', i, { avoid: [nodes[i % 100].name] }));
    let ended = 0;
    while (running.length > 0) {
      const r = running.pop()!;
      ended++;
      for (const e of s.end(r.t, r.node)) if (e.type === 'assign') running.push({ t: e.task, node: e.node });
    }
    const ms = performance.now() - t0;
    expect(ended).toBe(52_000);
    expect(queuedCount(s.state)).toBe(0);
    expect(checkSchedulerInvariants(s.state)).toEqual([]);
    // A guard against quadratic blow-ups (minutes), not a benchmark: ~2.5 s alone, 11 s seen under load.
    expect(ms).toBeLessThan(30_000);
  });
});

describe('scheduler: prefetching short tasks', () => {
  /** A scheduler with 1 extra task per slot for tasks under 100 ms. */
  const prefetching = (policy: 'fair' | 'fifo' = 'fair') =>
    new Sched(policy, undefined, { prefetch: 1, prefetchBelowMs: 100 });

  it('is off by default', () => {
    const s = new Sched();
    s.nodes(node('n1', 1));
    s.job('j');
    const ts = [0, 1, 2].map((i) => task('j', i));
    expect(assigned(ts.flatMap((t) => s.add(t)))).toEqual(['j:0@n1']);
    expect(assigned(s.end(ts[0], 'n1', 5))).toEqual(['j:1@n1']);
  });

  it('only once the job’s tasks are known to be short, up to maxWorkers × (1 + prefetch)', () => {
    const s = prefetching();
    s.nodes(node('n1', 2));
    s.job('j');
    const ts = Array.from({ length: 8 }, (_, i) => task('j', i));
    // Nothing is known about the job: its slots only.
    expect(assigned(ts.flatMap((t) => s.add(t)))).toEqual(['j:0@n1', 'j:1@n1']);
    // A short task ends: its slot is refilled, and two more wait in the node's queue.
    expect(assigned(s.end(ts[0], 'n1', 4))).toEqual(['j:2@n1', 'j:3@n1+', 'j:4@n1+']);
    expect(runningOn(s.state, 'n1')).toBe(4);
    // Each end refills the backlog by one, flagged as prefetched (the node's slots are taken).
    expect(assigned(s.end(ts[1], 'n1', 6))).toEqual(['j:5@n1+']);
    expect(checkSchedulerInvariants(s.state)).toEqual([]);
  });

  it('never prefetches a job whose tasks are long, nor a failed attempt’s duration', () => {
    const s = prefetching();
    s.nodes(node('n1', 1));
    s.job('j');
    const ts = Array.from({ length: 4 }, (_, i) => task('j', i));
    for (const t of ts) s.add(t);
    expect(assigned(s.end(ts[0], 'n1', 500))).toEqual(['j:1@n1']);
    expect(assigned(s.end(ts[1], 'n1'))).toEqual(['j:2@n1']); // no duration: a failure
    // The average (500 → 404 after a 20 ms task) is still long.
    expect(assigned(s.end(ts[2], 'n1', 20))).toEqual(['j:3@n1']);
  });

  it('judges each mode by its own durations', () => {
    const s = prefetching();
    s.nodes(node('n1', 1));
    s.job('j');
    const m = task('j', 0);
    s.add(m);
    s.end(m, 'n1', 2); // map tasks are short
    const reds = [0, 1, 2].map((i) => task('j', i, { mode: 'reduce' }));
    // Reduce tasks are not known yet: no prefetching, although map tasks were short.
    expect(assigned(reds.flatMap((t) => s.add(t)))).toEqual(['j:0@n1']);
  });

  it('counts prefetched tasks against max_cores', () => {
    const s = prefetching();
    s.nodes(node('n1', 2), node('n2', 2));
    s.job('j', 3);
    const ts = Array.from({ length: 6 }, (_, i) => task('j', i));
    for (const t of ts) s.add(t);
    expect(runningCount(s.state, 'j')).toBe(3);
    expect(assigned(s.end(ts[0], 'n1', 1))).toEqual(['j:3@n1']);
    expect(runningCount(s.state, 'j')).toBe(3);
  });

  it('fills free slots everywhere before prefetching, least loaded nodes first', () => {
    const s = prefetching();
    s.nodes(node('n1', 1), node('n2', 1));
    s.job('j');
    const first = task('j', 0);
    s.add(first);
    s.end(first, 'n1', 1);
    const ts = Array.from({ length: 5 }, (_, i) => task('j', i + 1));
    expect(assigned(ts.flatMap((t) => s.add(t)))).toEqual(['j:1@n1', 'j:2@n2', 'j:3@n1+', 'j:4@n2+']);
  });

  it('a job the policy puts first but may not prefetch stops prefetching behind it', () => {
    const s = prefetching('fifo');
    s.nodes(node('n1', 1));
    s.job('old', 1_000_000, 0);
    s.job('new', 1_000_000, 1);
    // `new` has short tasks and fills the node, with one prefetched.
    const n = Array.from({ length: 6 }, (_, i) => task('new', i));
    for (const t of n) s.add(t);
    s.end(n[0], 'n1', 1);
    expect(runningOn(s.state, 'n1')).toBe(2);
    // `old` (first in FIFO order, tasks of unknown length) arrives: `new` prefetches no more,
    // and `old` gets the first slot that frees.
    const o = task('old', 0);
    expect(s.add(o)).toEqual([]);
    expect(s.end(n[1], 'n1', 1)).toEqual([]);
    // With nothing of `old` queued any more, `new` may prefetch behind it again.
    expect(assigned(s.end(n[2], 'n1', 1))).toEqual(['old:0@n1', 'new:3@n1+']);
  });
});
