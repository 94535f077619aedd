/**
 * Workers built by extending `Worker`, on a real 2-node cluster: a custom worker's job pack
 * (its job dict field, environment, job home file, fields) and tasks (map per input, one
 * reduce); failures; reading raw and record results with custom readers and input streams;
 * and `disco run module.ts:ClassName` for Job subclasses and Worker classes.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  LineStats,
  LineStatsJob,
  type LineStatsRecord,
  main as lineStatsMain,
  SAMPLE_TEXT,
  STOPWORDS,
} from '../../examples/custom-worker.js';
import { PACKAGE_ROOT } from '../../src/common/settings.js';
import { chainReader, classicIterator, Disco, Job, resultIterator } from '../../src/index.js';
import { WORKER_RUNTIME_VERSION } from '../../src/protocol/jobdata.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import {
  ConsonantCount,
  Exploding,
  GzipUpper,
  OobLines,
  ParityWords,
  ParityWordsMapOnly,
  VowelCount,
  WhereAmI,
  WordsByParity,
} from './fixtures/custom-worker-jobs.js';
import { events } from './helpers.js';

const exec = promisify(execFile);
const FIXTURE = path.join('test', 'e2e', 'fixtures', 'custom-worker-jobs.ts');
let c: Cluster;
let disco: Disco;
beforeAll(async () => {
  c = await startCluster({ nodes: 2, cores: 2 });
  disco = new Disco(c.master);
});
afterAll(async () => {
  await c?.stop();
});

/** What LineStats should report for `text`, computed here without the worker's code. */
function referenceStats(text: string, stop: readonly string[], word = /[\p{L}\p{N}']+/gu, fold = true) {
  const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
  const stopSet = new Set(stop.map((s) => (fold ? s.toLowerCase() : s)));
  let words = 0;
  for (const l of lines)
    for (const [w] of l.matchAll(word)) if (!stopSet.has(fold ? w.toLowerCase() : w)) words++;
  return { lines: lines.length, words, longest: Math.max(...lines.map((l) => [...l].length)) };
}

async function collect<K, V>(urls: string[], opts: Parameters<typeof resultIterator>[1] = {}) {
  const out: [K, V][] = [];
  for await (const kv of resultIterator<K, V>(urls, { master: c.master, settings: disco.settings, ...opts }))
    out.push(kv);
  return out;
}

test('a custom worker runs a multi-input job: a map task per input, its own reduce, dict field, env and job home file', async () => {
  const texts = ['The cat and the hat\nsat on a mat', "Ünïcode — café, naïve; it's fine\n\nthe end\n"];
  const lines: string[] = [];
  const records = await lineStatsMain([SAMPLE_TEXT, ...texts.map((t) => `raw://${t}`)], {
    master: disco,
    out: (l) => lines.push(l),
  });
  const want = [readFileSync(SAMPLE_TEXT, 'utf8'), ...texts].map((t) => referenceStats(t, STOPWORDS));
  const total = {
    lines: want.reduce((n, s) => n + s.lines, 0),
    words: want.reduce((n, s) => n + s.words, 0),
    longest: Math.max(...want.map((s) => s.longest)),
  };
  expect(records).toEqual([...want.map((s, i) => [i, s]), ['total', total]]);

  // The pack: the worker's own job dict field, the runtime and warm-pool marker, its env, its file.
  const name = lines[0];
  expect(name).toMatch(/^LineStatsJob@/);
  const pack = await disco.jobpack(name);
  expect(pack.jobdict.line_stats).toEqual({ format: 1, inputs: 3 });
  expect(pack.jobdict['map?']).toBe(true);
  expect(pack.jobdict['reduce?']).toBe(true);
  expect(pack.jobdict.ts_worker).toBe(WORKER_RUNTIME_VERSION);
  expect(pack.jobenvs.LINE_STATS_WORD).toBe("[\\p{L}\\p{N}']+");
  const info = await disco.jobinfo(name);
  expect(info.mapi).toEqual([0, 0, 3, 0]);
  expect(info.redi).toEqual([0, 0, 1, 0]);
  const msgs = (await events(c.master, name)).map(([, , m]) => m);
  expect(msgs).toContain(`MSG: [map:1] input 1: ${want[1].lines} lines, ${want[1].words} words`);
});

test("a worker's fields travel to the nodes; the job's jobenvs win over the worker's", async () => {
  const text = 'The the THE a-b';
  const [exact, overridden] = await Promise.all([
    new Job({
      master: disco,
      worker: new LineStats({ foldCase: false, stopwords: ['the'] }),
      input: [`raw://${text}`],
    }).run(),
    new LineStatsJob({ master: disco }).run({
      input: [`raw://${text}`],
      jobenvs: { LINE_STATS_WORD: '[a-z]' },
    }),
  ]);
  expect(exact.name).toMatch(/^LineStats@/);
  const stats = (await collect<number | string, LineStatsRecord>(await exact.wait())).find(([k]) => k === 0);
  // Case kept: only the lower-case 'the' is a stop word ('The', 'THE', 'a', 'b' count).
  expect(stats?.[1]).toEqual(referenceStats(text, ['the'], /[\p{L}\p{N}']+/gu, false));
  expect(stats?.[1].words).toBe(4);
  const letters = (await collect<number | string, LineStatsRecord>(await overridden.wait())).find(
    ([k]) => k === 0,
  );
  // One word per lower-case letter; the stop word 'a' (folded: also 'A') is not counted.
  expect(letters?.[1]).toEqual(referenceStats(text, STOPWORDS, /[a-z]/g));
});

test('partitioned map output of a custom worker: each reduce task reads its own partition', async () => {
  const texts = ['one two three four', 'five six seven two'];
  const job = await new Job({
    master: disco,
    worker: new ParityWords(),
    input: texts.map((t) => `raw://${t}`),
  }).run();
  const got = await collect<string, number>(await job.wait());
  const want = new Map<string, number>();
  for (const w of texts.join(' ').split(' ')) {
    const k = `${w.length % 2}:${w}`;
    want.set(k, (want.get(k) ?? 0) + 1);
  }
  expect(new Map(got)).toEqual(want);
  expect(got).toHaveLength(want.size);
  expect((await job.jobinfo()).redi).toEqual([0, 0, 2, 0]);
});

test('put()/get() in a custom worker: OOB values stored by map tasks, read by the reduce and the client', async () => {
  const texts = ['a\nb\nc', 'd\ne', 'f'];
  const job = await new Job({
    master: disco,
    worker: new OobLines(),
    input: texts.map((t) => `raw://${t}`),
  }).run();
  const got = new Map(await collect<number, number>(await job.wait()));
  expect(got).toEqual(
    new Map([
      [0, 3],
      [1, 2],
      [2, 1],
    ]),
  );
  expect((await disco.oobList(job.name)).sort()).toEqual(['lines-0', 'lines-1', 'lines-2']);
  expect((await disco.oobGet(job.name, 'lines-1')).toString()).toBe('2');
});

test('save: true in a custom worker: its map output is saved to DDFS; partitioned map output is refused as in a classic job', async () => {
  const saved = await new Job({ master: disco, worker: new WhereAmI(), input: ['raw://a', 'raw://b'] }).run({
    save: true,
  });
  const results = await saved.wait();
  expect(results).toEqual([`tag://disco:job:results:${saved.name}`]);
  // One record per map task (the value names the program that ran it).
  expect((await collect<number, string>(results)).map(([k]) => k).sort()).toEqual([0, 1]);

  const input = ['raw://one two three'];
  const custom = await new Job({ master: disco, worker: new ParityWordsMapOnly(), input }).run({
    save: true,
  });
  const classic = await new WordsByParity({ master: disco }).run({ input, save: true });
  const failure = async (job: Job) => {
    await expect(job.wait()).rejects.toThrow(/dead/);
    return (await events(c.master, job.name))
      .map(([, , m]) => m)
      .find((m) => m.startsWith('ERROR: Job failed'));
  };
  const refused = /Storing partitioned outputs in DDFS is not yet supported/;
  expect(await failure(custom)).toMatch(refused);
  expect(await failure(classic)).toMatch(refused);
  // The refused outputs were dropped, not left in the job's home.
  const left = c.nodes.flatMap((n) =>
    (readdirSync(n.root, { recursive: true }) as string[]).filter(
      (f) => f.includes(custom.name) && /map(out|-)|part/.test(path.basename(f)),
    ),
  );
  expect(left).toEqual([]);
});

test('warmStart false: the tasks run in processes started from the job home', async () => {
  const job = await new Job({
    master: disco,
    worker: Object.assign(new WhereAmI(), { cold: true }),
    input: ['raw://a', 'raw://b'],
  }).run();
  expect((await job.jobpack()).jobdict.ts_worker).toBeUndefined();
  const got = await collect<number, string>(await job.wait());
  expect(got.sort()).toEqual([
    [0, 'disco-worker.mjs'],
    [1, 'disco-worker.mjs'],
  ]);
});

test('a custom worker that throws fails the job with its message; io.err fails it with just the message', async () => {
  const thrown = await new Job({ master: disco, worker: new Exploding(), input: ['raw://x'] }).run();
  const refused = Object.assign(new Exploding(), { how: 'err' as const });
  const erred = await new Job({ master: disco, worker: refused, input: ['raw://y'] }).run();
  await expect(thrown.wait()).rejects.toThrow(/dead/);
  await expect(erred.wait()).rejects.toThrow(/dead/);
  const fatal = async (name: string) =>
    (await events(c.master, name)).map(([, , m]) => m).find((m) => m.startsWith('ERROR: Job failed'));
  expect(await fatal(thrown.name)).toMatch(/Error: custom worker exploded on purpose/);
  expect(await fatal(thrown.name)).toMatch(/at Exploding\.run /); // with the stack
  // io.err: the message alone.
  expect(await fatal(erred.name)).toMatch(/died: Exploding refuses input raw:\/\/y$/);
});

test('resultIterator with a custom input stream and reader, over raw and record results', async () => {
  const texts = ['alpha beta\ngamma', 'delta\nepsilon zeta'];
  const job = await new Job({
    master: disco,
    worker: new GzipUpper(),
    input: texts.map((t) => `raw://${t}`),
  }).run();
  const results = await job.wait();
  const seen: string[] = [];
  const gunzip = (stream: unknown, _size: number | null, url: string) => {
    seen.push(url);
    return gunzipSync((stream as { read(): Buffer }).read());
  };
  const lines = function* (stream: unknown) {
    for (const l of (stream as { read(): Buffer }).read().toString('utf8').split('\n'))
      if (l) yield [l, l.length];
  };
  const got = await collect<string, number>(results, { inputStream: [gunzip], reader: lines });
  const want = texts.flatMap((t) => t.toUpperCase().split('\n')).map((l) => [l, l.length]);
  expect(got.sort()).toEqual(want.sort());
  expect(seen).toHaveLength(2);
  expect(seen.every((u) => u.startsWith('disco://'))).toBe(true);
  // An input stream alone: the default reader then reads text as lines (as a task does).
  const plain = (await collect<string, never>(results, { inputStream: [gunzip] })) as unknown as string[];
  expect(plain.sort()).toEqual(want.map(([l]) => l).sort());

  // Record results through chainReader and a pass-through stream with params, by the original's name.
  const stats = await new LineStatsJob({ master: disco }).run({ input: ['raw://one two\nthree'] });
  const statUrls = await stats.wait();
  const tagged: unknown[] = [];
  const note = (stream: unknown, _size: number | null, _url: string, params: unknown) => {
    tagged.push(params);
    return stream;
  };
  const viaChain: [unknown, unknown][] = [];
  for await (const kv of classicIterator(statUrls, {
    master: c.master,
    settings: disco.settings,
    reader: chainReader,
    inputStream: [note],
    params: { from: 'test' },
  }))
    viaChain.push(kv);
  expect(viaChain).toEqual(await collect(statUrls));
  expect(viaChain).toEqual([
    [0, { lines: 2, words: 3, longest: 7 }],
    ['total', { lines: 2, words: 3, longest: 7 }],
  ]);
  expect(tagged).toEqual([{ from: 'test' }]);
});

test('disco run module.ts:ClassName: Job subclasses with inherited options, and Worker classes', async () => {
  const env = { ...process.env, ...c.env, DISCO_ROOT: path.join(c.root, 'cli') };
  const bin = path.join(PACKAGE_ROOT, 'bin', 'disco');
  const run = (args: string[]) => exec(bin, args, { env, cwd: PACKAGE_ROOT });
  const text = 'Banana Bread rises';
  const letters = (keep: (ch: string) => boolean) => {
    const m: Record<string, number> = {};
    for (const ch of text.toLowerCase()) if (/\p{L}/u.test(ch) && keep(ch)) m[ch] = (m[ch] ?? 0) + 1;
    return m;
  };
  const resultsOf = async (name: string) => {
    const out = (await run(['results', name])).stdout.trim().split('\n');
    return Object.fromEntries(out.map((l) => l.split('\t')).map(([k, v]) => [k, Number(v)]));
  };

  // A static map overriding the parent's; reduce and partitions: 2 come from the parent class.
  const sub = await run(['run', `${FIXTURE}:VowelCount`, `raw://${text}`, '--wait']);
  const vowels = sub.stdout.trim().split('\n')[0];
  expect(vowels).toMatch(/^VowelCount@/);
  expect(await resultsOf(vowels)).toEqual(letters((ch) => 'aeiou'.includes(ch)));
  expect((await disco.jobinfo(vowels)).redi).toEqual([0, 0, 2, 0]);

  // A Worker class: `disco run` makes a job run by it.
  const ws = await run(['run', 'examples/custom-worker.ts:LineStats', 'raw://x y', '--wait']);
  const wsName = ws.stdout.trim().split('\n')[0];
  expect(wsName).toMatch(/^LineStats@/);
  expect((await run(['results', wsName])).stdout).toContain('"lines":1');

  // The library: an instance method wins over the parent's static one.
  const cons = await new ConsonantCount({ master: disco }).run({ input: [`raw://${text}`] });
  const got: Record<string, number> = {};
  for await (const [k, n] of cons.resultIterator<string, number>(await cons.wait())) got[k] = n;
  expect(got).toEqual(letters((ch) => !'aeiou'.includes(ch)));
  expect(new VowelCount().jobOptions().partitions).toBe(2);

  // Clear errors: several jobs and no name; a missing export.
  const fail = (args: string[]) =>
    run(args).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
  const several = await fail(['run', FIXTURE, 'raw://x']);
  expect(several?.code).not.toBe(0);
  expect(several?.stderr).toMatch(/exports several jobs \(.*VowelCount.*\); name one as .*:<Export>/);
  const missing = await fail(['run', `${FIXTURE}:NoSuchJob`, 'raw://x']);
  expect(missing?.stderr).toMatch(/has no export named NoSuchJob \(exports: .*LetterCount/);
});
