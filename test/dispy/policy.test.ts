/**
 * The pure scheduler: policies, capacity, pinning, cancellation; property tests of its
 * invariants under random event sequences.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { POLICIES, type PolicyName, SchedulerState } from '../../src/dispy/scheduler/policy.js';

describe('SchedulerState', () => {
  it('runs jobs FIFO on the least loaded node within capacity', () => {
    const s = new SchedulerState();
    s.addCluster('c');
    s.addNode('a', 2);
    s.addNode('b', 1);
    s.allot('a', 'c', 2);
    s.allot('b', 'c', 1);
    for (let i = 0; i < 5; i++) s.submit({ uid: `j${i}`, cluster: 'c' });
    const first = s.next();
    expect(first.map((a) => a.uid)).toEqual(['j0', 'j1', 'j2']);
    expect(first.filter((a) => a.node === 'a')).toHaveLength(2);
    expect(s.next()).toEqual([]);
    s.done('j1');
    expect(s.next().map((a) => a.uid)).toEqual(['j3']);
  });

  it('jobs adopted from a node (after a restart) take its CPUs until they end', () => {
    const s = new SchedulerState();
    s.addCluster('c');
    s.addNode('a', 2);
    s.allot('a', 'c', 2);
    s.adopt('c/7', 'c', 'a');
    s.submit({ uid: 'c/8', cluster: 'c' });
    s.submit({ uid: 'c/9', cluster: 'c' });
    expect(s.nodeOf('c/7')).toBe('a');
    expect(s.next().map((x) => x.uid)).toEqual(['c/8']);
    s.done('c/7');
    expect(s.running('a')).toBe(1);
    expect(s.next().map((x) => x.uid)).toEqual(['c/9']);
    expect(() => s.adopt('c/10', 'c', 'nowhere')).toThrow(/unknown/);
  });

  it('pinned jobs wait for their node', () => {
    const s = new SchedulerState();
    s.addCluster('c');
    s.addNode('a', 1);
    s.addNode('b', 1);
    s.allot('a', 'c', 1);
    s.allot('b', 'c', 1);
    s.submit({ uid: 'p1', cluster: 'c', pinned: 'b' });
    s.submit({ uid: 'p2', cluster: 'c', pinned: 'b' });
    s.submit({ uid: 'x', cluster: 'c' });
    const a = s.next();
    expect(a).toEqual([
      { uid: 'p1', cluster: 'c', node: 'b' },
      { uid: 'x', cluster: 'c', node: 'a' },
    ]);
    s.done('p1');
    expect(s.next()).toEqual([{ uid: 'p2', cluster: 'c', node: 'b' }]);
    expect(s.pinnedTo('b')).toEqual([]);
  });

  it('policies choose between clusters', () => {
    const run = (policy: PolicyName) => {
      const s = new SchedulerState(policy);
      s.addCluster('old');
      s.addCluster('new');
      s.addNode('n', 1);
      s.allot('n', 'old', 1);
      s.allot('n', 'new', 1);
      s.submit({ uid: 'new1', cluster: 'new' });
      s.submit({ uid: 'old1', cluster: 'old' });
      s.submit({ uid: 'old2', cluster: 'old' });
      s.submit({ uid: 'new2', cluster: 'new' });
      const order: string[] = [];
      for (let i = 0; i < 4; i++) {
        const [a] = s.next();
        order.push(a.uid);
        s.done(a.uid);
      }
      return order;
    };
    expect(run('earliest-job')).toEqual(['new1', 'old1', 'old2', 'new2']);
    expect(run('first-cluster')).toEqual(['old1', 'old2', 'new1', 'new2']);
    expect(run('fair-cluster')).toEqual(['new1', 'old1', 'new2', 'old2']);
  });

  it('cancels queued jobs; running ones must be stopped by the caller', () => {
    const s = new SchedulerState();
    s.addCluster('c');
    s.addNode('n', 1);
    s.allot('n', 'c', 1);
    s.submit({ uid: 'a', cluster: 'c' });
    s.submit({ uid: 'b', cluster: 'c' });
    expect(s.next().map((x) => x.uid)).toEqual(['a']);
    expect(s.cancel('b')).toBe('queued');
    expect(s.cancel('a')).toBe('running');
    expect(s.cancel('zzz')).toBe('unknown');
    s.done('a');
    expect(s.next()).toEqual([]);
  });

  it('hands back the running jobs of a removed node; resubmitted jobs go first', () => {
    const s = new SchedulerState();
    s.addCluster('c');
    s.addNode('a', 1);
    s.addNode('b', 1);
    s.allot('a', 'c', 1);
    s.allot('b', 'c', 1);
    for (const u of ['j1', 'j2', 'j3']) s.submit({ uid: u, cluster: 'c' });
    const first = s.next();
    const onA = first.find((x) => x.node === 'a')!;
    const lost = s.removeNode('a');
    expect(lost.map((x) => x.uid)).toEqual([onA.uid]);
    s.resubmit({ uid: onA.uid, cluster: 'c' });
    const other = first.find((x) => x.node === 'b')!;
    s.done(other.uid);
    expect(s.next()).toEqual([{ uid: onA.uid, cluster: 'c', node: 'b' }]);
  });
});

type Ev =
  | { k: 'submit'; cluster: number; pin: number | null }
  | { k: 'next' }
  | { k: 'done'; pick: number }
  | { k: 'cancel'; pick: number }
  | { k: 'removeNode'; node: number }
  | { k: 'addNode'; node: number; cpus: number }
  | { k: 'allot'; node: number; cluster: number; cpus: number };

const evArb: fc.Arbitrary<Ev> = fc.oneof(
  fc.record({
    k: fc.constant('submit' as const),
    cluster: fc.nat(2),
    pin: fc.option(fc.nat(2), { nil: null }),
  }),
  fc.record({ k: fc.constant('next' as const) }),
  fc.record({ k: fc.constant('done' as const), pick: fc.nat(50) }),
  fc.record({ k: fc.constant('cancel' as const), pick: fc.nat(50) }),
  fc.record({ k: fc.constant('removeNode' as const), node: fc.nat(2) }),
  fc.record({ k: fc.constant('addNode' as const), node: fc.nat(2), cpus: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ k: fc.constant('allot' as const), node: fc.nat(2), cluster: fc.nat(2), cpus: fc.nat(4) }),
);

describe('SchedulerState properties', () => {
  for (const policy of POLICIES) {
    it(`${policy}: capacity, uniqueness and pinning hold under any event sequence`, () => {
      fc.assert(
        fc.property(fc.array(evArb, { maxLength: 120 }), (events) => {
          const s = new SchedulerState(policy);
          for (let c = 0; c < 3; c++) s.addCluster(`c${c}`);
          const nodeCpus = new Map<string, number>();
          const running = new Map<string, { node: string; cluster: string }>();
          const queued = new Set<string>();
          const pinnedOf = new Map<string, string>();
          let n = 0;
          for (const e of events) {
            switch (e.k) {
              case 'submit': {
                const uid = `j${n++}`;
                const pin = e.pin === null ? undefined : `n${e.pin}`;
                s.submit({ uid, cluster: `c${e.cluster}`, ...(pin ? { pinned: pin } : {}) });
                queued.add(uid);
                if (pin) pinnedOf.set(uid, pin);
                break;
              }
              case 'next':
                for (const a of s.next()) {
                  expect(queued.has(a.uid)).toBe(true);
                  expect(running.has(a.uid)).toBe(false);
                  if (pinnedOf.has(a.uid)) expect(a.node).toBe(pinnedOf.get(a.uid));
                  queued.delete(a.uid);
                  running.set(a.uid, { node: a.node, cluster: a.cluster });
                }
                break;
              case 'done': {
                const ids = [...running.keys()];
                if (!ids.length) break;
                const uid = ids[e.pick % ids.length];
                s.done(uid);
                running.delete(uid);
                break;
              }
              case 'cancel': {
                const ids = [...queued, ...running.keys()];
                if (!ids.length) break;
                const uid = ids[e.pick % ids.length];
                const r = s.cancel(uid);
                expect(r).toBe(queued.has(uid) ? 'queued' : 'running');
                queued.delete(uid);
                break;
              }
              case 'removeNode': {
                const key = `n${e.node}`;
                const lost = s.removeNode(key);
                const expected = [...running].filter(([, v]) => v.node === key).map(([k]) => k);
                expect(lost.map((l) => l.uid).sort()).toEqual(expected.sort());
                for (const u of expected) running.delete(u);
                nodeCpus.delete(key);
                break;
              }
              case 'addNode':
                s.addNode(`n${e.node}`, e.cpus);
                nodeCpus.set(`n${e.node}`, e.cpus);
                break;
              case 'allot':
                s.allot(`n${e.node}`, `c${e.cluster}`, e.cpus);
                break;
            }
            // Capacity: a node never runs more jobs than its CPUs (when they did not shrink).
            const perNode = new Map<string, number>();
            for (const v of running.values()) perNode.set(v.node, (perNode.get(v.node) ?? 0) + 1);
            for (const [node, count] of perNode) expect(count).toBe(s.running(node));
            expect(s.queued()).toBe(queued.size);
          }
        }),
        { numRuns: 300 },
      );
    });
  }

  it('never exceeds node or cluster capacity', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(2), { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 3, maxLength: 3 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 9, maxLength: 9 }),
        (jobs, cpus, allots) => {
          const s = new SchedulerState();
          for (let c = 0; c < 3; c++) s.addCluster(`c${c}`);
          for (let i = 0; i < 3; i++) s.addNode(`n${i}`, cpus[i]);
          for (let i = 0; i < 3; i++)
            for (let c = 0; c < 3; c++) s.allot(`n${i}`, `c${c}`, allots[i * 3 + c]);
          for (const [i, c] of jobs.entries()) s.submit({ uid: `j${i}`, cluster: `c${c}` });
          const assigned = s.next();
          for (let i = 0; i < 3; i++) {
            const on = assigned.filter((a) => a.node === `n${i}`);
            expect(on.length).toBeLessThanOrEqual(cpus[i]);
            for (let c = 0; c < 3; c++) {
              expect(on.filter((a) => a.cluster === `c${c}`).length).toBeLessThanOrEqual(allots[i * 3 + c]);
            }
          }
          // Work-conserving: if jobs are left, no node has room for any of their clusters.
          const left = new Set(
            jobs
              .map((c, i) => ({ c, i }))
              .filter(({ i }) => !assigned.some((a) => a.uid === `j${i}`))
              .map(({ c }) => c),
          );
          for (let i = 0; i < 3; i++) {
            const on = assigned.filter((a) => a.node === `n${i}`);
            if (on.length >= cpus[i]) continue;
            for (const c of left) {
              expect(on.filter((a) => a.cluster === `c${c}`).length).toBe(allots[i * 3 + c]);
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
