/**
 * The pure parts of the readers, writers and stream helpers (docs/worker-helpers.md): gzip,
 * regular-expression records, version 0 netstrings, objects, the record-format streams,
 * stream chain composition, range partitioning, jobname and parseDir.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { functionSource } from '../../../src/client/function-ref.js';
import { DataError, DiscoError } from '../../../src/common/errors.js';
import { encodeNetstring } from '../../../src/protocol/external.js';
import { encodeIndex } from '../../../src/protocol/index-file.js';
import {
  BufferSource,
  type ByteSource,
  RecordWriter,
  readRecords,
} from '../../../src/protocol/record-stream.js';
import { hunkHeader, MAX_HUNK } from '../../../src/protocol/records/format.js';
import type { TaskInfo } from '../../../src/protocol/worker-protocol.js';
import { setMessageSink, setTaskContext } from '../../../src/worker/context.js';
import { chainReader, makeRangePartition, notifier } from '../../../src/worker/func.js';
import { openTaskOutput, recordWriter } from '../../../src/worker/outputs.js';
import { openChain } from '../../../src/worker/readers/chain.js';
import { GunzipSource, gzipLineReader, gzipReader } from '../../../src/worker/readers/gzip.js';
import { InputStream } from '../../../src/worker/readers/input-stream.js';
import {
  netstrReader,
  netstrWriter,
  oldNetstrReader,
  readNetstrings,
} from '../../../src/worker/readers/netstr.js';
import { objectReader, objectWriter } from '../../../src/worker/readers/object.js';
import { reReader, stickyPattern } from '../../../src/worker/readers/re.js';
import { jobname, parseDir } from '../../../src/worker/result-urls.js';
import {
  discoInputStream,
  discoOutputStream,
  ignoreCorruptInputStream,
  taskInputStream,
  taskOutputStream,
} from '../../../src/worker/streams.js';
import { compileFunction } from '../../../src/worker/user-code.js';
import { tempDir } from './helpers.js';

/** A source that hands out at most `n` bytes per read (stream chunks fall anywhere). */
function chunky(data: Uint8Array, n: number): ByteSource {
  const src = new BufferSource(data);
  return { read: (want: number) => src.read(Math.min(want, n)) };
}

/** Collects what job functions send with `msg` while `fn` runs. */
function messages(fn: () => void): string[] {
  const got: string[] = [];
  setMessageSink((t) => got.push(t));
  try {
    fn();
  } finally {
    setMessageSink(null);
  }
  return got;
}

/** Bytes written to a sink. */
class Sink {
  parts: Buffer[] = [];
  write(d: Uint8Array | string): void {
    this.parts.push(typeof d === 'string' ? Buffer.from(d) : Buffer.from(d));
  }
  get bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function records(pairs: [unknown, unknown][], hunkSize?: number): Buffer {
  const chunks: Buffer[] = [];
  const w = new RecordWriter((b) => chunks.push(b), { hunkSize });
  for (const [k, v] of pairs) w.write(k, v);
  w.close();
  return Buffer.concat(chunks);
}

describe('gzip', () => {
  const text = Array.from({ length: 3000 }, (_, i) => `line ${i} ${'é'.repeat(i % 7)}`).join('\n');

  function gunzipAll(data: Uint8Array, chunk: number, url = 'u'): string {
    return new InputStream(new GunzipSource(chunky(data, chunk), url), null, url).read().toString('utf8');
  }

  it('decompresses every member of a multi-member file, in chunks of any size, ignoring zero padding', () => {
    const a = text.slice(0, 10_000);
    const b = text.slice(10_000);
    const file = Buffer.concat([gzipSync(a), gzipSync(b), Buffer.alloc(37)]);
    for (const chunk of [1, 7, 4096, 1 << 20]) expect(gunzipAll(file, chunk)).toBe(text);
  });

  it('an empty input is empty; corrupt, truncated or non-gzip data is a DataError naming the input', () => {
    expect(gunzipAll(Buffer.alloc(0), 10)).toBe('');
    const good = gzipSync(text);
    const badCrc = Buffer.from(good);
    badCrc[badCrc.length - 6] ^= 0xff;
    expect(() => gunzipAll(badCrc, 1000, 'file:///x.gz')).toThrow(
      /corrupt gzip data: incorrect data check.*x\.gz/,
    );
    expect(() => gunzipAll(good.subarray(0, good.length - 20), 1000, 'u.gz')).toThrow(DataError);
    expect(() => gunzipAll(good.subarray(0, good.length - 20), 1000, 'u.gz')).toThrow(/truncated gzip data/);
    expect(() => gunzipAll(Buffer.from('plain text, not gzip'), 1000)).toThrow(/incorrect header check/);
    // Trailing garbage after a member is not padding.
    expect(() => gunzipAll(Buffer.concat([good, Buffer.from('junk!')]), 1000)).toThrow(/corrupt gzip data/);
  });

  it('gzipReader is an input stream function; gzipLineReader reads lines', () => {
    const [s, size, url] = gzipReader(InputStream.fromBytes(gzipSync('a\r\nb\nc'), 'raw://x'), 99, 'u.gz');
    expect([size, url]).toEqual([null, 'u.gz']);
    expect([...s]).toEqual(['a', 'b', 'c']);
    expect([...gzipLineReader(InputStream.fromBytes(gzipSync('x\ny\n'), 'u'), null, 'u')]).toEqual([
      'x',
      'y',
    ]);
    // In a chain: opened stream → gzipReader → the reader.
    const opened = openChain(
      'raw://z',
      () => InputStream.fromBytes(gzipSync('p\nq\n'), 'raw://z'),
      [gzipReader],
      undefined,
      {},
    );
    expect([...opened.entries]).toEqual(['p', 'q']);
    opened.close();
  });

  it('gzipLineReader yields the lines it can, then reports the error and stops', () => {
    const good = gzipSync(text);
    const cut = good.subarray(0, Math.floor(good.length / 2));
    let lines: string[] = [];
    const msgs = messages(() => {
      lines = [...gzipLineReader(InputStream.fromBytes(cut, 'u'), null, 'file:///half.gz')];
    });
    expect(lines.length).toBeGreaterThan(0);
    expect(text.startsWith(lines.join('\n'))).toBe(true);
    expect(msgs).toEqual([expect.stringMatching(/^gzipLineReader: truncated gzip data.*half\.gz/)]);
  });
});

describe('reReader', () => {
  const data = '<r>one</r><r>two\nlines</r><r>thrée</r>';

  it('yields the groups of each match, across reads of any size and split characters', () => {
    for (const bufSize of [1, 2, 3, 5, 8192]) {
      const got = [
        ...reReader(/<r>(.*?)<\/r>/s, InputStream.fromBytes(data, 'u'), null, 'u', false, bufSize),
      ];
      expect(got).toEqual([['one'], ['two\nlines'], ['thrée']]);
    }
  });

  it('translates Python inline flags, keeps several groups, null for groups that did not match', () => {
    const got = [...reReader('(?s)(\\w+)=(.*?)(!)?;', InputStream.fromBytes('a=1\n2;b=x!;', 'u'), null, 'u')];
    expect(got).toEqual([
      ['a', '1\n2', null],
      ['b', 'x', '!'],
    ]);
    expect(stickyPattern(/x/g).flags).toBe('y');
    expect(() => stickyPattern('(?x)a')).toThrow(/no JavaScript equivalent/);
  });

  it('a tail is yielded with outputTail, else reported in a message', () => {
    const input = `${data}<r>unfinished`;
    expect(
      [...reReader(/<r>(.*?)<\/r>/s, InputStream.fromBytes(input, 'u'), null, 'u', true)].at(-1),
    ).toEqual(['<r>unfinished']);
    // Unmatched bytes stop the records there: without the s flag '.' stops at the newline.
    expect([...reReader(/<r>(.*?)<\/r>/, InputStream.fromBytes(input, 'u'), null, 'u', true)]).toEqual([
      ['one'],
      ['<r>two\nlines</r><r>thrée</r><r>unfinished'],
    ]);
    let got: unknown[] = [];
    const msgs = messages(() => {
      got = [...reReader(/<r>(.*?)<\/r>/s, InputStream.fromBytes(input, 'u'), null, 'file:///in')];
    });
    expect(got).toHaveLength(3);
    expect(msgs).toEqual([
      "Couldn't match the last 13 bytes in file:///in. Some bytes may be missing from input.",
    ]);
  });

  it('reads at most size bytes; an input shorter than size is truncated; empty matches are refused', () => {
    const s = InputStream.fromBytes('ab;cd;ef;', 'u');
    expect([...reReader(/(\w+);/, s, 6, 'u')]).toEqual([['ab'], ['cd']]);
    expect(() => [...reReader(/(\w+);/, InputStream.fromBytes('ab;', 'u'), 10, 'f')]).toThrow(
      /truncated input: expected 10 bytes, got 3/,
    );
    expect(() => [...reReader(/(x*)/, InputStream.fromBytes('abc', 'u'), null, 'u')]).toThrow(/empty string/);
  });
});

describe('version 0 netstrings', () => {
  it('writes the exact format: byte lengths, any bytes inside', () => {
    const sink = new Sink();
    const w = netstrWriter(sink);
    w.add('abc', 'hello');
    w.add('ü k', 'line\nbreak');
    w.add(42, null);
    w.add(Buffer.from([0, 255]), true);
    w.close();
    expect(sink.bytes).toEqual(
      Buffer.concat([
        Buffer.from('3 abc 5 hello\n4 ü k 10 line\nbreak\n2 42 0 \n2 '),
        Buffer.from([0, 255]),
        Buffer.from(' 4 true\n'),
      ]),
    );
    expect(() => w.add({ a: 1 }, 'v')).toThrow(/netstrWriter writes text.*objectWriter/);
  });

  it('property: what netstrWriter writes, netstrReader, oldNetstrReader and chainReader read back', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' })), {
          maxLength: 30,
        }),
        fc.integer({ min: 1, max: 50 }),
        (pairs, chunk) => {
          const sink = new Sink();
          const w = netstrWriter(sink);
          for (const [k, v] of pairs) w.add(k, v);
          const bytes = sink.bytes;
          expect([
            ...netstrReader(new InputStream(chunky(bytes, chunk), bytes.length, 'u'), bytes.length, 'u'),
          ]).toEqual(pairs);
          // The 0.4 name, with the first byte already read as `head`.
          const src = new InputStream(chunky(bytes, chunk), bytes.length, 'u');
          const head = src.read(1);
          expect([...oldNetstrReader(src, bytes.length, 'u', head)]).toEqual(pairs);
          // The record readers recognise version 0 by its first byte.
          expect([...chainReader(new InputStream(chunky(bytes, chunk), null, 'u'), null, 'u')]).toEqual(
            pairs,
          );
        },
      ),
    );
  });

  it('property: fields of any bytes and sizes (also past the read chunk) round-trip', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.uint8Array({ maxLength: 200_000 }), fc.uint8Array({ maxLength: 300 })), {
          maxLength: 4,
        }),
        (pairs) => {
          const bytes = Buffer.concat(pairs.map(([k, v]) => encodeNetstring(k, v)));
          const got = [...readNetstrings(chunky(bytes, 70_000))].map(([k, v]) => [
            new Uint8Array(k),
            new Uint8Array(v),
          ]);
          expect(got).toEqual(pairs.map(([k, v]) => [new Uint8Array(k), new Uint8Array(v)]));
        },
      ),
      { numRuns: 30 },
    );
  });

  it('malformed input is a DataError saying where', () => {
    const read = (s: string, size: number | null = null) => [
      ...netstrReader(InputStream.fromBytes(s, 'u'), size, 'file:///bad'),
    ];
    expect(() => read('3 abc 5 hello')).toThrow(/the value at byte 6 has no terminator.*bad/);
    expect(() => read('3 abc 5 hel')).toThrow(
      /the value at byte 6 announces 5 bytes, the input ended after 3/,
    );
    expect(() => read('x abc')).toThrow(/corrupt input: cannot parse the key length at byte 0/);
    expect(() => read('3 abcX5 hello\n')).toThrow(
      /the key at byte 0 is followed by byte 0x58, expected a space/,
    );
    expect(() => read('3 abc 5 helloX')).toThrow(/expected a newline/);
    expect(() => read('12345678901 a')).toThrow(/cannot parse the key length/);
    expect(() => read('123')).toThrow(/truncated input: the key length at byte 0 is cut short/);
    expect(() => read('1 a 1 b\n', 20)).toThrow(/truncated input: expected 20 bytes, got 8/);
    expect(read('1 a 1 b\n1 c 1 d\n', 8)).toEqual([['a', 'b']]);
    expect(() => read('1 a 1 b\n')).not.toThrow();
  });
});

describe('objects', () => {
  it('property: objectWriter → objectReader keeps keys and values whole', () => {
    // msgpackr renames a `__proto__` key to `__proto_` when decoding (its guard against
    // prototype pollution), so such keys do not come back whole; documented, not tested here.
    const json = fc.jsonValue().filter((v) => !JSON.stringify(v).includes('"__proto__"'));
    const value = fc.oneof(
      json,
      fc.bigInt(),
      fc.date({ noInvalidDate: true }),
      fc.uint8Array({ maxLength: 20 }),
      fc.array(fc.tuple(fc.string(), json)),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(value, value), { maxLength: 20 }),
        fc.integer({ min: 1, max: 64 }),
        (pairs, chunk) => {
          const sink = new Sink();
          const w = objectWriter(sink);
          for (const [k, v] of pairs) w.add(k, v);
          const bytes = sink.bytes;
          const got = [...objectReader(new InputStream(chunky(bytes, chunk), null, 'u'), null, 'u')];
          // -0 is written as 0 (as in records).
          const norm = (x: unknown) =>
            JSON.parse(JSON.stringify(x, (_k, v) => (Object.is(v, -0) ? 0 : v)) ?? 'null');
          expect(got.length).toBe(pairs.length);
          got.forEach(([k, v], i) => {
            for (const [a, b] of [
              [k, pairs[i][0]],
              [v, pairs[i][1]],
            ]) {
              if (typeof b === 'bigint' || b instanceof Date || b instanceof Uint8Array) expect(a).toEqual(b);
              else expect(norm(a)).toEqual(norm(b));
            }
          });
        },
      ),
    );
  });

  it('nested structures keep their types; bad bytes are a DataError', () => {
    const sink = new Sink();
    const v = {
      list: [1, 'two', [3n, null]],
      when: new Date(86_400_000),
      tags: new Set(['a']),
      raw: new Uint8Array([7]),
    };
    objectWriter(sink).add(['composite', 1], v);
    expect([...objectReader(InputStream.fromBytes(sink.bytes, 'u'))]).toEqual([[['composite', 1], v]]);
    // A string header announcing 5 bytes that are not there.
    const bad = encodeNetstring(Buffer.from([0xd9, 0x05]), Buffer.from([0x01]));
    expect(() => [...objectReader(InputStream.fromBytes(bad, 'u'), null, 'file:///o')]).toThrow(
      /corrupt object key.*\/o/,
    );
    const two = encodeNetstring(Buffer.from([0x01, 0x02]), Buffer.from([0x01]));
    expect(() => [...objectReader(InputStream.fromBytes(two, 'u'))]).toThrow(
      /expected one MessagePack value, found 2/,
    );
  });
});

describe('record-format streams', () => {
  const pairs: [unknown, unknown][] = Array.from({ length: 30 }, (_, i) => [`k${i}`, i]);
  // Small hunks (10 records each), so one can be corrupted and the others read.
  const data = records(pairs, 60);

  function corruptSecondHunk(b: Buffer): Buffer {
    const out = Buffer.from(b);
    const first = 14 + Number(out.readBigUInt64LE(6));
    out[first + 14 + 3] ^= 0x55;
    return out;
  }

  it('discoInputStream reads records; a corrupt hunk is a DataError naming the URL', () => {
    expect([...discoInputStream(InputStream.fromBytes(data, 'u'), data.length, 'u', {})]).toEqual(pairs);
    const bad = corruptSecondHunk(data);
    expect(() => [
      ...discoInputStream(InputStream.fromBytes(bad, 'u'), null, 'file:///tmp/in-1', {}),
    ]).toThrow(/corrupt hunk.*\(file:\/\/\/tmp\/in-1\)/);
  });

  it('ignoreCorruptInputStream (or discoInputStream with true) skips the corrupt hunk', () => {
    const bad = corruptSecondHunk(data);
    const got = [...ignoreCorruptInputStream(InputStream.fromBytes(bad, 'u'), null, 'u')];
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(pairs.length);
    expect(pairs).toEqual(expect.arrayContaining(got));
    expect(got[0]).toEqual(pairs[0]);
    expect([...discoInputStream(InputStream.fromBytes(bad, 'u'), null, 'u', true)]).toEqual(got);
  });

  it('a compressed hunk that would inflate past the hunk limit is a corrupt hunk, not 256+ MiB of memory', () => {
    const body = deflateSync(Buffer.alloc(MAX_HUNK + 1), { level: 1 });
    const hunk = Buffer.concat([hunkHeader(true, 0, body.length), body, hunkHeader(false, 0, 0)]);
    expect(() => [...discoInputStream(InputStream.fromBytes(hunk, 'u'), null, 'u', {})]).toThrow(
      /corrupt hunk: Cannot create a Buffer larger than/,
    );
  });

  it('discoOutputStream writes what discoInputStream reads', () => {
    const sink = new Sink();
    const out = discoOutputStream(sink);
    for (const [k, v] of pairs) out.add(k, v);
    out.close();
    expect([...readRecords(new BufferSource(sink.bytes))]).toEqual(pairs);
    expect(() => discoOutputStream({})).toThrow(/write\(\) method/);
  });

  it('taskInputStream passes an opened stream on, or opens the URL', () => {
    const s = InputStream.fromBytes('x', 'raw://x');
    const [same, n, url] = taskInputStream(s, 1, 'raw://x', {});
    expect(same).toBe(s);
    expect([n, url]).toEqual([1, 'raw://x']);
    const [opened, size] = taskInputStream(null, null, 'raw://hello\nworld', {});
    expect(size).toBe(11);
    expect([...(opened as InputStream)]).toEqual(['hello', 'world']);
  });
});

describe('output stream chains', () => {
  let home = '';
  afterEach(() => {
    home = '';
  });

  function output(streams: ((...a: unknown[]) => unknown)[], writer?: (...a: unknown[]) => unknown) {
    home = tempDir();
    return openTaskOutput({
      jobhome: home,
      rel: 'ab/map:0-1-2/map-0',
      type: 'part',
      label: '0',
      partition: '0',
      streams,
      writer,
      params: {},
    });
  }

  it("the original's default chain spelled out, then a stream of one's own: no extra writer", () => {
    const upper = (out: unknown) => ({
      add: (k: unknown, v: unknown) =>
        (out as { add(k: unknown, v: unknown): void }).add(String(k).toUpperCase(), v),
    });
    const o = output([taskOutputStream, discoOutputStream, upper]);
    o.add('a', 1);
    o.add('b', 2);
    expect(existsSync(o.abs)).toBe(false);
    o.close();
    expect([...readRecords(new BufferSource(readFileSync(o.abs)))]).toEqual([
      ['A', 1],
      ['B', 2],
    ]);
  });

  it('a chain ending in netstrWriter writes netstrings; without streams the default writer applies', () => {
    const o = output([netstrWriter]);
    o.add('k', 'v');
    o.close();
    expect(readFileSync(o.abs, 'utf8')).toBe('1 k 1 v\n');
    const d = output([]);
    d.add('k', 'v');
    d.close();
    expect([...readRecords(new BufferSource(readFileSync(d.abs)))]).toEqual([['k', 'v']]);
  });

  it('taskOutputStream opens an atomic file when given no stream', () => {
    home = tempDir();
    const file = path.join(home, 'out', 'f');
    const s = taskOutputStream(null, null, file) as { write(d: string): void; close(): void };
    s.write('data');
    expect(existsSync(file)).toBe(false);
    s.close();
    expect(readFileSync(file, 'utf8')).toBe('data');
  });
});

describe('makeRangePartition', () => {
  it('equal-width ranges in order; outside keys clamp; non-numbers are refused', () => {
    const p = makeRangePartition(0, 99);
    const labels = Array.from({ length: 100 }, (_, k) => p(k, 4));
    for (let part = 0; part < 4; part++) expect(labels.filter((l) => l === part)).toHaveLength(25);
    expect([p(-5, 4), p(24, 4), p(25, 4), p(99, 4), p(1e9, 4), p('60', 4), p(70n, 4)]).toEqual([
      0, 0, 1, 3, 3, 2, 2,
    ]);
    expect(p(50, 1)).toBe(0);
    expect(() => p('abc', 4)).toThrow(/makeRangePartition\(0, 99\): key abc is not a number/);
    expect(() => makeRangePartition(5, 5)).toThrow(RangeError);
    expect(() => makeRangePartition(Number.NaN, 5)).toThrow(TypeError);
  });

  it('property: ordered keys get ordered partitions, within 0..n-1', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.double({ min: 1e-3, max: 1e6, noNaN: true }),
        fc.array(fc.double({ min: -2e6, max: 2e6, noNaN: true }), { minLength: 2, maxLength: 20 }),
        fc.integer({ min: 1, max: 64 }),
        (min, width, keys, n) => {
          const p = makeRangePartition(min, min + width);
          const sortedKeys = [...keys].sort((a, b) => a - b);
          const labels = sortedKeys.map((k) => p(k, n));
          for (let i = 0; i < labels.length; i++) {
            expect(labels[i]).toBeGreaterThanOrEqual(0);
            expect(labels[i]).toBeLessThan(n);
            if (i > 0) expect(labels[i]).toBeGreaterThanOrEqual(labels[i - 1]);
          }
        },
      ),
    );
  });

  it('travels as source text: the compiled copy partitions the same', () => {
    const p = makeRangePartition(-10.5, 1e3);
    const copy = compileFunction(functionSource(p, 'partition'));
    for (const k of [-100, -10.5, 0, 3.25, 500, 999, 1e3, 2e3]) expect(copy(k, 7, {})).toBe(p(k, 7));
  });
});

describe('jobname, parseDir, notifier', () => {
  afterEach(() => setTaskContext(null));

  it('jobname reads the job from data URLs and results tags', () => {
    const job = 'Wc@5a1:2b3c4:d5e6f';
    expect(jobname(`dir://n1/disco/n1/ab/${job}/.disco/map-index.txt.gz`)).toBe(job);
    expect(jobname(`disco://n1:8990/disco/n1/ab/${job}/ab/map:0-1-2/map-0`)).toBe(job);
    expect(jobname(`http://n1:8989/disco/n1/ab/${job}/reduce-index.txt`)).toBe(job);
    expect(jobname(`tag://disco:job:results:${job}`)).toBe(job);
    expect(() => jobname('raw://abc')).toThrow(DiscoError);
    expect(() => jobname('tag://some-tag')).toThrow(/cannot parse a job name from tag:\/\/some-tag/);
  });

  it("parseDir lists an index's URLs by label, or one label's, read locally in a task on the index's node", () => {
    const root = tempDir();
    const rel = 'n1/ab/Job@1:2:3/.disco/map-index.txt.gz';
    mkdirSync(path.dirname(path.join(root, 'data', rel)), { recursive: true });
    const entries = [
      { label: '10', url: 'disco://n2/disco/n2/ab/Job@1:2:3/x/part-10' },
      { label: '2', url: 'disco://n1/disco/n1/ab/Job@1:2:3/b/part-2' },
      { label: '2', url: 'disco://n1/disco/n1/ab/Job@1:2:3/a/part-2' },
      { label: '0', url: 'disco://n1/disco/n1/ab/Job@1:2:3/a/part-0' },
    ];
    writeFileSync(path.join(root, 'data', rel), encodeIndex(entries));
    const task: TaskInfo = {
      taskid: 0,
      master: 'http://127.0.0.1:9',
      disco_port: 8989,
      put_port: 8990,
      ddfs_data: path.join(root, 'ddfs'),
      disco_data: path.join(root, 'data'),
      mode: 'map',
      jobfile: '',
      jobname: 'J',
      host: 'n1',
    };
    setTaskContext({ task, inputs: [] });
    const dir = `dir://n1/disco/${rel}`;
    expect(parseDir(dir)).toEqual([entries[3].url, entries[2].url, entries[1].url, entries[0].url]);
    expect(parseDir(dir, 2)).toEqual([entries[2].url, entries[1].url]);
    expect(parseDir(dir, '7')).toEqual([]);
    expect(() => parseDir('disco://n1/x')).toThrow(/is not a dir:\/\/ URL/);
  });

  it('notifier is a no-op default', () => {
    expect(notifier(['disco://a', 'disco://b'])).toBeUndefined();
  });
});

describe('what readers and writers refuse', () => {
  it('a reader given no byte stream, and a writer given nothing to write to, say which one refused', () => {
    const readers: [string, (v: unknown) => unknown][] = [
      ['chainReader', (v) => chainReader(v)],
      ['discoInputStream', (v) => discoInputStream(v)],
      ['gzipReader', (v) => gzipReader(v)],
      ['netstrReader', (v) => [...netstrReader(v)]],
      ['oldNetstrReader', (v) => [...oldNetstrReader(v)]],
      ['objectReader', (v) => [...objectReader(v)]],
      ['reReader', (v) => [...reReader(/x/, v)]],
    ];
    for (const [name, read] of readers) {
      expect(() => read(42), name).toThrow(new TypeError(`${name}: number is not a readable stream`));
      expect(() => read({ notRead: true }), name).toThrow(`${name}: object is not a readable stream`);
      // What they accept: text, bytes and objects with read(n).
      expect(() => read(''), name).not.toThrow();
    }
    const writers: [string, (v: unknown) => unknown][] = [
      ['netstrWriter', (v) => netstrWriter(v)],
      ['objectWriter', (v) => objectWriter(v)],
      ['discoOutputStream', (v) => discoOutputStream(v)],
      ['recordWriter', (v) => recordWriter(v)],
    ];
    for (const [name, open] of writers) {
      expect(() => open(null), name).toThrow(new TypeError(`${name} needs a stream with a write() method`));
      expect(() => open({ add() {} }), name).toThrow(`${name} needs a stream with a write() method`);
      expect(() => open(new Sink()), name).not.toThrow();
    }
  });
});
