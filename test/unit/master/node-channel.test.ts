import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hexHash } from '../../../src/protocol/names.js';
import { FakeNode } from './fake-node.js';
import { getJson, jobPack, postJson, startTestMaster, submit, type TestMaster, until } from './helpers.js';

const SECRET = 's3cret';
let m: TestMaster;

beforeAll(async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'disco-master-'));
  mkdirSync(root, { recursive: true });
  writeFileSync(
    path.join(root, 'disco_0.config'),
    JSON.stringify({
      hosts: [
        ['fake1', '2'],
        ['fake2', '1'],
      ],
      blacklist: [],
      gc_blacklist: [],
    }),
  );
  m = await startTestMaster({ DISCO_SECRET: SECRET }, root);
});
afterAll(async () => {
  await m.destroy();
});

type NodeInfo = Record<
  string,
  { connected: boolean; job_ok: number; data_error: number; error: number; tasks?: string[] }
>;
const nodeinfo = () => getJson(`${m.url}/disco/ctrl/nodeinfo`) as Promise<NodeInfo>;

describe('control channel', () => {
  it('refuses a wrong secret and hosts outside the config table', async () => {
    const bad = await FakeNode.connect(m.url, 'fake1', 'wrong');
    expect(bad.answer).toMatchObject({ type: 'refused' });
    expect((bad.answer as { reason: string }).reason).toContain('authentication');
    const stranger = await FakeNode.connect(m.url, 'stranger', SECRET);
    expect(stranger.answer.type).toBe('refused');
    expect((stranger.answer as { reason: string }).reason).toContain('not in the master');
    expect((await nodeinfo()).fake1.connected).toBe(false);
  });

  it('welcomes a configured node with proof of the secret', async () => {
    const { node, answer, verified } = await FakeNode.connect(m.url, 'fake1', SECRET);
    expect(answer).toMatchObject({ type: 'welcome', maxWorkers: 2 });
    expect(verified).toBe(true);
    const info = await nodeinfo();
    expect(info.fake1).toMatchObject({ connected: true, diskfree: 1000, diskused: 10 });
    await node.close();
    await until(async () => ((await nodeinfo()).fake1.connected ? undefined : true));
  });
});

describe('running jobs on a node', () => {
  it('runs a map job: tasks, retries, events, shuffle, results', async () => {
    const { node } = await FakeNode.connect(m.url, 'fake1', SECRET);
    const [, job] = await submit(m.url, jobPack({ prefix: 'Map', input: ['raw://a', 'raw://b'] }));
    const hh = hexHash(job);
    const t1 = await node.next('run_task');
    const t2 = await node.next('run_task');
    expect([t1.task.taskid, t2.task.taskid].sort()).toEqual([0, 1]);
    expect(t1.task).toMatchObject({ job, mode: 'map', attempt: expect.any(Number) });
    expect(t1.task.inputs).toEqual([[t1.task.taskid === 0 ? 'raw://a' : 'raw://b']]);
    expect((await nodeinfo()).fake1.tasks).toEqual([job, job]);

    node.send({ type: 'events', job, messages: ['MSG: [map:0] hello from the node'] });
    // Task 0 fails once with a retryable error, then succeeds on its retry.
    const first = t1.task.taskid === 0 ? t1 : t2;
    const other = first === t1 ? t2 : t1;
    node.send({ type: 'task_failed', ...refOf(first.task), kind: 'error', message: 'disk hiccup' });
    const retry = await node.next('run_task');
    expect(retry.task).toMatchObject({ taskid: 0, attempt: first.task.attempt + 1 });
    const res = (t: { taskid: number }) => [
      `dir://fake1/disco/fake1/${hh}/${job}/.disco/map-${t.taskid}-1.results`,
    ];
    node.send({ type: 'task_done', ...refOf(retry.task), results: res(retry.task), durationMs: 5 });
    // A stale report of the failed attempt is ignored.
    node.send({ type: 'task_done', ...refOf(first.task), results: res(first.task), durationMs: 5 });
    node.send({ type: 'task_done', ...refOf(other.task), results: res(other.task), durationMs: 5 });

    const shuffle = await node.next('shuffle');
    expect(shuffle).toMatchObject({ job, mode: 'map' });
    expect(shuffle.resultFiles.sort()).toEqual(['.disco/map-0-1.results', '.disco/map-1-1.results']);
    const index = `dir://fake1/disco/fake1/${hh}/${job}/.disco/map-index.txt.gz`;
    node.send({ type: 'shuffle_done', job, mode: 'map', requestId: shuffle.requestId, index });

    const results = (await (
      await postJson(`${m.url}/disco/ctrl/get_results`, [3000, [job]])
    ).json()) as unknown;
    expect(results).toEqual([[job, ['ready', [index]]]]);
    expect(await getJson(`${m.url}/disco/ctrl/get_mapresults?name=${job}`)).toEqual([index]);
    const info = (await getJson(`${m.url}/disco/ctrl/jobinfo?name=${job}`)) as {
      mapi: number[];
      results: string[];
    };
    expect(info.mapi).toEqual([0, 0, 2, 1]);
    expect(info.results).toEqual([index]);
    const n = (await nodeinfo()).fake1;
    expect(n).toMatchObject({ job_ok: 2, data_error: 1, error: 0 });
    expect(n.tasks).toBeUndefined();
    const events = (await (await fetch(`${m.url}/disco/ctrl/rawevents?name=${job}`)).text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as [string, string, string]);
    expect(events).toContainEqual([expect.any(String), 'fake1', 'MSG: [map:0] hello from the node']);
    expect(events).toContainEqual([expect.any(String), 'fake1', 'WARNING: [map:0] disk hiccup']);
    await node.close();
  });

  it('re-runs the tasks of a lost node when it comes back, and fails a job on a fatal error', async () => {
    const a = await FakeNode.connect(m.url, 'fake1', SECRET);
    const [, job] = await submit(m.url, jobPack({ prefix: 'Lost', input: ['raw://a'] }));
    const t = await a.node.next('run_task');
    await a.node.close();
    await until(async () => ((await nodeinfo()).fake1.connected ? undefined : true));
    const b = await FakeNode.connect(m.url, 'fake1', SECRET);
    const again = await b.node.next('run_task', 5000);
    expect(again.task).toMatchObject({ job, taskid: 0 });
    expect(again.task.attempt).toBeGreaterThan(t.task.attempt);
    b.node.send({ type: 'task_failed', ...refOf(again.task), kind: 'fatal', message: 'boom' });
    expect(await (await postJson(`${m.url}/disco/ctrl/get_results`, [3000, [job]])).json()).toEqual([
      [job, ['dead', []]],
    ]);
    expect((await nodeinfo()).fake1.error).toBe(1);
    const events = await (await fetch(`${m.url}/disco/ctrl/rawevents?name=${job}`)).text();
    expect(events).toContain("ERROR: Job failed: Worker at 'fake1' died: boom");
    await b.node.close();
  });

  it('kills running tasks of a killed job and replaces a reconnecting node', async () => {
    const a = await FakeNode.connect(m.url, 'fake2', SECRET);
    const [, job] = await submit(m.url, jobPack({ prefix: 'K', input: ['raw://a'] }));
    const t = await a.node.next('run_task');
    await postJson(`${m.url}/disco/ctrl/kill_job`, job);
    expect(await a.node.next('kill_task')).toMatchObject({ task: refOf(t.task) });
    expect(await a.node.next('kill_job')).toEqual({ type: 'kill_job', job });
    const b = await FakeNode.connect(m.url, 'fake2', SECRET);
    await until(async () => (a.node.closed ? true : undefined));
    expect((await nodeinfo()).fake2.connected).toBe(true);
    await postJson(`${m.url}/disco/ctrl/purge_job`, job);
    expect(await b.node.next('purge_job')).toEqual({ type: 'purge_job', job });
    await b.node.close();
    // A node connecting later still hears about the purge.
    const c = await FakeNode.connect(m.url, 'fake2', SECRET);
    expect(await c.node.next('purge_job')).toEqual({ type: 'purge_job', job });
    await c.node.close();
  });

  it('prefetches short tasks: running means started, queued ones lost with a node run again uncounted', async () => {
    const a = await FakeNode.connect(m.url, 'fake2', SECRET); // one slot
    const [, job] = await submit(
      m.url,
      jobPack({ prefix: 'Pre', input: ['raw://0', 'raw://1', 'raw://2', 'raw://3'] }),
    );
    const t0 = await a.node.next('run_task');
    expect(t0.prefetched).toBeUndefined();
    // Nothing is known about the job's tasks yet: one at a time.
    await expect(a.node.next('run_task', 200)).rejects.toThrow(/timed out/);
    a.node.send({ type: 'task_done', ...refOf(t0.task), results: [], durationMs: 2 });
    // Short tasks: the freed slot is refilled and one more task waits in the node's queue.
    const t1 = await a.node.next('run_task');
    const t2 = await a.node.next('run_task');
    expect(t1.prefetched).toBeUndefined();
    expect(t2.prefetched).toBe(true);
    const info = () =>
      getJson(`${m.url}/disco/ctrl/jobinfo?name=${job}`) as Promise<{ mapi: number[]; hosts: string[] }>;
    // The queued one counts as waiting until the node starts it.
    expect((await info()).mapi).toEqual([2, 1, 1, 0]);
    expect((await info()).hosts).toEqual(['fake2']);
    expect((await nodeinfo()).fake2.tasks).toEqual([job]);
    a.node.send({ type: 'task_started', ...refOf(t2.task) });
    await until(async () => ((await info()).mapi[1] === 2 ? true : undefined));
    expect((await nodeinfo()).fake2.tasks).toEqual([job, job]);

    // The node goes away with t1 and t2 running and t3 queued on it.
    a.node.send({ type: 'task_done', ...refOf(t1.task), results: [], durationMs: 2 });
    const t3 = await a.node.next('run_task');
    expect(t3.prefetched).toBe(true);
    await a.node.close();
    await until(async () => ((await nodeinfo()).fake2.connected ? undefined : true));
    // t2 (started) failed; t3 (never started) is waiting again without a failure.
    expect((await info()).mapi).toEqual([2, 0, 2, 1]);

    const b = await FakeNode.connect(m.url, 'fake2', SECRET);
    const seen = new Set<number>();
    while (seen.size < 2) {
      const t = await b.node.next('run_task', 5000);
      seen.add(t.task.taskid);
      if (t.prefetched) b.node.send({ type: 'task_started', ...refOf(t.task) });
      b.node.send({ type: 'task_done', ...refOf(t.task), results: [], durationMs: 2 });
    }
    expect([...seen].sort()).toEqual([2, 3]);
    expect(await (await postJson(`${m.url}/disco/ctrl/get_results`, [3000, [job]])).json()).toEqual([
      [job, ['ready', []]],
    ]);
    expect((await info()).mapi).toEqual([0, 0, 4, 1]);
    await b.node.close();
  });

  it('submits and finishes a one-task job quickly on a warm cluster', async () => {
    const { node } = await FakeNode.connect(m.url, 'fake1', SECRET);
    // Answer like a fast node: done immediately, shuffle immediately.
    const serve = (async () => {
      const t = await node.next('run_task');
      node.send({ type: 'task_done', ...refOf(t.task), results: [], durationMs: 1 });
    })();
    const t0 = performance.now();
    const [, job] = await submit(m.url, jobPack({ prefix: 'Fast', input: ['raw://a'] }));
    await serve;
    const r = (await (await postJson(`${m.url}/disco/ctrl/get_results`, [3000, [job]])).json()) as [
      string,
      [string],
    ][];
    expect(r[0][1][0]).toBe('ready');
    console.log(`submit → ready: ${(performance.now() - t0).toFixed(1)} ms`);
    expect(performance.now() - t0).toBeLessThan(500);
    await node.close();
  });
});

function refOf(t: { job: string; mode: 'map' | 'reduce'; taskid: number; attempt: number }) {
  return { job: t.job, mode: t.mode, taskid: t.taskid, attempt: t.attempt };
}
