/**
 * The master's observability with a scripted node: `/metrics` values for a job whose task
 * counts are known (one retried task), the per-task table and timeline of the JSON API, the UI
 * pages and fragments, `/health`, escaping of user-supplied text, and the task history of a
 * finished job surviving a master restart.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hexHash } from '../../../src/protocol/names.js';
import { parsePrometheus, sampleValue } from '../../harness/prometheus.js';
import { FakeNode } from './fake-node.js';
import { getJson, jobPack, postJson, startTestMaster, submit, type TestMaster } from './helpers.js';

let m: TestMaster;
let root: string;

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'disco-master-'));
  mkdirSync(root, { recursive: true });
  writeFileSync(
    path.join(root, 'disco_0.config'),
    JSON.stringify({ hosts: [['fake1', '4']], blacklist: [], gc_blacklist: [] }),
  );
  m = await startTestMaster({}, root);
});
afterAll(async () => {
  await m.destroy();
});

const refOf = (t: { job: string; mode: 'map' | 'reduce'; taskid: number; attempt: number }) => ({
  job: t.job,
  mode: t.mode,
  taskid: t.taskid,
  attempt: t.attempt,
});

interface TaskRow {
  mode: string;
  taskid: number;
  status: string;
  attempts: number;
  node: string | null;
  message: string | null;
}

async function metrics() {
  const r = await fetch(`${m.url}/metrics`);
  expect(r.headers.get('content-type')).toContain('text/plain; version=0.0.4');
  return parsePrometheus(await r.text());
}

describe('a job with known task counts', () => {
  let job = '';

  it('runs: 3 map tasks, one failing once', async () => {
    const { node } = await FakeNode.connect(m.url, 'fake1');
    const owner = '<img src=x onerror=alert(1)>@host';
    [, job] = await submit(
      m.url,
      jobPack({ prefix: 'Obs', owner, input: ['raw://a', 'raw://b', 'raw://c'] }),
    );
    const hh = hexHash(job);
    const tasks = [await node.next('run_task'), await node.next('run_task'), await node.next('run_task')];
    const res = (t: { taskid: number }) => [
      `dir://fake1/disco/fake1/${hh}/${job}/.disco/map-${t.taskid}-1.results`,
    ];
    const failing = tasks.find((t) => t.task.taskid === 1)!;
    node.send({ type: 'task_failed', ...refOf(failing.task), kind: 'error', message: 'disk hiccup' });
    const retry = await node.next('run_task');
    // While one task runs, the page and the API agree that it runs.
    const running = (await getJson(`${m.url}/disco/api/v1/jobs/${job}/tasks?status=running`)) as {
      matched: number;
    };
    expect(running.matched).toBe(3);
    for (const t of [...tasks.filter((t) => t !== failing), retry])
      node.send({ type: 'task_done', ...refOf(t.task), results: res(t.task), durationMs: 5 });
    const shuffle = await node.next('shuffle');
    const index = `dir://fake1/disco/fake1/${hh}/${job}/.disco/map-index.txt.gz`;
    node.send({ type: 'shuffle_done', job, mode: 'map', requestId: shuffle.requestId, index });
    const results = await (await postJson(`${m.url}/disco/ctrl/get_results`, [3000, [job]])).json();
    expect(results).toEqual([[job, ['ready', [index]]]]);
    await node.close();
  });

  it('/metrics counts its tasks', async () => {
    const e = await metrics();
    expect(e.types.get('disco_tasks_started_total')).toBe('counter');
    expect(e.types.get('disco_task_duration_seconds')).toBe('histogram');
    expect(sampleValue(e, 'disco_tasks_started_total', { phase: 'map' })).toBe(4);
    expect(sampleValue(e, 'disco_tasks_finished_total', { phase: 'map' })).toBe(3);
    expect(sampleValue(e, 'disco_tasks_failed_total', { phase: 'map', kind: 'error' })).toBe(1);
    expect(sampleValue(e, 'disco_tasks_started_total', { phase: 'reduce' })).toBeUndefined();
    expect(sampleValue(e, 'disco_task_duration_seconds_count', { phase: 'map' })).toBe(3);
    expect(sampleValue(e, 'disco_task_duration_seconds_bucket', { phase: 'map', le: '+Inf' })).toBe(3);
    expect(sampleValue(e, 'disco_jobs', { state: 'ready' })).toBe(1);
    expect(sampleValue(e, 'disco_jobs', { state: 'active' })).toBe(0);
    expect(sampleValue(e, 'disco_jobs_submitted_total')).toBe(1);
    expect(sampleValue(e, 'disco_node_tasks_total', { node: 'fake1', outcome: 'ok' })).toBe(3);
    expect(sampleValue(e, 'disco_node_tasks_total', { node: 'fake1', outcome: 'data_error' })).toBe(1);
    expect(sampleValue(e, 'disco_nodes', { state: 'configured' })).toBe(1);
    expect(sampleValue(e, 'disco_slots')).toBe(4);
    expect(sampleValue(e, 'disco_scheduler_queued_tasks')).toBe(0);
    expect(sampleValue(e, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('the task table, attempts and timeline of the JSON API', async () => {
    const t = (await getJson(`${m.url}/disco/api/v1/jobs/${job}/tasks`)) as {
      total: number;
      counts: Record<string, number>;
      rows: TaskRow[];
    };
    expect(t.total).toBe(3);
    expect(t.counts).toMatchObject({ done: 3, retried: 1 });
    expect(t.rows.map((r) => [r.taskid, r.status, r.attempts, r.node])).toEqual([
      [0, 'done', 1, 'fake1'],
      [1, 'done', 2, 'fake1'],
      [2, 'done', 1, 'fake1'],
    ]);
    expect(t.rows[1].message).toBe('disk hiccup');
    const retried = (await getJson(`${m.url}/disco/api/v1/jobs/${job}/tasks?status=retried`)) as {
      rows: TaskRow[];
    };
    expect(retried.rows.map((r) => r.taskid)).toEqual([1]);
    const a = (await getJson(`${m.url}/disco/api/v1/jobs/${job}/attempts`)) as {
      attempts: { taskid: number; outcome: string; start: number; end: number }[];
    };
    expect(a.attempts.map((x) => x.outcome).sort()).toEqual(['done', 'done', 'done', 'error']);
    for (const x of a.attempts) expect(x.end).toBeGreaterThanOrEqual(x.start);
    const tl = (await getJson(`${m.url}/disco/api/v1/jobs/${job}/timeline`)) as {
      nodes: { node: string; lanes: number }[];
      bars: unknown[];
    };
    expect(tl.bars).toHaveLength(4);
    expect(tl.nodes).toEqual([{ node: 'fake1', lanes: 3 }]);
    const info = (await getJson(`${m.url}/disco/api/v1/jobs/${job}`)) as { mapi: number[]; status: string };
    expect(info).toMatchObject({ status: 'ready', mapi: [0, 0, 3, 1] });
    const events = (await getJson(`${m.url}/disco/api/v1/jobs/${job}/events?filter=map:1`)) as {
      message: string;
    }[];
    expect(events.length).toBeGreaterThan(0);
    for (const ev of events) expect(ev.message).toMatch(/map:1(?!\d)/);
    expect((await fetch(`${m.url}/disco/api/v1/jobs/Nope@1:2:3`)).status).toBe(404);
  });

  it('the pages render the same numbers, escape user text and offer fragments', async () => {
    const page = await (await fetch(`${m.url}/job/${encodeURIComponent(job)}`)).text();
    expect(page).toContain('&#60;img src=x onerror=alert(1)&#62;@host');
    expect(page).not.toContain('<img src=x');
    expect(page).toContain('disk hiccup');
    const status = await fetch(`${m.url}/`);
    expect(status.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await status.text();
    expect(html).toContain(job);
    expect(html).not.toContain('<img src=x');
    const frag = (await getJson(`${m.url}/job/${encodeURIComponent(job)}?fragment=progress,tasks,nope`)) as {
      live: boolean;
      fragments: Record<string, string>;
    };
    expect(frag.live).toBe(false);
    expect(Object.keys(frag.fragments).sort()).toEqual(['progress', 'tasks']);
    expect(frag.fragments.progress).toContain('<strong>3</strong> done');
    expect(frag.fragments.progress).toContain('<strong>1</strong> failed attempt</span>');
    expect((await fetch(`${m.url}/job.html?name=${job}`)).status).toBe(200);
    expect((await fetch(`${m.url}/job/Nope@1:2:3`)).status).toBe(404);
    for (const p of ['/configure', '/tags', '/tags/some:tag', '/static/ui.js', '/static/disco.css'])
      expect((await fetch(`${m.url}${p}`)).status, p).toBe(200);
    expect((await fetch(`${m.url}/static/ui.js`)).headers.get('content-type')).toContain('javascript');
    const health = (await getJson(`${m.url}/health`)) as Record<string, unknown>;
    expect(health).toMatchObject({ status: 'ok', role: 'master', nodes: { configured: 1, connected: 0 } });
  });

  it('keeps the task table of a finished job after a master restart', async () => {
    m = await m.restart();
    const t = (await getJson(`${m.url}/disco/api/v1/jobs/${job}/tasks`)) as { rows: TaskRow[] };
    expect(t.rows.map((r) => [r.taskid, r.status, r.attempts])).toEqual([
      [0, 'done', 1],
      [1, 'done', 2],
      [2, 'done', 1],
    ]);
    const page = await (await fetch(`${m.url}/job/${encodeURIComponent(job)}`)).text();
    expect(page).toContain('class="tbar map done"');
  });
});
