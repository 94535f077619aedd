/** A master killed with SIGKILL after a job finished still serves it when restarted. */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type Cluster, startCluster } from '../harness/cluster.js';
import { events, getJson, postJson, readDirResults, submitPack, waitJob } from './helpers.js';
import { countWords, pythonWordCountPack } from './packs.js';

let c: Cluster;
beforeAll(async () => {
  c = await startCluster({ nodes: 1 });
});
afterAll(async () => {
  await c?.stop();
});

test('SIGKILL the master after a job finished, restart: joblist, jobinfo, events and results survive', async () => {
  const texts = ['one two two', 'three three three'];
  const job = await submitPack(c.master, await pythonWordCountPack(texts));
  const [status, results] = await waitJob(c.master, job);
  expect(status).toBe('ready');
  const before = await events(c.master, job);
  const infoBefore = await getJson<Record<string, unknown>>(`${c.master}/disco/ctrl/jobinfo?name=${job}`);

  await c.killMaster('SIGKILL');
  await c.restartMaster();

  const list = await getJson<[number, string, string][]>(`${c.master}/disco/ctrl/joblist`);
  expect(list.find((j) => j[2] === job)?.[1]).toBe('ready');
  const infoAfter = await getJson<Record<string, unknown>>(`${c.master}/disco/ctrl/jobinfo?name=${job}`);
  expect(infoAfter.active).toBe('ready');
  expect(infoAfter.results).toEqual(infoBefore.results);
  expect(infoAfter.mapi).toEqual(infoBefore.mapi);
  const after = await events(c.master, job);
  expect(after.map((e) => e[2])).toEqual(before.map((e) => e[2]));
  const reply = await postJson<[string, [string, string[]]][]>(`${c.master}/disco/ctrl/get_results`, [
    100,
    [job],
  ]);
  expect(reply[0][1]).toEqual(['ready', results]);
  // The node reconnects to the new master, and the data is still readable.
  const got: Record<string, number> = {};
  for (const { data } of await readDirResults(results, c.port)) {
    for (const row of data.toString().split('\n').filter(Boolean)) {
      const [w, n] = row.split(' ');
      got[w] = Number(n);
    }
  }
  expect(got).toEqual(countWords(texts));
});
