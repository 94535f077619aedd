/**
 * The TypeScript worker end to end: every example job on a real 2-node cluster, through the
 * library and through the `disco` command line, checked against plain computations here.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { main as chained } from '../../examples/chained.js';
import { main as grep } from '../../examples/grep.js';
import { main as join, parseCsvRow, SET_A, SET_B } from '../../examples/join.js';
import { SAMPLE_TEXT, WordCount } from '../../examples/wordcount.js';
import { PACKAGE_ROOT, Settings } from '../../src/common/settings.js';
import { DDFS } from '../../src/ddfs/client/ddfs.js';
import { Disco } from '../../src/index.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import { tabCounts } from './helpers.js';

const run = promisify(execFile);
let c: Cluster;
let disco: Disco;
beforeAll(async () => {
  c = await startCluster({ nodes: 2, cores: 2 });
  disco = new Disco(c.master);
});
afterAll(async () => {
  await c?.stop();
});

function referenceCounts(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const w of text.split(/\s+/)) if (w) m.set(w, (m.get(w) ?? 0) + 1);
  return m;
}

test('word count over a file and raw inputs equals a plain reference count', async () => {
  const raw = ['the cat and the hat', 'naïve café ünïcode — the end'];
  const job = await new WordCount({ master: disco }).run({
    input: [SAMPLE_TEXT, ...raw.map((t) => `raw://${t}`)],
    partitions: 3,
  });
  const results = await job.wait();
  const got = new Map<string, number>();
  for await (const [w, n] of job.resultIterator<string, number>(results)) {
    expect(got.has(w), `duplicate ${w}`).toBe(false);
    got.set(w, n);
  }
  const want = referenceCounts(`${readFileSync(SAMPLE_TEXT, 'utf8')}\n${raw.join('\n')}`);
  expect(got.size).toBe(want.size);
  expect(Object.fromEntries(got)).toEqual(Object.fromEntries(want));
  const info = await job.jobinfo();
  expect(info.mapi).toEqual([0, 0, 3, 0]);
  expect(info.redi).toEqual([0, 0, 3, 0]);
});

test('word count over a tag of `ddfs chunk` records counts the same words', async () => {
  const ddfs = new DDFS(c.master, { settings: new Settings({ DISCO_PORT: String(c.port) }, {}, {}) });
  await ddfs.chunk('examples:sample', [SAMPLE_TEXT], { chunkSize: 4096 });
  expect((await ddfs.urls('examples:sample')).length).toBeGreaterThan(1);
  const job = await new WordCount({ master: disco }).run({ input: ['tag://examples:sample'] });
  const got = new Map<string, number>();
  for await (const [w, n] of job.resultIterator<string, number>(await job.wait())) got.set(w, n);
  expect(Object.fromEntries(got)).toEqual(
    Object.fromEntries(referenceCounts(readFileSync(SAMPLE_TEXT, 'utf8'))),
  );
});

test('chained jobs: each job reads the previous results', async () => {
  const { records } = await chained({ master: disco, length: 4, out: () => {} });
  expect(records).toEqual([
    [4, ''],
    [4, ''],
  ]);
});

test('grep: the pattern travels in params', async () => {
  const matches = await grep('harbour|lantern', [SAMPLE_TEXT], { master: disco, flags: 'i', out: () => {} });
  const want = readFileSync(SAMPLE_TEXT, 'utf8')
    .split('\n')
    .filter((l) => /harbour|lantern/i.test(l));
  expect(matches.map(([, line]) => line).sort()).toEqual(want.sort());
  expect(want.length).toBeGreaterThan(0);
});

test('inner join with sort and two partitions', async () => {
  const rows = await join([SET_A, SET_B], { master: disco, out: () => {} });
  const table = (f: string) =>
    new Map(
      readFileSync(f, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const r = parseCsvRow(l);
          return [r[0], r.slice(1)] as const;
        }),
    );
  const a = table(SET_A);
  const b = table(SET_B);
  const want = [...a.keys()].filter((k) => b.has(k)).map((k) => [k, ...[...a.get(k)!, ...b.get(k)!].sort()]);
  const got = rows.map(([k, ...fields]) => [k, ...fields.sort()]);
  expect(got.sort()).toEqual(want.sort());
});

test('the disco command line runs a job module and prints its results', async () => {
  const env = { ...process.env, ...c.env, DISCO_ROOT: path.join(c.root, 'cli') };
  const disco = path.join(PACKAGE_ROOT, 'bin', 'disco');
  const text = 'one two two three three three';
  const sub = await run(disco, ['run', 'examples/wordcount.ts', `raw://${text}`, '--wait'], {
    env,
    cwd: PACKAGE_ROOT,
  });
  const name = sub.stdout.trim().split('\n')[0];
  expect(name).toMatch(/^WordCount@/);
  const res = await run(disco, ['results', '@?WordCount'], { env, cwd: PACKAGE_ROOT });
  const got = tabCounts(res.stdout);
  expect(got).toEqual({ one: 1, two: 2, three: 3 });
  // A failing command exits non-zero with a one-line reason.
  const bad = await run(disco, ['info', 'NoSuchJob@1:2:3'], { env }).catch(
    (e: { code: number; stderr: string }) => e,
  );
  expect((bad as { code: number }).code).not.toBe(0);
});
