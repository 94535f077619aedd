/**
 * Out-of-band results and task profiling through real jobs on a real 2-node cluster: `put`
 * and `get` in map and reduce tasks and across jobs (the original tests/test_oob.py), the
 * key and count limits, `profile: true` with `profileStats`, the profile example, the CLI
 * commands, and purge deleting a job's OOB tag.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { main as profileExample } from '../../examples/profile.js';
import { PACKAGE_ROOT } from '../../src/common/settings.js';
import { DDFS, Disco, MAX_OOB_PUTS } from '../../src/index.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import { BadKey, ManyPuts, OobConsumer, OobProducer, Profiled } from './fixtures/oob-jobs.js';
import { events, records } from './helpers.js';

const run = promisify(execFile);
let c: Cluster;
let disco: Disco;
let tmp: string;
beforeAll(async () => {
  c = await startCluster({ nodes: 2, cores: 2 });
  disco = new Disco(c.master);
  tmp = mkdtempSync(path.join(os.tmpdir(), 'oob-profile-'));
});
afterAll(async () => {
  await c?.stop();
});

const LETTERS = 'abcdefgh'.split('');
/** The producer job of the chain test, for the CLI and purge tests. */
let producer = '';

/** The job's failure text (the FATAL message of the task that failed). */
async function failureOf(name: string): Promise<string> {
  const evs = (await events(c.master, name)).map(([, , m]) => m);
  return evs.filter((m) => /^(ERROR|FATAL|WARNING)/.test(m)).join('\n');
}

test('OOB: map puts, reduce reads them with get, a later job reads them by job name', async () => {
  const a = await new OobProducer({ master: disco }).run({ input: LETTERS.map((l) => `raw://${l}`) });
  const checked = await records<string, number>(a);
  // Every reduce task checked its share; together they checked every map entry.
  expect(checked.every(([k]) => k === 'checked')).toBe(true);
  expect(checked.reduce((n, [, v]) => n + v, 0)).toBe(LETTERS.length);
  producer = a.name;

  const b = await new OobConsumer({ master: disco }).run({
    input: ['raw://a', 'raw://c', 'raw://h'],
    params: { job: a.name },
  });
  const got = await records<string, string>(b);
  expect(got.sort()).toEqual([
    ['good', 'a'],
    ['good', 'c'],
    ['good', 'h'],
  ]);

  const want = [...LETTERS, ...LETTERS.map((l) => `${l}-len`), ...[0, 1, 2].map((p) => `reduce:${p}`)].sort();
  expect(await a.oobList()).toEqual(want);
  expect((await a.oobGet('c')).toString()).toBe('value:c');
  expect([...(await disco.oobGet(a.name, 'reduce:2'))].map((x) => String.fromCharCode(x)).join('')).toBe(
    'value:reduce:2',
  );
  expect([...(await a.oobGet('h-len'))]).toEqual([1]);
  await expect(a.oobGet('nope')).rejects.toThrow(/has no out-of-band result "nope"/);
  await expect(disco.oobList('NoSuchJob@1:2:3')).rejects.toThrow(/has no out-of-band results/);
  await expect(disco.oobGet('NoSuchJob@1:2:3', 'c')).rejects.toThrow(/has no out-of-band results/);
  await expect(disco.profileStats('NoSuchJob@1:2:3')).rejects.toThrow(/has no out-of-band results/);
}, 60_000);

test('OOB: several keys per task over several tasks (the original test_large)', async () => {
  const job = await new ManyPuts({ master: disco }).run({
    input: ['raw://0', 'raw://1', 'raw://2', 'raw://3'],
    params: { count: 10 },
  });
  expect(await job.wait()).toEqual([]);
  const keys = await job.oobList();
  const want = [0, 1, 2, 3].flatMap((i) => Array.from({ length: 10 }, (_, j) => `${i}-${j}`));
  expect(keys).toEqual(want.sort());
  const values = await Promise.all(keys.map(async (k) => [k, (await job.oobGet(k)).toString()]));
  expect(values).toEqual(keys.map((k) => [k, `val:${k}`]));
}, 60_000);

test('OOB: a key with invalid characters fails the job with a clear message', async () => {
  const job = await new BadKey({ master: disco }).run({ input: ['raw://x'] });
  await expect(job.wait()).rejects.toThrow();
  const text = await failureOf(job.name);
  expect(text).toContain('OOB key "bad key/x" contains invalid characters (" " "/")');
  expect(text).toContain('use only letters, digits and _ - @ :');
}, 60_000);

test(`OOB: more than ${MAX_OOB_PUTS} puts in a task fail it, naming the limit`, async () => {
  const t0 = Date.now();
  const job = await new ManyPuts({ master: disco }).run({
    input: ['raw://x'],
    params: { count: MAX_OOB_PUTS + 1 },
  });
  await expect(job.wait()).rejects.toThrow();
  const text = await failureOf(job.name);
  expect(text).toContain(`a task may put at most ${MAX_OOB_PUTS} values`);
  expect(text).toContain('would be number 1001');
  expect(text).toContain('normal output stream');
  // The 1,000 values the task did put are there (the failing task's puts are tagged too).
  const keys = await job.oobList();
  expect(keys).toHaveLength(MAX_OOB_PUTS);
  expect(keys).not.toContain(`x-${MAX_OOB_PUTS}`);
  console.log(`1,000 OOB puts and the failure took ${Date.now() - t0} ms`);
}, 90_000);

test('profile: true stores a profile per task; profileStats finds the slow function', async () => {
  const input = ['raw://one', 'raw://two', 'raw://three'];
  const job = await new Profiled({ master: disco }).run({ input });
  const results = await records<string, number>(job);
  expect(results.sort()).toEqual([
    ['one', 1],
    ['three', 1],
    ['two', 1],
  ]);
  const keys = (await job.oobList()).filter((k) => k.startsWith('profile-'));
  expect(keys.filter((k) => /^profile-map:\d+-/.test(k))).toHaveLength(3);
  expect(keys.filter((k) => /^profile-reduce:\d+-/.test(k))).toHaveLength(2);

  const save = path.join(tmp, 'all.cpuprofile');
  const all = await job.profileStats({ save });
  expect(all.sources).toHaveLength(5);
  const slow = all.functions.find((f) => f.name === 'deliberatelySlow');
  expect(slow).toBeDefined();
  // Three map tasks spin 150 ms each (450 ms); on a busy machine sampling sees less of it.
  expect(slow!.totalMs).toBeGreaterThan(100);
  expect(slow!.selfMs).toBeGreaterThan(0);
  // Of the job module's own functions, the spinning one has the most self time.
  const own = all.functions.filter((f) => f.url.endsWith('job.mjs'));
  expect(own.reduce((x, y) => (y.selfMs > x.selfMs ? y : x)).name).toBe('deliberatelySlow');
  const map = all.functions.find((f) => f.name === 'map' && f.totalMs >= slow!.totalMs);
  expect(map, 'map calls deliberatelySlow, so its total time includes it').toBeDefined();
  const totals = all.functions.map((f) => f.totalMs);
  expect(totals).toEqual([...totals].sort((x, y) => y - x));
  const selfs = all.sort('self').functions.map((f) => f.selfMs);
  expect(selfs).toEqual([...selfs].sort((x, y) => y - x));
  expect(all.toString()).toMatch(/deliberatelySlow \(job\.mjs:\d+\)/);

  const saved = JSON.parse(readFileSync(save, 'utf8'));
  expect(Array.isArray(saved.nodes) && saved.nodes.length > 0).toBe(true);
  expect(saved.samples.length).toBe(all.samples);
  expect(saved.timeDeltas.length).toBe(saved.samples.length);
  expect(saved.endTime).toBeGreaterThan(saved.startTime);

  const reduce = await job.profileStats({ mode: 'reduce', sortBy: 'self' });
  expect(reduce.sources).toHaveLength(2);
  expect(reduce.sources.every((s) => s.startsWith('profile-reduce:'))).toBe(true);
  expect(reduce.functions.find((f) => f.name === 'deliberatelySlow')).toBeUndefined();
  await expect(disco.profileStats(producer)).rejects.toThrow(/no profile data.*profile: true/);
}, 60_000);

test('the profile example runs and prints a table', async () => {
  let printed = '';
  const table = await profileExample([], { master: disco, limit: 5, out: (t) => (printed += t) });
  expect(printed).toMatch(/^ProfileJob@/);
  expect(table).toMatch(/^\d+ samples in [\d.]+ s from 1 task profile\n/);
  expect(table).toMatch(/Ordered by: cumulative time/);
  const rows = table.trimEnd().split('\n').slice(4);
  expect(rows).toHaveLength(5);
  for (const r of rows) expect(r).toMatch(/^\s+\d+\s+[\d.]+\s+[\d.]+%\s+[\d.]+\s+[\d.]+%\s+\S/);
}, 60_000);

test('the disco command line: oob list, oob get, pstats', async () => {
  const env = { ...process.env, ...c.env, DISCO_ROOT: path.join(c.root, 'cli') };
  const cli = path.join(PACKAGE_ROOT, 'bin', 'disco');
  const list = await run(cli, ['oob', 'list', producer], { env });
  expect(list.stdout.trim().split('\n')).toEqual(await disco.oobList(producer));
  // The original's spelling lists too.
  expect((await run(cli, ['oob', producer], { env })).stdout).toBe(list.stdout);
  const get = await run(cli, ['oob', 'get', 'reduce:1', producer], { env });
  expect(get.stdout).toBe('value:reduce:1\n');

  const profiled = await new Profiled({ master: c.master }).run({ input: ['raw://x'] });
  await profiled.wait();
  const out = path.join(tmp, 'cli.cpuprofile');
  const ps = await run(
    cli,
    ['pstats', profiled.name, '--mode', 'map', '-k', 'tottime', '-n', '4', '-o', out],
    {
      env,
    },
  );
  const lines = ps.stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/samples in .* from 1 task profile$/);
  expect(lines[1]).toMatch(/^Ordered by: self time; 4 of \d+ functions shown$/);
  expect(lines.slice(4)).toHaveLength(4);
  expect(lines.slice(4).some((l) => /deliberatelySlow/.test(l))).toBe(true);
  expect(JSON.parse(readFileSync(out, 'utf8')).nodes.length).toBeGreaterThan(0);

  const bad = await run(cli, ['pstats', profiled.name, '-k', 'calls'], { env }).catch(
    (e: { code: number; stderr: string }) => e,
  );
  expect((bad as { code: number }).code).not.toBe(0);
  expect((bad as { stderr: string }).stderr).toMatch(/unknown sort key "calls"/);
}, 60_000);

test('purging a job deletes its OOB tag', async () => {
  const ddfs = new DDFS(c.master);
  const tag = `disco:job:oob:${producer}`;
  expect(await ddfs.exists(tag)).toBe(true);
  await disco.purge(producer);
  expect(await ddfs.exists(tag)).toBe(false);
  expect(await ddfs.list('disco:job:oob:')).not.toContain(tag);
  await expect(disco.oobList(producer)).rejects.toThrow(/has no out-of-band results/);
}, 30_000);
