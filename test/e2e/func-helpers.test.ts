/**
 * The job-function helpers (docs/worker-helpers.md) through real jobs on a real 2-node
 * cluster: gzip and regular-expression readers, version 0 netstrings and objects written by
 * one job and read by the next, input and output stream chains, range partitioning (the
 * tutorial in examples/range-partition.ts), parseDir / jobname / notifier, and corrupt
 * record-format input, strict and salvaged.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { main as rangeSort, sampleNumbers } from '../../examples/range-partition.js';
import {
  chainReader,
  Disco,
  defaultPartition,
  discoInputStream,
  discoOutputStream,
  gzipLineReader,
  gzipReader,
  ignoreCorruptInputStream,
  Job,
  JobError,
  jobname,
  netstrReader,
  netstrWriter,
  notifier,
  objectReader,
  objectWriter,
  oldNetstrReader,
  parseDir,
  reReader,
  taskInputStream,
  taskOutputStream,
} from '../../src/index.js';
import { RecordWriter } from '../../src/protocol/record-stream.js';
import { resolveHttp } from '../../src/protocol/urls.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import { events, postJson, records } from './helpers.js';

let c: Cluster;
let disco: Disco;
let dir: string;
let savedPort: string | undefined;
beforeAll(async () => {
  c = await startCluster({ nodes: 2, cores: 2 });
  disco = new Disco(c.master);
  // A data error ends the job at once (the corrupt-input test expects one; nothing else should fail).
  expect(await postJson(`${c.master}/disco/ctrl/save_settings`, { max_failure_rate: '1' })).toBe(
    'Settings saved',
  );
  dir = mkdtempSync(path.join(os.tmpdir(), 'disco-func-helpers-'));
  // parseDir outside a task reads indexes over HTTP at DISCO_PORT, as the original's did.
  savedPort = process.env.DISCO_PORT;
  process.env.DISCO_PORT = String(c.port);
});
afterAll(async () => {
  if (savedPort === undefined) delete process.env.DISCO_PORT;
  else process.env.DISCO_PORT = savedPort;
  await c?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Write a test input file (the nodes run on this machine, so they read it by path). */
function file(name: string, data: string | Uint8Array): string {
  const p = path.join(dir, name);
  writeFileSync(p, data);
  return p;
}

async function messages(job: Job): Promise<string[]> {
  return (await events(c.master, job.name)).map(([, , m]) => m).filter((m) => m.startsWith('MSG:'));
}

/** The data URLs behind a job's results (`dir://` indexes are expanded). */
function dataUrls(res: string[]): string[] {
  return res.flatMap((r) => (r.startsWith('dir://') ? parseDir(r) : [r]));
}

async function fetchBytes(url: string): Promise<Buffer> {
  const r = await fetch(resolveHttp(url, c.port));
  expect(r.status).toBe(200);
  return Buffer.from(await r.arrayBuffer());
}

const sortPairs = <T extends [unknown, unknown]>(a: T[]) =>
  [...a].sort((x, y) => (JSON.stringify(x) < JSON.stringify(y) ? -1 : 1));

describe('readers', () => {
  test('gzip: lines of multi-member files; a cut file yields what it can and says why; gzipReader in the chain', async () => {
    const a = file('a.gz', Buffer.concat([gzipSync('alpha\nbe'), gzipSync('ta\ngamma\n')]));
    const b = file('b.gz', gzipSync('delta\r\nepsilon'));
    const many = Array.from({ length: 4000 }, (_, i) => `line ${i} ${(i * 7919) % 10007}`);
    const full = gzipSync(many.join('\n'));
    const cut = file('cut.gz', full.subarray(0, Math.floor(full.length * 0.6)));
    const recs = file('recs.gz', gzipSync('<r>x</r><r>y\nz</r><r>ü</r>'));

    const [lines, chained] = await Promise.all([
      new Job({ master: disco, name: 'GzLines' }).run({
        input: [a, b, cut],
        mapReader: gzipLineReader,
        map: (line: string) => [[line, 1]],
        partitions: null,
      }),
      new Job({ master: disco, name: 'GzChain' }).run({
        input: [recs],
        mapInputStream: [taskInputStream, gzipReader],
        mapReader: (s: unknown, size: number | null, url: string) => reReader(/<r>(.*?)<\/r>/s, s, size, url),
        map: ([body]: string[]) => [[body, null]],
        partitions: null,
      }),
    ]);
    const got = (await records<string, number>(lines)).map(([l]) => l);
    const fromCut = got.filter((l) => l.startsWith('line '));
    expect(got.filter((l) => !l.startsWith('line ')).sort()).toEqual([
      'alpha',
      'beta',
      'delta',
      'epsilon',
      'gamma',
    ]);
    expect(fromCut.length).toBeGreaterThan(100);
    expect(fromCut.length).toBeLessThan(many.length);
    expect(many).toEqual(expect.arrayContaining(fromCut));
    expect(await messages(lines)).toEqual(
      expect.arrayContaining([expect.stringMatching(/gzipLineReader: truncated gzip data.*cut\.gz/)]),
    );
    expect((await records<string, null>(chained)).map(([k]) => k)).toEqual(['x', 'y\nz', 'ü']);
  });

  test('reReader: records with outputTail, and without (the tail is reported)', async () => {
    const input = file('records.txt', '<r>one</r><r>two\nlines</r><r>thrée</r><r>unfinished');
    const run = (tail: boolean) =>
      new Job({ master: disco, name: 'ReRecords' }).run({
        input: [input],
        params: { pattern: '(?s)<r>(.*?)</r>', tail },
        // A small read buffer, so that records straddle reads.
        mapReader: (s: unknown, size: number | null, url: string, p: { pattern: string; tail: boolean }) =>
          reReader(p.pattern, s, size, url, p.tail, 4),
        map: (groups: string[]) => [[groups[0], groups.length]],
        partitions: null,
      });
    const [withTail, without] = await Promise.all([run(true), run(false)]);
    expect(await records(withTail)).toEqual([
      ['one', 1],
      ['two\nlines', 1],
      ['thrée', 1],
      ['<r>unfinished', 1],
    ]);
    expect(await records(without)).toEqual([
      ['one', 1],
      ['two\nlines', 1],
      ['thrée', 1],
    ]);
    expect(await messages(without)).toEqual(
      expect.arrayContaining([expect.stringMatching(/Couldn't match the last 13 bytes in .*records\.txt/)]),
    );
  });

  test('netstrWriter output has the exact version 0 format, and netstrReader reads it in the next job', async () => {
    const words = ['plain', 'with space', 'new\nline', 'ünïcödé', '42'];
    const writer = await new Job({ master: disco, name: 'NetstrOut' }).run({
      input: words.map((w) => `raw://${w.replace('\n', ' ')}`),
      map: (line: string) => [[line, line.length]],
      mapWriter: netstrWriter,
      partitions: null,
    });
    const res = await writer.wait();
    const texts = await Promise.all(dataUrls(res).map(async (u) => (await fetchBytes(u)).toString('utf8')));
    const expected = words.map((w) => {
      const k = w.replace('\n', ' ');
      const v = String(k.length);
      return `${Buffer.byteLength(k)} ${k} ${v.length} ${v}\n`;
    });
    expect(texts.sort()).toEqual(expected.sort());

    const reader = await new Job({ master: disco, name: 'NetstrIn' }).run({
      input: res,
      mapReader: netstrReader,
      map: ([k, v]: [string, string]) => [[k, `${typeof v}:${v}`]],
      partitions: null,
    });
    expect(sortPairs(await records(reader))).toEqual(
      sortPairs(words.map((w) => w.replace('\n', ' ')).map((k) => [k, `string:${k.length}`])),
    );
  });

  test('old version 0 input: oldNetstrReader, and the record reader falling back to it', async () => {
    const pairs: [string, string][] = [
      ['hello', 'world'],
      ['ünï', 'x y'],
      ['multi\nline', ''],
    ];
    const v0 = file(
      'v0.txt',
      pairs.map(([k, v]) => `${Buffer.byteLength(k)} ${k} ${Buffer.byteLength(v)} ${v}\n`).join(''),
    );
    const run = (reader: unknown) =>
      new Job({ master: disco, name: 'OldNetstr' }).run({
        input: [v0],
        mapReader: reader as never,
        map: ([k, v]: [string, string]) => [[k, v]],
        partitions: null,
      });
    const jobs = await Promise.all([run(oldNetstrReader), run(discoInputStream), run(chainReader)]);
    for (const j of jobs) expect(await records(j)).toEqual(pairs);
  });

  test('objectWriter → objectReader carries nested values from map to reduce (with nrMaps and memSortLimit)', async () => {
    // The map runs on the workers as source and here, to know what to expect.
    const map = (line: string) => {
      const i = Number(line);
      return [
        [
          ['key', i, i % 2 === 0],
          {
            n: i,
            when: new Date(Date.UTC(2020, 0, i + 1)),
            big: 3n ** BigInt(40 + i),
            tags: new Set([`t${i}`, 'all']),
            bytes: new Uint8Array([i, 255 - i]),
            nested: [[i, null, { deep: [String(i)] }], 'x'],
          },
        ],
      ];
    };
    const inputs = ['0', '1', '2', '3', '4'];
    const job = await new Job({ master: disco, name: 'Objects' }).run({
      input: inputs.map((i) => `raw://${i}`),
      map,
      mapWriter: objectWriter,
      reduceReader: objectReader,
      reduce: (
        iter: Iterable<[unknown, unknown]>,
        out: { add(k: unknown, v: unknown): void },
        _params: unknown,
      ) => {
        for (const [k, v] of iter) out.add(k, v);
      },
      partitions: 2,
      sort: true,
      nr_maps: 2,
      mem_sort_limit: '1M',
    } as never);
    const got = await records(job);
    const want = inputs.flatMap(map);
    expect(got.length).toBe(want.length);
    for (const pair of want) expect(got).toContainEqual(pair);
  });
});

describe('stream chains', () => {
  test('a mapInputStream after taskInputStream; map and reduce output chains ending in custom streams', async () => {
    const text = 'the quick brown fox jumps over the lazy dog the end';
    const input = file('words.txt', text);
    const job = await new Job({ master: disco, name: 'Chains' }).run({
      input: [input, 'raw://fox and dog'],
      mapInputStream: [
        taskInputStream,
        (s: { read(): Uint8Array }, _size: number | null, url: string) => [
          Buffer.from(s.read()).toString().toUpperCase(),
          url,
        ],
      ],
      map: (line: string) => line.split(' ').map((w) => [w, 1]),
      partitions: 2,
      mapOutputStream: [
        taskOutputStream,
        discoOutputStream,
        (out: { add(k: unknown, v: unknown): void }, partition: string) => ({
          add: (k: unknown, v: unknown) => out.add(`${k}@${partition}`, v),
        }),
      ],
      reduce: function* (iter: Iterable<[string, number]>) {
        const sums = new Map<string, number>();
        for (const [k, v] of iter) sums.set(k, (sums.get(k) ?? 0) + v);
        yield* sums;
      },
      reduceOutputStream: [
        taskOutputStream,
        discoOutputStream,
        (out: { add(k: unknown, v: unknown): void }) => ({
          add: (k: unknown, v: unknown) => out.add(k, [v, 'x10', Number(v) * 10]),
        }),
      ],
    });
    const want = new Map<string, [number, string, number]>();
    for (const w of `${text} fox and dog`.toUpperCase().split(' ')) {
      const key = `${w}@${defaultPartition(w, 2)}`;
      const n = (want.get(key)?.[0] ?? 0) + 1;
      want.set(key, [n, 'x10', n * 10]);
    }
    const got = await records<string, [number, string, number]>(job);
    expect(new Map(got)).toEqual(want);
    expect(got.length).toBe(want.size);
  });
});

describe('partitioning and result URLs', () => {
  test('the range partitioning tutorial: each partition holds its range, sorted', async () => {
    const lines = sampleNumbers(300, 6, 7);
    const { partitions } = await rangeSort({ master: disco, lines, out: () => {} });
    const all = lines.flatMap((l) => l.split(' ').map(Number));
    const ranges = [
      [0, 249],
      [250, 499],
      [500, 749],
      [750, 999],
    ];
    expect(partitions).toHaveLength(4);
    partitions.forEach((nums, p) => {
      const [lo, hi] = ranges[p];
      expect(nums).toEqual(all.filter((n) => n >= lo && n <= hi).sort((x, y) => x - y));
    });
    expect(partitions.flat()).toEqual([...all].sort((x, y) => x - y));
  });

  test('parseDir and jobname on the client and in a task; notifier for the result iterator', async () => {
    const first = await new Job({ master: disco, name: 'Parted' }).run({
      input: ['raw://a b c d e f g', 'raw://h i j k'],
      map: (line: string) => line.split(' ').map((w) => [w, 1]),
      partitions: 3,
    });
    const res = await first.wait();
    expect(res.every((r) => r.startsWith('dir://'))).toBe(true);
    expect(res.map(jobname)).toEqual(res.map(() => first.name));
    const all = res.flatMap((r) => parseDir(r));
    const byLabel = [0, 1, 2].map((p) => res.flatMap((r) => parseDir(r, p)));
    expect(byLabel.flat().sort()).toEqual([...all].sort());
    for (const u of all) expect(jobname(u)).toBe(first.name);

    // In a task: the map reads the index by itself (locally or over HTTP, wherever it runs).
    const second = await new Job({ master: disco, name: 'ParseDirInTask' }).run({
      input: res.map((r) => `raw://${r}`),
      map: (dirUrl: string) => parseDir(dirUrl, 1).map((u) => [u, jobname(u)]),
      partitions: null,
    });
    expect(sortPairs(await records<string, string>(second))).toEqual(
      sortPairs(byLabel[1].map((u) => [u, first.name])),
    );

    const seen: unknown[] = [];
    const counted: [string, number][] = [];
    for await (const kv of first.resultIterator<string, number>(res, { notifier: (u) => seen.push(u) }))
      counted.push(kv);
    expect(seen.flat().sort()).toEqual([...all].sort());
    let n = 0;
    for await (const _ of first.resultIterator(res, { notifier })) n++;
    expect(n).toBe(counted.length);
    expect(counted.length).toBe(11);
  });
});

describe('corrupt record-format input', () => {
  test('a corrupt hunk fails the job with the URL named; ignoreCorruptInputStream reads the sound hunks', async () => {
    const pairs: [string, number][] = Array.from({ length: 30 }, (_, i) => [`k${i}`, i]);
    const chunks: Buffer[] = [];
    // Small hunks (a few records each), so that one can be damaged and the others read.
    const w = new RecordWriter((b) => chunks.push(b), { hunkSize: 60 });
    const hunkEnds: number[] = [];
    let bytes = 0;
    for (const [k, v] of pairs) {
      w.write(k, v);
      const now = chunks.reduce((s, b) => s + b.length, 0);
      if (now !== bytes) hunkEnds.push(w.records);
      bytes = now;
    }
    w.close();
    const data = Buffer.concat(chunks);
    const recordsInFirstHunk = hunkEnds[0];
    const firstHunk = 14 + Number(data.readBigUInt64LE(6));
    data[firstHunk + 14 + 2] ^= 0xff;
    const bad = file('corrupt.rec', data);

    const strict = await new Job({ master: disco, name: 'Corrupt' }).run({
      input: [bad],
      mapReader: discoInputStream,
      map: (kv: [string, number]) => [kv],
      partitions: null,
    });
    await expect(strict.wait()).rejects.toThrow(JobError);
    const log = (await events(c.master, strict.name)).map(([, , m]) => m).join('\n');
    expect(log).toMatch(/corrupt hunk.*corrupt\.rec/);

    const lenient = await new Job({ master: disco, name: 'Salvage' }).run({
      input: [bad],
      mapReader: ignoreCorruptInputStream,
      map: (kv: [string, number]) => [kv],
      partitions: null,
    });
    const got = await records<string, number>(lenient);
    const lost = pairs.length - got.length;
    expect(lost).toBeGreaterThan(0);
    expect(got.slice(0, recordsInFirstHunk)).toEqual(pairs.slice(0, recordsInFirstHunk));
    expect(got.slice(recordsInFirstHunk)).toEqual(pairs.slice(recordsInFirstHunk + lost));
  });
});
