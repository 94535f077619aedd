/**
 * Issue #4: a reduce with `sort: true` and a 16 MB sort buffer over 10 million records, on a
 * real cluster. Checks that the reduce gets every record once (count and checksum), in key
 * order with equal keys adjacent, that the sort went to disk, and that the worker's memory
 * stayed far below what holding the records would take.
 *
 * Memory is measured inside the worker: the reduce reports `process.resourceUsage().maxRSS`,
 * the peak resident set of its process over its whole life (the kernel's high-water mark, as
 * /proc/<pid>/status VmHWM) — taken after the last record was reduced, so the whole sort and
 * merge are included (and, when the pooled worker ran map tasks before, those too: an upper
 * bound of the reduce's own peak).
 *
 * The records weigh about 685 MiB encoded (as the sort holds and spills them; as JavaScript
 * objects several times more): the worker's peak must stay under half of that — it is about
 * 200 MiB (Node.js itself, a 16 MB sort buffer and its indexes, merge buffers).
 *
 * Takes about 40–60 s (10 million records are generated, partitioned, sorted and merged).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Disco } from '../../src/index.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import { BigSort, checksum, KEY_SPACE, keyOf, type SortSummary, valueFor } from './fixtures/big-sort-jobs.js';
import { events, getJson } from './helpers.js';

const RECORDS = 10_000_000;
const INPUTS = 4;

let c: Cluster;
beforeAll(async () => {
  c = await startCluster({ nodes: 1, cores: 2 });
});
afterAll(async () => {
  await c?.stop();
});

test('a sorted reduce over 10 million records: all there, in order, in bounded memory', async () => {
  const job = await new BigSort({ master: new Disco(c.master) }).run({
    input: Array.from({ length: INPUTS }, (_, i) => `raw://${i}`),
    params: { perInput: RECORDS / INPUTS },
  });
  const results = await job.wait({ timeout: 170_000 });
  const out: [string, SortSummary][] = [];
  for await (const kv of job.resultIterator<string, SortSummary>(results)) out.push(kv);
  expect(out).toHaveLength(1);
  const s = out[0][1];

  // What the generator made, computed here independently of the cluster.
  let sum = 0;
  let min = keyOf(0);
  let max = min;
  // Their size in the record format (MessagePack: a one-byte header per short string).
  let encoded = 0;
  for (let g = 0; g < RECORDS; g++) {
    const k = keyOf(g);
    const v = valueFor(g);
    sum = checksum(sum, k, v);
    encoded += 2 + k.length + v.length;
    if (k < min) min = k;
    if (k > max) max = k;
  }
  expect(s.records).toBe(RECORDS);
  expect(s.outOfOrder).toBe(0);
  // One group per distinct key: equal keys came together.
  expect(s.groups).toBe(Math.min(RECORDS, KEY_SPACE));
  expect(s.firstKey).toBe(min);
  expect(s.lastKey).toBe(max);
  expect(s.checksum).toBe(sum);

  // The sort spilled to disk: its report (a task event) says how much.
  const sorted = (await events(c.master, job.name))
    .map(([, , m]) => m)
    .find((m) => /\[reduce:0\] Sorted \d+ entries/.test(m));
  expect(sorted).toBeDefined();
  const spilled = Number(/\((\d+) bytes\)/.exec(sorted!)?.[1]);
  const runs = Number(/(\d+) runs/.exec(sorted!)?.[1]);
  // Every record went to a run file at least once.
  expect(spilled).toBeGreaterThanOrEqual(encoded);
  expect(runs).toBeGreaterThan(10);
  // Holding the records would take at least their encoded size (as objects, several times
  // more); the worker's peak stays well under half of it (and under 300 MB in all).
  const peak = s.maxRssKb * 1024;
  const attempts = (
    await getJson<{ attempts: { mode: string; start: number; end: number }[] }>(
      `${c.master}/disco/api/v1/jobs/${encodeURIComponent(job.name)}/attempts`,
    )
  ).attempts;
  const span = (mode: string) => {
    const a = attempts.filter((x) => x.mode === mode);
    return ((Math.max(...a.map((x) => x.end)) - Math.min(...a.map((x) => x.start))) / 1000).toFixed(1);
  };
  console.log(
    `big sort: map phase ${span('map')} s, reduce ${span('reduce')} s; ` +
      `${(encoded / 2 ** 20).toFixed(0)} MiB of records, ${runs} runs, ` +
      `${(spilled / 2 ** 20).toFixed(0)} MiB spilled, worker peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`,
  );
  expect(peak).toBeLessThan(encoded / 2);
  expect(peak).toBeLessThan(300 * 2 ** 20);
  await job.purge();
}, 180_000);
