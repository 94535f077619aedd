/**
 * Acceptance of issue #4 (the classic worker): the requirements no other end-to-end test runs
 * through a real job, on one real 2-node cluster — every task context function in map and
 * reduce tasks, `msg` pacing (and a flooding worker stopped by the node, as the original's
 * test_ratelimit), printing as events, `err` ending the job without a retry, `sumReduce` and
 * `nopReduce`, the deprecated `nrMaps` / `memSortLimit` / `nrReduces` (effects and warnings),
 * `scheduler.forceLocal` / `forceRemote`, `requiredModules` naming an installed package, an
 * external reduce using `copy_entry` and its `reduce` argument, and the exact printed output
 * of the tutorial word count and the chained jobs examples.
 *
 * Takes about 30 s (the `msg` pacing test alone waits 2 s by design).
 */
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { main as chained } from '../../examples/chained.js';
import { SAMPLE_TEXT, main as wordcount } from '../../examples/wordcount.js';
import { PACKAGE_ROOT } from '../../src/common/settings.js';
import { Disco, external, type Job, jobname, MAX_OOB_PUTS } from '../../src/index.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import {
  Flooding,
  NopReduced,
  Refusing,
  SortedCount,
  SumReduced,
  Talkative,
  TaskContext,
  type TaskSelf,
  Timed,
  WordsByLetter,
} from './fixtures/acceptance-jobs.js';
import { ValidatedWords } from './fixtures/installed-package-job.js';
import { compileExternalFixture, events, getJson, records } from './helpers.js';

let c: Cluster;
let disco: Disco;
let tmp: string;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'worker-acceptance-'));
  compileExternalFixture('longest_value', tmp);
  c = await startCluster({ nodes: 2, cores: 2 });
  disco = new Disco(c.master);
  // "Installed on the nodes": every node's data directory is below the cluster root, so a
  // package there is what `import 'zod'` finds from any job home (and the test's own copy is
  // not on that path).
  mkdirSync(path.join(c.root, 'node_modules'));
  symlinkSync(
    path.join(PACKAGE_ROOT, 'node_modules', 'zod'),
    path.join(c.root, 'node_modules', 'zod'),
    'dir',
  );
});
afterAll(async () => {
  await c?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function messages(job: Job): Promise<string[]> {
  return (await events(c.master, job.name)).map(([, , m]) => m);
}

/** A disco:// input: a file in node `i`'s data directory. */
function discoFile(i: number, name: string, text: string): string {
  const dir = path.join(c.nodes[i].root, 'data', 'acceptance');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, name), text);
  return `disco://${c.nodes[i].host}/disco/acceptance/${name}`;
}

test('thisPartition, thisHost, thisMaster, thisInputs, thisName in map and reduce tasks', async () => {
  const input = ['raw://zero', ['raw://one-a', 'raw://one-b'], 'raw://two'];
  const job = await new TaskContext({ master: disco }).run({ input });
  const got = new Map(await records<string, TaskSelf & { entry?: string }>(job));
  expect([...got.keys()].sort()).toEqual(['map:0', 'map:1', 'map:2', 'reduce:0', 'reduce:1']);
  const hosts = c.nodes.map((n) => n.host);
  const port = String(c.port);
  // A map task's partition is its task id: the index of its input, whose replicas it lists.
  input.forEach((spec, i) => {
    const m = got.get(`map:${i}`);
    const urls = typeof spec === 'string' ? [spec] : spec;
    expect(m?.entry).toBe(urls[0].slice('raw://'.length));
    expect(m?.inputs).toEqual([urls]);
  });
  const reduceInputs = got.get('reduce:0')?.inputs ?? [];
  for (const [k, s] of got) {
    expect(s.name, k).toBe(job.name);
    expect(hosts, k).toContain(s.host);
    expect(new URL(s.master).port, k).toBe(port);
    if (k.startsWith('reduce:')) {
      // Every reduce task reads the map phase's result indexes (one per node that ran maps).
      expect(s.inputs).toEqual(reduceInputs);
      expect(s.inputs.length).toBeGreaterThan(0);
      for (const replicas of s.inputs) {
        expect(replicas).toHaveLength(1);
        expect(replicas[0]).toMatch(/^dir:\/\//);
        expect(jobname(replicas[0])).toBe(job.name);
      }
    }
  }
  // thisMaster() is an address of the master that works: it answers for this job.
  const info = await getJson<{ active: string }>(
    `${got.get('map:0')?.master}/disco/ctrl/jobinfo?name=${encodeURIComponent(job.name)}`,
  );
  expect(info.active).toBe('ready');
});

test('msg is paced at 5 messages a second and none is lost; console and stdout writes become events', async () => {
  const count = 9;
  const job = await new Talkative({ master: disco }).run({ input: ['raw://t'], params: { count } });
  const [[, elapsed]] = await records<string, number>(job);
  const msgs = (await messages(job)).filter((m) => m.startsWith('MSG: [map:0] t '));
  expect(msgs).toEqual([
    ...Array.from({ length: count }, (_, i) => `MSG: [map:0] t note ${i}`),
    'MSG: [map:0] t via console.error',
    'MSG: [map:0] t via console.warn',
    'MSG: [map:0] t via stdout',
  ]);
  // 12 messages at 5 a second: the 11th cannot leave before 2 s after the first.
  expect(elapsed).toBeGreaterThanOrEqual(1900);
});

test('a worker flooding the protocol with MSGs is stopped by the node (the original test_ratelimit)', async () => {
  const job = await new Flooding({ master: disco }).run({ input: ['raw://x'], params: { count: 40 } });
  await expect(job.wait()).rejects.toThrow(/dead/);
  expect((await messages(job)).join('\n')).toMatch(/Worker is behaving badly: Sent \d+ events in a second/);
  expect((await job.jobinfo()).active).toBe('dead');
});

test('err() and a thrown DiscoError end the job at once with their message; the task is not retried', async () => {
  const [refused, raised, fine] = await Promise.all([
    new Refusing({ master: disco }).run({ input: ['raw://fine', 'raw://boom'] }),
    new Refusing({ master: disco }).run({ input: ['raw://raise'] }),
    new Refusing({ master: disco }).run({ input: ['raw://fine'] }),
  ]);
  const attemptsOf = async (job: Job, taskid: number) =>
    (
      await getJson<{ attempts: { mode: string; taskid: number }[] }>(
        `${c.master}/disco/api/v1/jobs/${encodeURIComponent(job.name)}/attempts`,
      )
    ).attempts.filter((a) => a.mode === 'map' && a.taskid === taskid);
  for (const [job, taskid, text] of [
    [refused, 1, 'cannot digest boom: refused by the job'],
    [raised, 0, 'cannot digest raise: raised by the job'],
  ] as const) {
    await expect(job.wait()).rejects.toThrow(/dead/);
    const failures = (await messages(job)).filter((m) => m.includes(text));
    expect(failures.length, job.name).toBeGreaterThan(0);
    // A retryable failure would be retried (the default max_failure_rate is practically unlimited).
    expect(await attemptsOf(job, taskid)).toHaveLength(1);
    if (job === refused) expect(failures[0]).not.toMatch(/\n\s+at /);
  }
  // The job module's imported constant is the worker API's.
  expect(await records(fine)).toEqual([['fine', MAX_OOB_PUTS]]);
});

test('sumReduce and nopReduce as the reduce of a job', async () => {
  const lines = ['a b a c', 'b a', 'c c c d'];
  const input = lines.map((l) => `raw://${l}`);
  const [summed, passed] = await Promise.all([
    new SumReduced({ master: disco }).run({ input }),
    new NopReduced({ master: disco }).run({ input }),
  ]);
  const counts = new Map<string, number>();
  for (const w of lines.join(' ').split(' ')) counts.set(w, (counts.get(w) ?? 0) + 1);
  const sums = await records<string, number>(summed);
  expect(sums).toHaveLength(counts.size);
  expect(new Map(sums)).toEqual(counts);
  const sortPairs = (a: [string, number][]) => [...a].sort((x, y) => (`${x}` < `${y}` ? -1 : 1));
  const want = lines.flatMap((l) => l.split(' ').map((w): [string, number] => [w, l.length]));
  expect(sortPairs(await records<string, number>(passed))).toEqual(sortPairs(want));
});

test('deprecated nrMaps, memSortLimit and nrReduces still take effect, with one DeprecationWarning each', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => {
    if (w.name === 'DeprecationWarning') warnings.push(w.message);
  };
  process.on('warning', onWarning);
  const words = Array.from({ length: 600 }, (_, i) => `w${(i * 7919) % 101}`).join(' ');
  try {
    const [oneAtATime, smallSort, threeReduces] = await Promise.all([
      new Timed({ master: disco }).run({
        input: ['raw://a', 'raw://b', 'raw://c', 'raw://d'],
        params: { ms: 250 },
        nrMaps: 1,
      }),
      new SortedCount({ master: disco }).run({ input: [`raw://${words}`], memSortLimit: 3000 }),
      new SumReduced({ master: disco }).run({ input: ['raw://x y z x', 'raw://y x'], nrReduces: 3 }),
    ]);
    // nrMaps: 1 → at most one task at once (the cluster has 4 slots).
    const spans = (await records<string, [number, number, string]>(oneAtATime)).map(([, s]) => s);
    expect(spans).toHaveLength(4);
    for (const [s] of spans) expect(spans.filter(([a, b]) => a <= s && s < b)).toHaveLength(1);
    // memSortLimit became the sort buffer: 600 records do not fit in 3,000 bytes.
    const counts = new Map<string, number>();
    for (const w of words.split(' ')) counts.set(w, (counts.get(w) ?? 0) + 1);
    expect(new Map(await records<string, number>(smallSort))).toEqual(counts);
    expect(await messages(smallSort)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/Sorting: input exceeds the sort buffer \(3000 bytes\)/),
      ]),
    );
    expect(new Map(await records<string, number>(threeReduces))).toEqual(
      new Map([
        ['x', 3],
        ['y', 2],
        ['z', 1],
      ]),
    );
    expect((await threeReduces.jobinfo()).redi).toEqual([0, 0, 3, 0]);
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', onWarning);
  }
  expect(warnings.filter((w) => w.includes("'nrMaps'"))).toEqual([
    "job option 'nrMaps' is deprecated; use 'scheduler.maxCores'",
  ]);
  expect(warnings.filter((w) => w.includes("'memSortLimit'"))).toEqual([
    "job option 'memSortLimit' is deprecated; use 'sortBufferSize'",
  ]);
  expect(warnings.filter((w) => w.includes("'nrReduces'"))).toEqual([
    "job option 'nrReduces' is deprecated; use 'partitions'",
  ]);
});

test('scheduler forceLocal runs tasks where their disco:// input is, forceRemote anywhere else', async () => {
  const input = [0, 1, 2].map((i) => discoFile(0, `place-${i}.txt`, `line ${i}`));
  const [local, remote] = await Promise.all([
    new Timed({ master: disco, name: 'ForcedLocal' }).run({ input, scheduler: { forceLocal: true } }),
    new Timed({ master: disco, name: 'ForcedRemote' }).run({ input, scheduler: { forceRemote: true } }),
  ]);
  const hostsOf = async (job: Job) =>
    (await records<string, [number, number, string]>(job)).map(([, [, , host]]) => host);
  expect(await hostsOf(local)).toEqual([c.nodes[0].host, c.nodes[0].host, c.nodes[0].host]);
  expect(await hostsOf(remote)).toEqual([c.nodes[1].host, c.nodes[1].host, c.nodes[1].host]);
});

test("requiredModules naming a package: left out of the job module's bundle, imported from the nodes' installation", async () => {
  const input = ['raw://good words Not 42'];
  const [named, bundled] = await Promise.all([
    new ValidatedWords({ master: disco, name: 'Installed' }).run({ input, requiredModules: ['zod'] }),
    new ValidatedWords({ master: disco, name: 'Bundled' }).run({ input }),
  ]);
  const want = [
    ['good', 'word'],
    ['words', 'word'],
    ['Not', 'not a word'],
    ['42', 'not a word'],
  ];
  expect(await records(named)).toEqual(want);
  expect(await records(bundled)).toEqual(want);
  /** The job module as the node unpacked it from the job home. */
  const bundleOf = (job: Job) => {
    for (const n of c.nodes) {
      const data = path.join(n.root, 'data');
      const hit = readdirSync(data, { recursive: true, encoding: 'utf8' }).find((p) =>
        p.endsWith(path.join(job.name, 'lib', 'job.mjs')),
      );
      if (hit) return readFileSync(path.join(data, hit), 'utf8');
    }
    throw new Error(`no job home of ${job.name} on any node`);
  };
  const withImport = bundleOf(named);
  const withPackage = bundleOf(bundled);
  expect(withImport).toMatch(/from\s*["']zod["']/);
  expect(withPackage).not.toMatch(/from\s*["']zod["']/);
  // zod's own code is in the second bundle only.
  expect(withPackage.length).toBeGreaterThan(withImport.length * 10);
});

test('an external reduce is started with "reduce" and keeps entries across read_kv() calls with copy_entry()', async () => {
  // One input, so the values of each key arrive in this order: the longest is never the last.
  const job = await new WordsByLetter({ master: disco }).run({
    input: ['raw://apricots apple ant bee blueberry banana cranberries cherry cat'],
    reduce: external([path.join(tmp, 'longest_value')]),
  });
  const got = (await records<Buffer, Buffer>(job)).map(([k, v]) => [k.toString(), v.toString()]);
  expect(got).toEqual([
    ['a', 'apricots'],
    ['b', 'blueberry'],
    ['c', 'cranberries'],
  ]);
  expect(await messages(job)).toEqual(
    expect.arrayContaining([expect.stringMatching(/longest_value: 3 keys/)]),
  );
});

test('the tutorial word count and the chained jobs examples print exactly what they should', async () => {
  const raw = 'the end of the tutorial';
  const printed: string[] = [];
  await wordcount([SAMPLE_TEXT, `raw://${raw}`], { master: disco, show: false, out: (l) => printed.push(l) });
  const counts = new Map<string, number>();
  for (const w of `${readFileSync(SAMPLE_TEXT, 'utf8')}\n${raw}`.split(/\s+/))
    if (w) counts.set(w, (counts.get(w) ?? 0) + 1);
  const top = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10);
  expect(printed).toHaveLength(11);
  expect(printed[0]).toMatch(new RegExp(`^WordCount@\\S+: ${counts.size} distinct words$`));
  expect(printed.slice(1)).toEqual(top.map(([w, n]) => `${String(n).padStart(6)}  ${w}`));

  const chainLines: string[] = [];
  const { name } = await chained({ master: disco, length: 3, out: (l) => chainLines.push(l) });
  // Two `raw://0` inputs, plus one per job in the chain.
  expect(chainLines).toEqual([name, '3\t', '3\t']);
  expect(name).toMatch(/^ChainJob@/);
});
