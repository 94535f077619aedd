/**
 * Every classic job parameter through real jobs on a real 2-node cluster (profile, extParams,
 * nrMaps and memSortLimit have their own tests). Each job groups several parameters whose
 * effects show in its results, computed independently here; the tricky cases: empty inputs,
 * a replica that fails, a reader that raises a data error on one replica, a combiner that
 * returns nothing until `done`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Settings } from '../../src/common/settings.js';
import { DDFS } from '../../src/ddfs/client/ddfs.js';
import { Disco, Job, Params, sum } from '../../src/index.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import {
  MapSide,
  PassBoth,
  PassMap,
  PassReduce,
  PickyReader,
  ReduceSide,
  SchemeCount,
  Sleepy,
  TextWriters,
  unxorResults,
  WithFiles,
  WordsOnly,
} from './fixtures/param-jobs.js';
import { VendoredShout } from './fixtures/vendored-job.js';
import { events } from './helpers.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures');

let c: Cluster;
let disco: Disco;
let ddfs: DDFS;
let server: http.Server;
let web: string;
/** Paths the loopback web server was asked for. */
const requested: string[] = [];
/** Files the web server serves. */
const served: Record<string, string> = {
  '/words.txt': 'http one\nhttp two two\n',
  '/replica.txt': 'second replica\n',
  '/good/a.txt': 'alpha\nbeta\n',
  '/bad/a.txt': 'alpha\nbeta\n',
  '/good/b.txt': 'gamma\n',
  '/empty.txt': '',
};
let tmp: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const p = (req.url ?? '/').split('?')[0];
    requested.push(p);
    const body = served[p];
    if (body === undefined) {
      res.writeHead(404).end('no such file');
      return;
    }
    res.writeHead(200, { 'content-length': Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  web = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  tmp = mkdtempSync(path.join(os.tmpdir(), 'job-params-'));
  c = await startCluster({ nodes: 2, cores: 2 });
  disco = new Disco(c.master);
  ddfs = new DDFS(c.master, { settings: new Settings({ DISCO_PORT: String(c.port) }, {}, {}) });
});
afterAll(async () => {
  await c?.stop();
  await new Promise((r) => server?.close(r));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function collect<K = string, V = unknown>(
  job: Job,
  results: string[],
  opts?: Parameters<Job['resultIterator']>[1],
): Promise<Map<K, V>> {
  const out = new Map<K, V>();
  for await (const [k, v] of job.resultIterator<K, V>(results, opts)) {
    expect(out.has(k), `duplicate key ${String(k)}`).toBe(false);
    out.set(k, v);
  }
  return out;
}

function wordCounts(texts: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of texts) for (const w of t.split(/\s+/)) if (w) m.set(w, (m.get(w) ?? 0) + 1);
  return m;
}

/** Wait for `job`; when it fails, the error carries its events (what went wrong, and where). */
async function finish(job: Job): Promise<string[]> {
  try {
    return await job.wait();
  } catch (e) {
    const log = (await events(c.master, job.name)).map(([, host, m]) => `${host} ${m}`);
    throw new Error(`${(e as Error).message}\n${log.slice(-15).join('\n')}`);
  }
}

async function messages(job: Job): Promise<string[]> {
  return (await events(c.master, job.name)).map(([, , m]) => m);
}

test('every input scheme: raw, file, plain path, http, disco, tag, dir, and a replica list', async () => {
  const fileText = 'file one\nfile two\n';
  const pathText = 'path one path\n';
  const discoText = 'disco one\n';
  const tagTexts = ['tag one\n', 'tag two tag\n'];
  const dirText = 'dir one dir';
  writeFileSync(path.join(tmp, 'by-url.txt'), fileText);
  writeFileSync(path.join(tmp, 'by-path.txt'), pathText);
  // A file in node 0's data directory, named by a disco:// URL (read locally there, over HTTP elsewhere).
  const discoDir = path.join(c.nodes[0].root, 'data', 'params-test');
  mkdirSync(discoDir, { recursive: true });
  writeFileSync(path.join(discoDir, 'words.txt'), discoText);
  await ddfs.push(
    'test:params:words',
    tagTexts.map((t, i) => [Buffer.from(t), `words-${i}`]),
  );
  // The results of a map-only job (dir:// index files) as the input of another job.
  const first = await new WordsOnly({ master: disco }).run({ input: [`raw://${dirText}`] });
  const dirResults = await finish(first);
  expect(dirResults.every((r) => r.startsWith('dir://'))).toBe(true);

  const job = await new SchemeCount({ master: disco }).run({
    input: [
      'raw://raw one',
      `file://${path.join(tmp, 'by-url.txt')}`,
      path.join(tmp, 'by-path.txt'),
      `${web}/words.txt`,
      `disco://${c.nodes[0].host}/disco/params-test/words.txt`,
      'tag://test:params:words',
      ...dirResults,
      // Replicas of one input: the first is missing, so the second is read.
      [`${web}/missing.txt`, `${web}/replica.txt`],
    ],
  });
  const got = await collect<string, number>(job, await finish(job));
  const want = wordCounts([
    'raw one',
    fileText,
    pathText,
    served['/words.txt'],
    discoText,
    ...tagTexts,
    dirText,
    served['/replica.txt'],
  ]);
  expect(Object.fromEntries(got)).toEqual(Object.fromEntries(want));
  expect(requested).toContain('/missing.txt');
});

test('map side: input stream, reader, mapInit, Params with a function, partition, a combiner silent until done, output/input streams', async () => {
  const inputs = ['apple-kiwi;fig', 'plum-kiwi-kiwi;date', 'fig;fig'];
  // The function uses a worker API helper (`sum`), which the test runner's import rewriting must not break.
  const params = new Params({ decorate: (w: string) => `${w.toUpperCase()}${sum([1, 2])}` });
  const job = await new MapSide({ master: disco }).run({ input: inputs.map((t) => `raw://${t}`), params });
  const results = await finish(job);
  // The reduce output stream XORed the results: reading them needs the matching input stream.
  const got = await collect<string, number>(job, results, { inputStream: [unxorResults] });

  const want = new Map<string, number>();
  const add = (k: string, n: number, partition = k.length % 2) => {
    const key = `${partition}:${k}`;
    want.set(key, (want.get(key) ?? 0) + n);
  };
  for (const text of inputs) {
    const parts = new Set<number>();
    for (const e of text.split(/[-;]/)) {
      const k = `${e.toUpperCase()}3/init`;
      add(k, 1);
      parts.add(k.length % 2);
    }
    // The combiner flushes once per partition buffer of each map task, at the end only, and
    // what it returns goes to that buffer's partition (it is not partitioned again).
    for (const p of parts) add(`~flush:${p}`, 1, p);
  }
  expect(Object.fromEntries(got)).toEqual(Object.fromEntries(want));
  const info = await job.jobinfo();
  expect(info.redi).toEqual([0, 0, 2, 0]);
  // A function that cannot travel as source is refused before the job is submitted.
  await expect(
    new MapSide({ master: disco }).build({ params: new Params({ decorate: ''.toUpperCase.bind('x') }) }),
  ).rejects.toThrow(/a function in params is a built-in or bound function/);
});

test('reduce side: sort with a small sortBufferSize, reduceInit, reduce(iter, out, params), statusInterval', async () => {
  const words = Array.from({ length: 300 }, (_, i) => `w${(i * 7919) % 101}`);
  const text = words.join(' ');
  const job = await new ReduceSide({ master: disco }).run({
    input: [`raw://${text}`],
    statusInterval: 200,
  });
  const got = await collect<string, number>(job, await finish(job));
  const want = new Map([...wordCounts([text])].map(([w, n]) => [`hello:${w}`, n]));
  expect(Object.fromEntries(got)).toEqual(Object.fromEntries(want));
  const msgs = await messages(job);
  // The reduce's input exceeded the 2 KiB sort buffer: it was sorted in runs on disk.
  expect(msgs.some((m) => /Sorting: input exceeds the sort buffer \(2048 bytes\)/.test(m))).toBe(true);
  // One map entry (the line), 300 reduce entries: progress at 200 reduced entries.
  expect(
    msgs.filter((m) => /entries (mapped|reduced)$/.test(m)).map((m) => m.replace(/^MSG: \[\w+:\d+\] /, '')),
  ).toEqual(['Done: 1 entries mapped', '200 entries reduced', 'Done: 300 entries reduced']);
});

test('statusInterval: progress messages every N entries, none with 0', async () => {
  const text = Array.from({ length: 7 }, (_, i) => `line${i}`).join('\n');
  const [every3, never] = await Promise.all([
    new PassMap({ master: disco }).run({ input: [`raw://${text}`], statusInterval: 3, name: 'Every3' }),
    new PassMap({ master: disco }).run({ input: [`raw://${text}`], statusInterval: 0, name: 'Never' }),
  ]);
  await Promise.all([finish(every3), finish(never)]);
  const progress = (msgs: string[]) =>
    msgs.filter((m) => /entries mapped$/.test(m)).map((m) => m.replace(/^MSG: \[map:\d+\] /, ''));
  expect(progress(await messages(every3))).toEqual([
    '3 entries mapped',
    '6 entries mapped',
    'Done: 7 entries mapped',
  ]);
  expect(progress(await messages(never))).toEqual(['Done: 7 entries mapped']);
});

test('deprecated mapWriter/reduceWriter write text; reduceReader reads it', async () => {
  const texts = ['to be or not to be', 'be quick'];
  const job = await new TextWriters({ master: disco }).run({ input: texts.map((t) => `raw://${t}`) });
  const results = await finish(job);
  // The results are text, not records: read them with a reader of our own.
  const got = await collect<string, number>(job, results, {
    reader: (stream) =>
      (stream as { read(): Buffer })
        .read()
        .toString('utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const [k, v] = l.split('\t');
          return [k, Number(v)];
        }),
  });
  expect(Object.fromEntries(got)).toEqual(Object.fromEntries(wordCounts(texts)));
});

test('requiredFiles (paths, and names with contents), local imports, owner, name, prefix, save', async () => {
  const stop = path.join(tmp, 'stopwords.txt');
  const suffix = path.join(tmp, 'suffix.txt');
  writeFileSync(stop, 'the a\n');
  writeFileSync(suffix, '.v1\n');
  const text = 'the cat sat on a mat the end';
  const [byPath, byContents] = await Promise.all([
    new WithFiles({ master: disco }).run({
      input: [`raw://${text}`],
      requiredFiles: [stop, suffix],
      owner: 'params-tester@example',
      name: 'NamedJob',
    }),
    new WithFiles({ master: disco }).run({
      input: [`raw://${text}`],
      requiredFiles: { 'stopwords.txt': 'cat on', 'suffix.txt': '.v2' },
      prefix: 'PrefixedJob',
      save: true,
    }),
  ]);
  expect(byPath.name).toMatch(/^NamedJob@/);
  expect(byContents.name).toMatch(/^PrefixedJob@/);
  const expectFor = (stopwords: string[], sfx: string) =>
    Object.fromEntries(
      [...wordCounts([text])]
        .filter(([w]) => !stopwords.includes(w))
        .map(([w, n]) => [`${w}#helper${sfx}`, n]),
    );
  expect(Object.fromEntries(await collect(byPath, await finish(byPath)))).toEqual(
    expectFor(['the', 'a'], '.v1'),
  );
  const saved = await finish(byContents);
  expect(saved.every((r) => r.startsWith('tag://'))).toBe(true);
  expect(Object.fromEntries(await collect(byContents, saved))).toEqual(expectFor(['cat', 'on'], '.v2'));
  expect((await byPath.jobinfo()).owner).toBe('params-tester@example');
});

test('requiredModules: a [name, path] pair (for source functions and a job module) and a local file', async () => {
  const job = await new Job({
    master: disco,
    name: 'Required',
    input: ['raw://one\nthree'],
    requiredModules: [
      ['disco-test-shout', path.join(FIXTURES, 'vendored', 'shout.ts')],
      path.join(FIXTURES, 'required-lib', 'counter.cjs'),
    ],
    map: (line: string) => {
      const { shout } = require('disco-test-shout') as { shout(s: string): string };
      const { double } = require('./lib/counter.cjs') as { double(n: number): number };
      return [[shout(line), double(line.length)]];
    },
  }).run();
  const got = await collect<string, number>(job, await finish(job));
  expect(Object.fromEntries(got)).toEqual({ 'ONE!': 6, 'THREE!': 10 });
  // The same package used by a job module: its name stays out of the module's bundle.
  const fromModule = await new VendoredShout({ master: disco }).run({
    input: ['raw://two'],
    requiredModules: [['disco-test-shout', path.join(FIXTURES, 'vendored', 'shout.ts')]],
  });
  expect(Object.fromEntries(await collect(fromModule, await finish(fromModule)))).toEqual({ 'TWO!': 3 });
});

test('scheduler maxCores: at most that many tasks of the job at once', async () => {
  const input = Array.from({ length: 6 }, (_, i) => `raw://t${i}`);
  const [limited, free] = await Promise.all([
    new Sleepy({ master: disco }).run({ input, params: { ms: 300 }, scheduler: { maxCores: 1 } }),
    new Sleepy({ master: disco }).run({ input, params: { ms: 300 } }),
  ]);
  const overlap = async (job: Job) => {
    const spans = [...(await collect<string, [number, number, string]>(job, await finish(job))).values()];
    expect(spans.length).toBe(6);
    let most = 0;
    for (const [s] of spans) most = Math.max(most, spans.filter(([a, b]) => a <= s && s < b).length);
    return most;
  };
  expect(await overlap(limited)).toBe(1);
  // Without the limit the same job does run tasks side by side (4 slots): the check above can fail.
  expect(await overlap(free)).toBeGreaterThan(1);
});

test('a reader raising a data error on one replica: the worker reads the other replica, the job succeeds', async () => {
  const before = requested.length;
  const job = await new PickyReader({ master: disco }).run({
    input: [[`${web}/bad/a.txt`, `${web}/good/a.txt`], `${web}/good/b.txt`],
  });
  const got = await collect<string, number>(job, await finish(job));
  expect(Object.fromEntries(got)).toEqual({ alpha: 1, beta: 1, gamma: 1 });
  const asked = requested.slice(before);
  expect(asked).toContain('/bad/a.txt');
  expect(asked).toContain('/good/a.txt');
});

test('empty inputs: no inputs and empty files give empty results', async () => {
  const jobs = await Promise.all([
    new PassMap({ master: disco }).run({ input: [] }),
    new PassReduce({ master: disco }).run({ input: [] }),
    new PassBoth({ master: disco }).run({ input: [] }),
    new PassMap({ master: disco }).run({ input: [`${web}/empty.txt`, 'raw://'] }),
    new PassBoth({ master: disco }).run({ input: [`${web}/empty.txt`] }),
  ]);
  for (const job of jobs) {
    const results = await finish(job);
    expect((await collect(job, results)).size, job.name).toBe(0);
  }
});

test('old snake_case names still work, with one DeprecationWarning per name', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => {
    if (w.name === 'DeprecationWarning') warnings.push(w.message);
  };
  process.on('warning', onWarning);
  try {
    const opts = {
      input: ['raw://a;b;c'],
      nr_reduces: 3,
      map_reader: (s: { read(): Buffer }) => s.read().toString().split(';'),
      status_interval: 0,
    };
    const jobs = [
      await new PassBoth({ master: disco }).run(opts as never),
      await new PassBoth({ master: disco }).run(opts as never),
    ];
    for (const job of jobs) {
      const got = await collect<string, string>(job, await finish(job));
      expect(Object.fromEntries(got)).toEqual({
        a: 'mapped+reduced',
        b: 'mapped+reduced',
        c: 'mapped+reduced',
      });
      expect((await job.jobinfo()).redi).toEqual([0, 0, 3, 0]);
    }
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', onWarning);
  }
  for (const old of ['nr_reduces', 'map_reader', 'status_interval'])
    expect(
      warnings.filter((w) => w.includes(`'${old}'`)),
      old,
    ).toHaveLength(1);
});
