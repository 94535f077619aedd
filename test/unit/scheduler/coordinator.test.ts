import { describe, expect, it } from 'vitest';
import {
  coordinatorCounters,
  coordinatorStatus,
  MAX_FAILURE_REASON,
  runningHosts,
} from '../../../src/master/jobs/coordinator.js';
import { resultRelPath } from '../../../src/master/jobs/coordinator-phase.js';
import { Coord, config, events, idx, JOB, queued, res, shuffles, types } from './coord-helpers.js';

describe('coordinator: happy paths', () => {
  it('runs a map-only job: tasks, per-node shuffle, results, READY', () => {
    const c = new Coord(
      config({ inputs: ['disco://n1/ddfs/a', ['disco://n1/ddfs/b', 'http://n2:8989/b'], 'raw://r'] }),
    );
    const fx = c.start();
    expect(events(fx)).toEqual(['Starting job', 'Starting map phase']);
    expect(queued(fx)).toEqual([
      {
        job: JOB,
        mode: 'map',
        taskid: 0,
        attempt: 0,
        inputs: [['disco://n1/ddfs/a']],
        preferredHosts: ['n1'],
        avoid: [],
        forceLocal: false,
        forceRemote: false,
      },
      expect.objectContaining({
        taskid: 1,
        inputs: [['disco://n1/ddfs/b', 'http://n2:8989/b']],
        preferredHosts: ['n1', 'n2'],
      }),
      expect.objectContaining({ taskid: 2, inputs: [['raw://r']], preferredHosts: [] }),
    ]);
    expect(coordinatorCounters(c.state).mapi).toEqual([3, 0, 0, 0]);

    const a = c.assign('map', 0, 'n1');
    expect(a).toEqual([{ type: 'event', host: 'master', message: 'map:0 assigned to n1' }]);
    expect(coordinatorCounters(c.state).mapi).toEqual([2, 1, 0, 0]);
    expect(runningHosts(c.state)).toEqual(['n1']);
    expect(c.done('map', 0, 'n1', [res('n1', 'map', 0)])).toEqual([]);
    c.run('map', 1, 'n2', 0, ['tag://disco:job:results:x']);
    c.now = 5000;
    const last = c.run('map', 2, 'n1');
    expect(events(last)).toEqual(['map:2 assigned to n1', 'Starting shuffle phase']);
    expect(shuffles(last)).toEqual([
      {
        type: 'shuffle',
        node: 'n1',
        mode: 'map',
        requestId: 1,
        resultFiles: ['.disco/map-0-0.results', '.disco/map-2-0.results'],
      },
      { type: 'shuffle', node: 'n2', mode: 'map', requestId: 2, resultFiles: ['.disco/map-1-0.results'] },
    ]);
    expect(coordinatorCounters(c.state).mapi).toEqual([0, 0, 3, 0]);
    c.now = 6500;
    expect(c.step({ type: 'shuffle_done', mode: 'map', node: 'n2', requestId: 2, index: idx('n2') })).toEqual(
      [],
    );
    const end = c.step({ type: 'shuffle_done', mode: 'map', node: 'n1', requestId: 1, index: idx('n1') });
    const results = [idx('n1'), idx('n2'), 'tag://disco:job:results:x'];
    expect(end).toEqual([
      { type: 'event', host: 'master', message: 'Finished shuffle phase in 0:00:01.500' },
      { type: 'event', host: 'master', message: 'Finished map phase in 0:00:06.500' },
      { type: 'map_results', results },
      { type: 'event', host: 'master', message: 'READY: Job finished in 0:00:06.500' },
      { type: 'job_ready', results, durationMs: 6500 },
      { type: 'job_ended' },
    ]);
    expect(coordinatorStatus(c.state)).toBe('ready');
    // After job_ended everything is ignored.
    expect(c.fail('map', 0, 'n1')).toEqual([]);
    expect(c.step({ type: 'kill' })).toEqual([]);
  });

  it('runs map then reduce with reduce data locality over the sorted map-result hosts', () => {
    const c = new Coord(
      config({ inputs: ['raw://a', 'raw://b'], reducePhase: true, nrReduces: 3, forceLocal: true }),
    );
    c.start();
    c.run('map', 0, 'n2');
    const fx = c.run('map', 1, 'n1');
    expect(shuffles(fx).map((s) => s.node)).toEqual(['n2', 'n1']);
    c.step({ type: 'shuffle_done', mode: 'map', node: 'n1', requestId: 2, index: idx('n1') });
    const r = c.step({ type: 'shuffle_done', mode: 'map', node: 'n2', requestId: 1, index: idx('n2') });
    expect(types(r)).toEqual([
      'event',
      'event',
      'map_results',
      'event',
      'queue_task',
      'queue_task',
      'queue_task',
    ]);
    expect(events(r)).toEqual([
      'Finished shuffle phase in 0:00:00.000',
      'Finished map phase in 0:00:00.000',
      'Starting reduce phase',
    ]);
    const red = queued(r);
    expect(red.map((t) => [t.mode, t.taskid, t.preferredHosts, t.forceLocal])).toEqual([
      ['reduce', 0, ['n1'], false],
      ['reduce', 1, ['n2'], false],
      ['reduce', 2, ['n1'], false],
    ]);
    expect(red[0].inputs).toEqual([[idx('n1')], [idx('n2')]]);
    expect(coordinatorCounters(c.state)).toEqual({ mapi: [0, 0, 2, 0], redi: [3, 0, 0, 0] });
    c.run('reduce', 0, 'n1');
    c.run('reduce', 1, 'n2');
    // Tag-only results need no shuffle.
    c.assign('reduce', 2, 'n1');
    const all = c.done('reduce', 2, 'n1', ['tag://out']);
    expect(shuffles(all).map((s) => [s.node, s.requestId, s.resultFiles])).toEqual([
      ['n1', 3, ['.disco/reduce-0-0.results']],
      ['n2', 4, ['.disco/reduce-1-0.results']],
    ]);
    const fin1 = c.step({
      type: 'shuffle_done',
      mode: 'reduce',
      node: 'n1',
      requestId: 3,
      index: idx('n1', 'reduce'),
    });
    expect(fin1).toEqual([]);
    const fin = c.step({
      type: 'shuffle_done',
      mode: 'reduce',
      node: 'n2',
      requestId: 4,
      index: idx('n2', 'reduce'),
    });
    expect(events(fin)).toEqual([
      'Finished shuffle phase in 0:00:00.000',
      'Finished reduce phase in 0:00:00.000',
      'READY: Job finished in 0:00:00.000',
    ]);
    expect(fin.find((e) => e.type === 'job_ready')).toEqual({
      type: 'job_ready',
      results: [idx('n1', 'reduce'), idx('n2', 'reduce'), 'tag://out'],
      durationMs: 0,
    });
  });

  it('finishes at once with no inputs, and makes no reduce tasks from no map results', () => {
    const c = new Coord(config({ inputs: [], reducePhase: true, nrReduces: 4 }));
    expect(coordinatorCounters(c.state).redi).toEqual([4, 0, 0, 0]);
    const fx = c.start();
    expect(events(fx)).toEqual([
      'Starting job',
      'Starting map phase',
      'Finished map phase in 0:00:00.000',
      'Starting reduce phase',
      'Finished reduce phase in 0:00:00.000',
      'READY: Job finished in 0:00:00.000',
    ]);
    expect(fx.filter((e) => e.type === 'map_results' || e.type === 'job_ready')).toEqual([
      { type: 'map_results', results: [] },
      { type: 'job_ready', results: [], durationMs: 0 },
    ]);
    expect(coordinatorCounters(c.state)).toEqual({ mapi: [0, 0, 0, 0], redi: [0, 0, 0, 0] });
  });

  it('reduce-only: job inputs go to every reduce task; redundant inputs fail the job', () => {
    const c = new Coord(
      config({ mapPhase: false, reducePhase: true, nrReduces: 2, inputs: ['dir://n2/x', ['dir://n1/y']] }),
    );
    const fx = c.start();
    expect(queued(fx).map((t) => [t.taskid, t.inputs, t.preferredHosts])).toEqual([
      [0, [['dir://n2/x'], ['dir://n1/y']], ['n1']],
      [1, [['dir://n2/x'], ['dir://n1/y']], ['n2']],
    ]);
    expect(coordinatorCounters(c.state).mapi).toEqual([0, 0, 0, 0]);

    const bad = new Coord(
      config({ mapPhase: false, reducePhase: true, inputs: [['dir://a/x', 'dir://b/x']] }),
    );
    const f = bad.start();
    expect(events(f)).toEqual(['Starting job', 'ERROR: Job failed: Redundant inputs in reduce']);
    expect(f.slice(-2)).toEqual([
      { type: 'job_failed', reason: 'Redundant inputs in reduce', task: null },
      { type: 'job_ended' },
    ]);
    expect(coordinatorStatus(bad.state)).toBe('dead');
  });

  it('accepts results that arrive before the assignment, and ignores duplicate assignments', () => {
    const c = new Coord(config({ inputs: ['raw://a', 'raw://b'] }));
    c.start();
    c.done('map', 0, 'n1', [res('n1', 'map', 0)]);
    expect(coordinatorCounters(c.state).mapi).toEqual([1, 0, 1, 0]);
    expect(c.assign('map', 0, 'n1')).toEqual([]);
    c.assign('map', 1, 'n1');
    expect(c.assign('map', 1, 'n1')).toEqual([]);
    expect(coordinatorCounters(c.state).mapi).toEqual([0, 1, 1, 0]);
  });

  it('computes result paths relative to the job home', () => {
    expect(resultRelPath(res('n1', 'map', 3), JOB)).toBe('.disco/map-3-0.results');
    expect(resultRelPath(`dir://h:9/x/${JOB}/a/b.results`, JOB)).toBe('a/b.results');
  });
});

describe('coordinator: failures', () => {
  it('retries errors with back-off, avoiding the failed nodes, and ignores stale attempts', () => {
    const c = new Coord(config({ inputs: ['raw://a'], maxFailureRate: 3 }));
    c.start();
    c.assign('map', 0, 'n1');
    const f1 = c.fail('map', 0, 'n1', 0, 0);
    expect(f1).toEqual([
      { type: 'event', host: 'n1', message: 'WARNING: [map:0] boom' },
      {
        type: 'event',
        host: 'master',
        message: 'map:0 Task failed for the 1th time. Sleeping 2 seconds before retrying.',
      },
      { type: 'retry_after', mode: 'map', taskid: 0, delayMs: 2000 },
    ]);
    expect(coordinatorCounters(c.state).mapi).toEqual([1, 0, 0, 1]);
    // Results or failures of the failed attempt are ignored from now on.
    expect(c.done('map', 0, 'n1', [res('n1', 'map', 0)])).toEqual([]);
    expect(c.fail('map', 0, 'n1')).toEqual([]);
    const r = c.step({ type: 'retry_due', mode: 'map', taskid: 0 });
    expect(queued(r)).toEqual([expect.objectContaining({ taskid: 0, attempt: 1, avoid: ['n1'] })]);
    expect(c.step({ type: 'retry_due', mode: 'map', taskid: 0 })).toEqual([]); // no timer pending
    c.assign('map', 0, 'n2', 1);
    const f2 = c.fail('map', 0, 'n2', 1, 0.999999);
    expect(f2.find((e) => e.type === 'retry_after')).toEqual({
      type: 'retry_after',
      mode: 'map',
      taskid: 0,
      delayMs: 32000,
    });
    c.step({ type: 'retry_due', mode: 'map', taskid: 0 });
    c.assign('map', 0, 'n1', 2);
    const f3 = c.fail('map', 0, 'n1', 2);
    expect(events(f3)).toEqual([
      'WARNING: [map:0] boom',
      'ERROR: [map:0] Task failed 3 times. At most 3 failures are allowed.',
      'ERROR: Job failed: Task failed 3 times. At most 3 failures are allowed.',
    ]);
    expect(f3.slice(-2)).toEqual([
      {
        type: 'job_failed',
        reason: 'Task failed 3 times. At most 3 failures are allowed.',
        task: { mode: 'map', taskid: 0, node: 'n1', input: 'raw://a' },
      },
      { type: 'job_ended' },
    ]);
    expect(coordinatorStatus(c.state)).toBe('dead');
    expect(coordinatorCounters(c.state).mapi).toEqual([0, 0, 0, 3]);
  });

  it('caps the back-off at 60 s plus jitter and scales it for tests', () => {
    const c = new Coord(config({ inputs: ['raw://a'], retryDelayScale: 0.001 }));
    c.start();
    for (let k = 0; k < 70; k++) {
      c.assign('map', 0, 'n1', k);
      const fx = c.fail('map', 0, 'n1', k, 0.5);
      const want = Math.round((Math.min((k + 1) * 1000, 60_000) + 15_500) * 0.001);
      expect(fx.find((e) => e.type === 'retry_after')).toMatchObject({ delayMs: want });
      c.step({ type: 'retry_due', mode: 'map', taskid: 0 });
    }
    expect(coordinatorCounters(c.state).mapi).toEqual([1, 0, 0, 70]);
  });

  it('a fatal error kills the job and its running tasks', () => {
    const c = new Coord(config({ inputs: ['raw://a', 'raw://b', 'raw://c'] }));
    c.start();
    c.assign('map', 0, 'n1');
    c.assign('map', 1, 'n2');
    const fx = c.fail('map', 0, 'n1', 0, 0, 'fatal');
    expect(fx).toEqual([
      { type: 'event', host: 'n1', message: 'ERROR: [map:0] boom' },
      { type: 'event', host: 'master', message: "ERROR: Job failed: Worker at 'n1' died: boom" },
      { type: 'kill_task', mode: 'map', taskid: 1, attempt: 0, node: 'n2' },
      {
        type: 'job_failed',
        reason: "Worker at 'n1' died: boom",
        task: { mode: 'map', taskid: 0, node: 'n1', input: 'raw://a' },
      },
      { type: 'job_ended' },
    ]);
    expect(coordinatorCounters(c.state).mapi).toEqual([0, 0, 0, 1]);
    expect(runningHosts(c.state)).toEqual([]);
    expect(c.done('map', 1, 'n2', [])).toEqual([]);
  });

  /** The effects of map task 0 failing fatally with `message`, on a job of its own. */
  function fatal(message: string) {
    const c = new Coord(config({ inputs: ['raw://a'] }));
    c.start();
    c.assign('map', 0, 'n1');
    return c.step({
      type: 'task_failed',
      mode: 'map',
      taskid: 0,
      attempt: 0,
      node: 'n1',
      kind: 'fatal',
      message,
      random: 0,
    });
  }
  const reasonOf = (fx: ReturnType<typeof fatal>) =>
    (fx.find((e) => e.type === 'job_failed') as { reason: string }).reason;

  it('keeps at most MAX_FAILURE_REASON characters of a fatal message as the failure reason', () => {
    const message = 'x'.repeat(MAX_FAILURE_REASON * 2);
    const fx = fatal(message);
    const kept = `Worker at 'n1' died: ${message}`.slice(0, MAX_FAILURE_REASON);
    expect(reasonOf(fx)).toBe(`${kept}… (cut at ${MAX_FAILURE_REASON} characters)`);
    // So are the events telling it (the task's and the job's), which hold the message too.
    const events = fx.flatMap((e) => (e.type === 'event' ? [e.message] : []));
    expect(events.filter((m) => m.includes('xxxx'))).toHaveLength(2);
    for (const m of events) expect(m.length).toBeLessThan(MAX_FAILURE_REASON + 100);
    // A cut never splits a surrogate pair.
    const emoji = reasonOf(fatal('😀'.repeat(MAX_FAILURE_REASON)));
    expect(Buffer.from(emoji, 'utf8').toString('utf8')).toBe(emoji);
  });

  it('an unschedulable task fails the job', () => {
    const c = new Coord(config({ inputs: ['disco://gone/x'], forceLocal: true }));
    c.start();
    const fx = c.step({
      type: 'unschedulable',
      mode: 'map',
      taskid: 0,
      reason: 'Task is forced to be local but …',
    });
    expect(fx).toEqual([
      { type: 'event', host: 'master', message: 'ERROR: [map:0] Task is forced to be local but …' },
      {
        type: 'job_failed',
        reason: 'Task is forced to be local but …',
        task: { mode: 'map', taskid: 0, node: null, input: 'disco://gone/x' },
      },
      { type: 'job_ended' },
    ]);
    expect(coordinatorStatus(c.state)).toBe('dead');
  });

  it('kill stops everything', () => {
    const c = new Coord(config({ inputs: ['raw://a', 'raw://b'] }));
    c.start();
    c.assign('map', 1, 'n3');
    expect(c.step({ type: 'kill' })).toEqual([
      { type: 'event', host: 'master', message: 'WARN: Job killed' },
      { type: 'kill_task', mode: 'map', taskid: 1, attempt: 0, node: 'n3' },
      { type: 'job_failed', reason: 'Job killed', task: null },
      { type: 'job_ended' },
    ]);
    expect(coordinatorStatus(c.state)).toBe('dead');
    expect(coordinatorCounters(c.state).mapi).toEqual([0, 0, 0, 0]);
  });

  it('kills an assignment of an attempt it no longer wants', () => {
    const c = new Coord(config({ inputs: ['raw://a'] }));
    c.start();
    c.assign('map', 0, 'n1');
    c.fail('map', 0, 'n1');
    c.step({ type: 'retry_due', mode: 'map', taskid: 0 });
    expect(c.assign('map', 0, 'n2', 0)).toEqual([
      { type: 'kill_task', mode: 'map', taskid: 0, attempt: 0, node: 'n2' },
    ]);
    expect(c.assign('map', 7, 'n2', 0)).toEqual([]); // unknown task
  });

  it('retries a failed shuffle every 10 s and gives up after max_failure_rate', () => {
    const c = new Coord(config({ inputs: ['raw://a'], maxFailureRate: 2, retryDelayScale: 0.5 }));
    c.start();
    c.run('map', 0, 'n1');
    const f = c.step({
      type: 'shuffle_failed',
      mode: 'map',
      node: 'n1',
      requestId: 1,
      message: 'disk full',
      random: 0,
    });
    expect(f).toEqual([
      {
        type: 'event',
        host: 'n1',
        message: 'WARNING: Creating index file failed at n1: disk full (retrying)',
      },
      { type: 'retry_shuffle_after', mode: 'map', node: 'n1', delayMs: 5000 },
    ]);
    // A stale answer is ignored.
    expect(c.step({ type: 'shuffle_done', mode: 'map', node: 'n1', requestId: 1, index: idx('n1') })).toEqual(
      [],
    );
    const r = c.step({ type: 'shuffle_retry_due', mode: 'map', node: 'n1' });
    expect(shuffles(r)).toEqual([
      { type: 'shuffle', node: 'n1', mode: 'map', requestId: 2, resultFiles: ['.disco/map-0-0.results'] },
    ]);
    const g = c.step({
      type: 'shuffle_failed',
      mode: 'map',
      node: 'n1',
      requestId: 2,
      message: 'x',
      random: 0,
    });
    expect(events(g)).toEqual([
      'ERROR: Job failed: Shuffling failed 2 times. At most 2 failures are allowed.',
    ]);
    expect(types(g).slice(-2)).toEqual(['job_failed', 'job_ended']);
  });
});

describe('coordinator: lost nodes', () => {
  it('fails the running tasks and re-runs done tasks whose results were there', () => {
    const c = new Coord(config({ inputs: ['raw://a', 'raw://b', 'raw://c', 'raw://d'] }));
    c.start();
    c.run('map', 0, 'n1');
    c.assign('map', 1, 'n1');
    c.run('map', 2, 'n2');
    const fx = c.step({ type: 'node_lost', node: 'n1', random: 0 });
    expect(fx).toEqual([
      { type: 'kill_task', mode: 'map', taskid: 1, attempt: 0, node: 'n1' },
      { type: 'event', host: 'n1', message: 'WARNING: [map:1] Connection lost to the node (network busy?)' },
      {
        type: 'event',
        host: 'master',
        message: 'map:1 Task failed for the 1th time. Sleeping 2 seconds before retrying.',
      },
      { type: 'retry_after', mode: 'map', taskid: 1, delayMs: 2000 },
      {
        type: 'event',
        host: 'master',
        message: 'WARNING: Results of 1 map task(s) were lost with n1: running them again',
      },
      { type: 'queue_task', task: expect.objectContaining({ taskid: 0, attempt: 1, avoid: [] }) },
    ]);
    expect(coordinatorCounters(c.state).mapi).toEqual([3, 0, 1, 1]);
    // The first attempt's late results do not count.
    expect(c.done('map', 0, 'n1', [res('n1', 'map', 0)])).toEqual([]);
    expect(coordinatorCounters(c.state).mapi).toEqual([3, 0, 1, 1]);
  });

  it('queues prefetched attempts that never started there again at once, without counting a failure', () => {
    const c = new Coord(config({ inputs: ['raw://a', 'raw://b', 'raw://c'] }));
    c.start();
    c.assign('map', 0, 'n1');
    c.assign('map', 1, 'n1'); // prefetched: still in n1's queue
    const fx = c.step({
      type: 'node_lost',
      node: 'n1',
      random: 0,
      unstarted: [{ mode: 'map', taskid: 1, attempt: 0 }],
    });
    expect(fx).toEqual([
      { type: 'kill_task', mode: 'map', taskid: 0, attempt: 0, node: 'n1' },
      { type: 'event', host: 'n1', message: 'WARNING: [map:0] Connection lost to the node (network busy?)' },
      {
        type: 'event',
        host: 'master',
        message: 'map:0 Task failed for the 1th time. Sleeping 2 seconds before retrying.',
      },
      { type: 'retry_after', mode: 'map', taskid: 0, delayMs: 2000 },
      { type: 'kill_task', mode: 'map', taskid: 1, attempt: 0, node: 'n1' },
      {
        type: 'event',
        host: 'master',
        message: 'WARNING: [map:1] n1 was lost before the task started; queued again',
      },
      { type: 'queue_task', task: expect.objectContaining({ taskid: 1, attempt: 1, avoid: [] }) },
    ]);
    // One failure (map:0); map:1 waits again, map:0 waits for its back-off.
    expect(coordinatorCounters(c.state).mapi).toEqual([3, 0, 0, 1]);
    // A stale report of the lost attempt does not count.
    expect(c.done('map', 1, 'n1', [res('n1', 'map', 1)])).toEqual([]);
    expect(c.run('map', 1, 'n2', 1)).toEqual([
      { type: 'event', host: 'master', message: 'map:1 assigned to n2' },
    ]);
  });

  it('re-shuffles only nodes whose result files changed', () => {
    const c = new Coord(config({ inputs: ['raw://a', 'raw://b'] }));
    c.start();
    c.run('map', 0, 'n1');
    c.run('map', 1, 'n2');
    c.step({ type: 'shuffle_done', mode: 'map', node: 'n2', requestId: 2, index: idx('n2') });
    const lost = c.step({ type: 'node_lost', node: 'n1' });
    expect(queued(lost).map((t) => [t.taskid, t.attempt])).toEqual([[0, 1]]);
    // The answer for the lost node's old request is ignored.
    expect(c.step({ type: 'shuffle_done', mode: 'map', node: 'n1', requestId: 1, index: idx('n1') })).toEqual(
      [],
    );
    const again = c.run('map', 0, 'n3', 1);
    expect(shuffles(again)).toEqual([
      { type: 'shuffle', node: 'n3', mode: 'map', requestId: 3, resultFiles: ['.disco/map-0-1.results'] },
    ]);
    const fin = c.step({ type: 'shuffle_done', mode: 'map', node: 'n3', requestId: 3, index: idx('n3') });
    expect(fin.find((e) => e.type === 'job_ready')).toMatchObject({ results: [idx('n2'), idx('n3')] });
  });

  it('during reduce, lost map data pauses reduce, re-runs the map tasks and resumes with new inputs', () => {
    const c = new Coord(config({ inputs: ['raw://a', 'raw://b'], reducePhase: true, nrReduces: 3 }));
    c.start();
    c.run('map', 0, 'n1');
    c.run('map', 1, 'n2');
    c.step({ type: 'shuffle_done', mode: 'map', node: 'n1', requestId: 1, index: idx('n1') });
    c.step({ type: 'shuffle_done', mode: 'map', node: 'n2', requestId: 2, index: idx('n2') });
    c.run('reduce', 0, 'n2'); // done, data on n2: kept
    c.assign('reduce', 1, 'n3'); // running elsewhere: killed and held
    // reduce:2 still queued: withdrawn
    c.now = 1000;
    const fx = c.step({ type: 'node_lost', node: 'n1' });
    expect(fx).toEqual([
      {
        type: 'event',
        host: 'master',
        message: 'WARNING: Results of 1 map task(s) were lost with n1: running them again',
      },
      {
        type: 'event',
        host: 'master',
        message: 'Pausing reduce phase until the lost map results are made again',
      },
      { type: 'kill_task', mode: 'reduce', taskid: 1, attempt: 0, node: 'n3' },
      { type: 'unqueue_task', mode: 'reduce', taskid: 2, attempt: 0 },
      { type: 'queue_task', task: expect.objectContaining({ mode: 'map', taskid: 0, attempt: 1 }) },
    ]);
    expect(coordinatorCounters(c.state)).toEqual({ mapi: [1, 0, 1, 0], redi: [2, 0, 1, 0] });
    // The killed reduce attempt's results are ignored.
    expect(c.done('reduce', 1, 'n3', [res('n3', 'reduce', 1)])).toEqual([]);
    // A late assignment of the withdrawn attempt is killed.
    expect(c.assign('reduce', 2, 'n2')).toEqual([
      { type: 'kill_task', mode: 'reduce', taskid: 2, attempt: 0, node: 'n2' },
    ]);
    c.now = 3000;
    const re = c.run('map', 0, 'n2', 1);
    expect(events(re)).toEqual(['map:0 assigned to n2', 'Starting shuffle phase']);
    expect(shuffles(re)).toEqual([
      {
        type: 'shuffle',
        node: 'n2',
        mode: 'map',
        requestId: 3,
        resultFiles: ['.disco/map-0-1.results', '.disco/map-1-0.results'],
      },
    ]);
    const resumed = c.step({ type: 'shuffle_done', mode: 'map', node: 'n2', requestId: 3, index: idx('n2') });
    expect(events(resumed)).toEqual([
      'Finished shuffle phase in 0:00:00.000',
      'Finished re-running lost map tasks in 0:00:02.000',
      'Resuming reduce phase',
    ]);
    expect(resumed.find((e) => e.type === 'map_results')).toEqual({
      type: 'map_results',
      results: [idx('n2')],
    });
    expect(queued(resumed).map((t) => [t.taskid, t.attempt, t.inputs, t.preferredHosts])).toEqual([
      [1, 1, [[idx('n2')]], ['n2']],
      [2, 1, [[idx('n2')]], ['n2']],
    ]);
    c.run('reduce', 1, 'n2', 1);
    const last = c.run('reduce', 2, 'n2', 1);
    expect(shuffles(last)).toEqual([
      {
        type: 'shuffle',
        node: 'n2',
        mode: 'reduce',
        requestId: 4,
        resultFiles: ['.disco/reduce-0-0.results', '.disco/reduce-1-1.results', '.disco/reduce-2-1.results'],
      },
    ]);
    const fin = c.step({
      type: 'shuffle_done',
      mode: 'reduce',
      node: 'n2',
      requestId: 4,
      index: idx('n2', 'reduce'),
    });
    expect(fin.find((e) => e.type === 'job_ready')).toMatchObject({ results: [idx('n2', 'reduce')] });
    expect(coordinatorCounters(c.state)).toEqual({ mapi: [0, 0, 2, 0], redi: [0, 0, 3, 0] });
  });

  it('does not re-run map tasks once every reduce task is done', () => {
    const c = new Coord(config({ inputs: ['raw://a'], reducePhase: true, nrReduces: 1 }));
    c.start();
    c.run('map', 0, 'n1');
    c.step({ type: 'shuffle_done', mode: 'map', node: 'n1', requestId: 1, index: idx('n1') });
    c.run('reduce', 0, 'n2');
    expect(c.step({ type: 'node_lost', node: 'n1' })).toEqual([]);
    const fin = c.step({
      type: 'shuffle_done',
      mode: 'reduce',
      node: 'n2',
      requestId: 2,
      index: idx('n2', 'reduce'),
    });
    expect(types(fin)).toContain('job_ready');
  });
});

describe('coordinator: scale', () => {
  it('runs a 50,000-task map and 100 reduces quickly', () => {
    const hosts = Array.from({ length: 100 }, (_, i) => `n${i}`);
    const n = 50_000;
    const c = new Coord(
      config({
        inputs: Array.from({ length: n }, (_, i) => `disco://${hosts[i % 100]}/ddfs/${i}`),
        reducePhase: true,
        nrReduces: 100,
      }),
    );
    const t0 = performance.now();
    expect(queued(c.start())).toHaveLength(n);
    let sh: ReturnType<typeof shuffles> = [];
    for (let i = 0; i < n; i++) sh = shuffles(c.run('map', i, hosts[i % 100]));
    expect(sh).toHaveLength(100);
    let red: ReturnType<typeof queued> = [];
    for (const s of sh)
      red = queued(
        c.step({
          type: 'shuffle_done',
          mode: 'map',
          node: s.node,
          requestId: s.requestId,
          index: idx(s.node),
        }),
      );
    expect(red).toHaveLength(100);
    for (let i = 0; i < 100; i++) sh = shuffles(c.run('reduce', i, hosts[i]));
    for (const s of sh)
      c.step({
        type: 'shuffle_done',
        mode: 'reduce',
        node: s.node,
        requestId: s.requestId,
        index: idx(s.node, 'reduce'),
      });
    expect(coordinatorStatus(c.state)).toBe('ready');
    // A guard against quadratic blow-ups, not a benchmark (~2.6 s alone; the machine may be loaded).
    expect(performance.now() - t0).toBeLessThan(20_000);
  });
});
