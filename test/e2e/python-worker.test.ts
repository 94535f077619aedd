/** A worker written in Python (our own, protocol 1.0 only) runs a map+reduce job on a 2-node cluster. */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type Cluster, startCluster } from '../harness/cluster.js';
import { events, readDirResults, submitPack, waitJob } from './helpers.js';
import { countWords, pythonWordCountPack } from './packs.js';

let c: Cluster;
beforeAll(async () => {
  c = await startCluster({ nodes: 2, cores: 2 });
});
afterAll(async () => {
  await c?.stop();
});

test('a Python protocol-1.0 worker runs map and reduce', async () => {
  const texts = ['the cat sat on the mat', 'the dog ate the cat food', 'a mat a hat a cat'];
  const pack = await pythonWordCountPack(texts);
  const job = await submitPack(c.master, pack);
  const [status, results] = await waitJob(c.master, job);
  const log = await events(c.master, job);
  expect(status, JSON.stringify(log, null, 1)).toBe('ready');
  const got = new Map<string, number>();
  for (const { data } of await readDirResults(results, c.port)) {
    for (const row of data.toString().split('\n').filter(Boolean)) {
      const [w, n] = row.split(' ');
      expect(got.has(w)).toBe(false);
      got.set(w, Number(n));
    }
  }
  expect(Object.fromEntries(got)).toEqual(countWords(texts));
  expect(log.some(([, , m]) => m.includes('python worker: map task'))).toBe(true);
  expect(log.some(([, , m]) => m.startsWith('READY: Job finished in'))).toBe(true);
});
