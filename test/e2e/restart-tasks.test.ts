/**
 * A master killed with SIGKILL while a job runs keeps that job's task table and timeline: the
 * task journal (src/master/metrics/task-journal.ts) was appended while the tasks ran, so after
 * the restart the job page shows the tasks that had finished (same node, start, end) and those
 * cut off (killed).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Disco } from '../../src/index.js';
import type { AttemptRec } from '../../src/master/metrics/task-history.js';
import { FLUSH_MS } from '../../src/master/metrics/task-journal.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import { SlowTail } from './fixtures/slow-jobs.js';
import { getJson } from './helpers.js';

let c: Cluster;
beforeAll(async () => {
  c = await startCluster({ nodes: 1, cores: 2 });
});
afterAll(async () => {
  await c?.stop();
});

interface Tasks {
  counts: Record<string, number>;
  rows: { mode: string; taskid: number; status: string; node: string | null; start: number | null }[];
}

test('SIGKILL the master while a job runs, restart: the job page still shows its tasks', async () => {
  const job = await new SlowTail({ master: new Disco(c.master) }).run({
    input: ['raw://fast-0', 'raw://fast-1', 'raw://slow-2', 'raw://slow-3'],
  });
  const api = `${c.master}/disco/api/v1/jobs/${encodeURIComponent(job.name)}`;
  // Two tasks done, the slow ones running.
  const deadline = Date.now() + 30_000;
  let before: Tasks;
  for (;;) {
    before = await getJson<Tasks>(`${api}/tasks`);
    if (before.counts.done === 2 && before.counts.running === 2) break;
    if (Date.now() > deadline)
      throw new Error(`tasks never reached 2 done + 2 running: ${JSON.stringify(before)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const attempts = (await getJson<{ attempts: AttemptRec[] }>(`${api}/attempts`)).attempts;
  // Let a journal batch go out, then kill the master without warning.
  await new Promise((r) => setTimeout(r, FLUSH_MS + 300));
  await c.killMaster('SIGKILL');
  await c.restartMaster();

  expect((await getJson<{ status: string }>(api)).status).toBe('dead');
  const after = (await getJson<{ attempts: AttemptRec[] }>(`${api}/attempts`)).attempts;
  expect(after).toEqual(attempts);
  expect(
    after
      .filter((a) => a.outcome === 'done')
      .map((a) => a.taskid)
      .sort(),
  ).toEqual([0, 1]);
  const tasks = await getJson<Tasks>(`${api}/tasks`);
  expect(tasks.rows.map((r) => [r.taskid, r.status, r.node, r.start])).toEqual(
    before.rows.map((r) => [r.taskid, r.status === 'running' ? 'killed' : r.status, r.node, r.start]),
  );
  // The page itself lists them, and the timeline has a bar per attempt.
  const page = await (await fetch(`${c.master}/job/${encodeURIComponent(job.name)}`)).text();
  expect(page).toContain(c.nodes[0].host);
  expect(page).toMatch(/\bdone\b/);
  expect(page).toMatch(/\bkilled\b/);
  const timeline = await getJson<{ bars: unknown[] }>(`${api}/timeline`);
  expect(timeline.bars).toHaveLength(4);
});
