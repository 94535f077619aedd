/**
 * External programs as map and reduce (docs/external.md) on a real cluster: C programs built
 * here with gcc against ext/disco.c, a shell script, and TypeScript halves from
 * fixtures/external-jobs.ts. Results are checked against plain computations.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  compile as compileExample,
  main as externalWordCount,
  SAMPLE_TEXT,
} from '../../examples/external/wordcount.js';
import { PACKAGE_ROOT } from '../../src/common/settings.js';
import { Disco, external, type Job } from '../../src/index.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import {
  CombinedCounts,
  LinesToExternal,
  PartitionOne,
  RedPrefix,
  SumCounts,
  WordsToExternal,
} from './fixtures/external-jobs.js';
import { compileExternalFixture, events, records, tabCounts } from './helpers.js';

const run = promisify(execFile);
const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'external');
const PARAMS = { test1: '1,2,3', 'one two three': 'dim\ndam\n', dummy: 'value' };

let c: Cluster;
let disco: Disco;
let tmp: string;
const bin = (name: string) => path.join(tmp, name);

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'disco-ext-test-'));
  for (const name of ['params_test', 'raw_params', 'failing']) compileExternalFixture(name, tmp);
  // The usual way to give a program its environment: a shell script runs the real binary,
  // which travels as a supporting file next to it.
  writeFileSync(bin('wrapper.sh'), '#!/bin/sh\nexec ./params_test "$@"\n', { mode: 0o755 });
  c = await startCluster({ nodes: 1, cores: 2 });
  disco = new Disco(c.master);
});
afterAll(async () => {
  await c?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function messages(job: Job): Promise<string> {
  return (await events(c.master, job.name)).map(([, , m]) => m).join('\n');
}

/** Run a job that must fail; returns its event log. */
async function failure(job: Job): Promise<string> {
  await expect(job.wait()).rejects.toThrow(/dead/);
  return messages(job);
}

test('the C word count map of the example + a TypeScript reduce equals a reference count', async () => {
  const raw = 'The cat\tand THE hat  the end';
  const counts = await externalWordCount([SAMPLE_TEXT, `raw://${raw}`], {
    master: disco,
    lowercase: true,
    out: () => {},
  });
  const text = `${readFileSync(SAMPLE_TEXT, 'utf8')}\n${raw}`.replace(/[A-Z]/g, (ch) => ch.toLowerCase());
  const want = new Map<string, number>();
  for (const w of text.split(/[ \t\n\v\f\r]+/)) if (w) want.set(w, (want.get(w) ?? 0) + 1);
  expect(counts.length).toBe(want.size);
  expect(new Map(counts)).toEqual(want);
});

test('an external map with a combiner, a partition function or neither: the same counts, partitions as asked', async () => {
  const program = compileExample();
  const lines = ['the cat and the hat', '', 'a  b\ta the end', 'naïve café the'];
  const want = new Map<string, number>();
  for (const w of lines.join(' ').split(/[ \t]+/)) if (w) want.set(w, (want.get(w) ?? 0) + 1);
  const input = lines.map((l) => `raw://${l}`);
  // Without either, results go to the outputs as bytes; with one, as Buffers through it.
  const plain = await new SumCounts({ master: disco }).run({
    input,
    map: external([program]),
    partitions: 3,
  });
  const combined = await new CombinedCounts({ master: disco }).run({ input, map: external([program]) });
  const one = await new PartitionOne({ master: disco }).run({ input, map: external([program]) });
  for (const job of [plain, combined, one]) expect(new Map(await records<string, number>(job))).toEqual(want);
  // Every word went to partition 1: one reduce had them all.
  const perResult = await Promise.all((await one.wait()).map(async (r) => (await records(one, [r])).length));
  expect(perResult.filter((n) => n > 0)).toEqual([want.size]);
});

test('disco run submits the example module (static map = external([...])) and its results print', async () => {
  compileExample(); // where the example's ExternalWordCount looks for the program
  const env = { ...process.env, ...c.env, DISCO_ROOT: path.join(c.root, 'cli') };
  const disco = path.join(PACKAGE_ROOT, 'bin', 'disco');
  const cli = (args: string[]) => run(disco, args, { env, cwd: PACKAGE_ROOT });
  const sub = await cli([
    'run',
    'examples/external/wordcount.ts',
    'raw://one two two three three three',
    '--wait',
  ]);
  expect(sub.stdout.trim().split('\n')[0]).toMatch(/^ExternalWordCount@/);
  const res = await cli(['results', '@?ExternalWordCount']);
  const got = tabCounts(res.stdout);
  expect(got).toEqual({ one: 1, two: 2, three: 3 });
});

test('dictionary extParams reach read_parameters(); **<MSG> lines become events; supporting files', async () => {
  const inputs = ['ape', 'cat', 'dog'];
  const job = await new RedPrefix({ master: disco }).run({
    input: inputs.map((i) => `raw://test_${i}`),
    map: external([bin('wrapper.sh'), bin('params_test')]),
    extParams: PARAMS,
  });
  const got = (await records<string, string>(job)).sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  expect(got).toEqual(inputs.flatMap((i) => Array(3).fill(['red_dkey', `red_test_${i}`])));
  const log = await messages(job);
  expect(log.match(/All 3 parameters ok!/g)?.length).toBe(3);
});

test('an external reduce gets every pair and answers after its input ended', async () => {
  const lines = ['test_ape', 'test_cat', 'test_dog', 'naïve'];
  const job = await new LinesToExternal({ master: disco }).run({
    input: lines.map((l) => `raw://${l}`),
    reduce: external([bin('params_test')]),
    extParams: PARAMS,
  });
  const sum = String([...Buffer.from(lines.join(''))].reduce((s, b) => s + b, 0));
  const got = await records<Buffer, Buffer>(job);
  expect(got.map(([k, v]) => [k.toString(), v.toString()])).toEqual(Array(10).fill([sum, sum]));
});

test('extParams as a raw string is given to the program as it is', async () => {
  const job = await new RedPrefix({ master: disco }).run({
    input: ['raw://one', 'raw://two'],
    map: external([bin('raw_params')]),
    extParams: 'pre:\n',
  });
  const got = (await records<string, string>(job)).map(([k]) => k).sort();
  expect(got).toEqual(['red_pre:one', 'red_pre:two']);
});

test('a shell script works as an external reduce', async () => {
  const lines = ['to be or not', 'to be'];
  const job = await new WordsToExternal({ master: disco }).run({
    input: lines.map((l) => `raw://${l}`),
    reduce: external([path.join(FIXTURES, 'count_bytes.sh')]),
  });
  // Each pair on the program's stdin: two sizes, the word, its length as text.
  const words = lines.join(' ').split(' ');
  const bytes = words.reduce((s, w) => s + 8 + Buffer.byteLength(w) + String(w.length).length, 0);
  const got = await records<Buffer, Buffer>(job);
  expect(got.map(([k, v]) => [k.toString(), v.toString()])).toEqual([['bytes', String(bytes)]]);
  expect(await messages(job)).toContain(`shell reduce (params: 0) read ${bytes} bytes`);
});

test('**<ERR> fails the job with its text', async () => {
  const job = await new RedPrefix({ master: disco }).run({
    input: ['raw://fine', 'raw://boom'],
    map: external([bin('failing')]),
    extParams: { how: 'err' },
  });
  expect(await failure(job)).toContain('cannot digest boom: this input is explosive');
});

test('a crashing program fails the job with its signal or exit code and its last stderr lines', async () => {
  const run = (how: string) =>
    new RedPrefix({ master: disco }).run({
      input: ['raw://boom'],
      map: external([bin('failing')]),
      extParams: { how },
    });
  const [segv, exit3, short] = await Promise.all([run('segv'), run('exit'), run('short')]);
  expect(await failure(segv)).toMatch(/external map program failing was killed by signal SIGSEGV/);
  const log = await failure(exit3);
  expect(log).toMatch(/external map program failing exited with code 3; its last stderr lines:/);
  expect(log).toContain('about to give up on boom');
  expect(await failure(short)).toMatch(/answered 0 of 1 inputs/);
});
