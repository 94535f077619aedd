/** Features of the TypeScript worker through real jobs on a real 2-node cluster. */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Disco } from '../../src/index.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import { ByLetter, Chatty, PickyHost } from './fixtures/feature-jobs.js';
import { events, records } from './helpers.js';

let c: Cluster;
let disco: Disco;
beforeAll(async () => {
  c = await startCluster({ nodes: 2, cores: 1 });
  disco = new Disco(c.master);
});
afterAll(async () => {
  await c?.stop();
});

test('console.log in a job function becomes a MSG event', async () => {
  const job = await new Chatty({ master: disco }).run({ input: ['raw://alpha', 'raw://beta'] });
  await job.wait();
  const msgs = (await events(c.master, job.name)).map(([, , m]) => m).filter((m) => m.startsWith('MSG:'));
  expect(msgs).toEqual(expect.arrayContaining([expect.stringMatching(/^MSG: \[map:\d\] saw alpha$/)]));
  expect(msgs).toEqual(expect.arrayContaining([expect.stringMatching(/^MSG: \[map:\d\] saw beta$/)]));
});

test('custom partition, sorted reduce with out.add, thisPartition', async () => {
  const text = 'apple banana cherry avocado blueberry apple cranberry';
  const job = await new ByLetter({ master: disco }).run({ input: [`raw://${text}`] });
  const got = await records<string, number>(job);
  const want = new Map<string, number>();
  for (const w of text.split(' ')) {
    const k = `${w.charCodeAt(0) % 3}:${w}`;
    want.set(k, (want.get(k) ?? 0) + 1);
  }
  expect(new Map(got)).toEqual(want);
  // Within each reduce task (one per partition) keys arrive sorted.
  for (const p of ['0', '1', '2']) {
    const keys = got.map(([k]) => k).filter((k) => k.startsWith(`${p}:`));
    expect(keys).toEqual([...keys].sort());
  }
});

test('a data error on one node is retried on the other node, and the job succeeds', async () => {
  const badHost = c.nodes[0].host;
  const job = await new PickyHost({ master: disco }).run({
    input: ['raw://one', 'raw://two', 'raw://three'],
    params: { badHost },
  });
  const got = await records<string, string>(job);
  expect(new Map(got)).toEqual(
    new Map([
      ['one', `${job.name} 1`],
      ['two', `${job.name} 1`],
      ['three', `${job.name} 1`],
    ]),
  );
  const log = (await events(c.master, job.name)).map(([, host, m]) => `${host} ${m}`);
  const refused = log.filter((l) => l.includes(`refusing to work on ${badHost}`));
  // Every task that landed on the bad node was retried elsewhere (at least one did, with 3 tasks on 2 one-slot nodes).
  expect(refused.length).toBeGreaterThan(0);
  for (const l of refused) expect(l.startsWith(`${badHost} WARNING: [map:`)).toBe(true);
});
