/**
 * The worker's data-path fast paths give exactly what the plain paths give: hand-written
 * MessagePack encoding (same bytes as msgpackr), hunks decoded in slices, the string-key sort,
 * the `sumCombiner` map sink and its memory bound, and the partition hash.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BufferSource,
  encodeNumber,
  encodeString,
  FileSource,
  HunkReader,
  packValue,
  RecordWriter,
  readRecords,
  sliceRecords,
  unpackValues,
} from '../../../src/protocol/record-stream.js';
import { MAP_LIMITS } from '../../../src/worker/combine.js';
import { defaultPartition, FUNC_LIMITS, kvgroup, sumCombiner } from '../../../src/worker/func.js';
import { compareKeys, fnv1aBytes, fnv1aString } from '../../../src/worker/key-order.js';
import { runMap } from '../../../src/worker/map.js';
import { splitLines } from '../../../src/worker/readers/lines.js';
import { externalSort, type SortStats } from '../../../src/worker/sort/external-sort.js';
import { keyPrefix, utf8Prefix } from '../../../src/worker/sort/key-prefix.js';
import type { JobFunctions, UserFunction } from '../../../src/worker/user-code.js';
import { fileRoundTrip, tempDir } from './helpers.js';
import { inProcessRun } from './task-run-fixture.js';

/** Any JavaScript string: every UTF-16 unit, lone surrogates included. */
const anyString = fc.string({ unit: 'binary', maxLength: 80 });
/** Strings that share prefixes and straddle the fast paths' limits. */
const trickyString = fc.oneof(
  anyString,
  fc.string({ unit: fc.constantFrom('a', 'b', '\u0000', '\u00fe', '\u00ff', '\u0100', '\ud000', '\ue000') }),
  fc
    .tuple(fc.constantFrom('', 'prefix-', 'prefix-prefix-'), fc.string({ maxLength: 4 }))
    .map(([a, b]) => a + b),
  fc.string({ minLength: 60, maxLength: 70 }),
);

describe('MessagePack fast paths', () => {
  it('encode strings byte for byte as msgpackr (property)', () => {
    const buf = Buffer.alloc(1 << 20);
    fc.assert(
      fc.property(fc.oneof(anyString, trickyString, fc.string({ minLength: 200, maxLength: 300 })), (s) => {
        const end = encodeString(buf, 3, s);
        expect(buf.subarray(3, end).equals(packValue(s))).toBe(true);
      }),
      { numRuns: 500 },
    );
    for (const n of [31, 32, 63, 64, 255, 256, 65535, 65536, 70000]) {
      for (const ch of ['a', 'é', '\u4e00', '\ud83d\ude00', '\ud800']) {
        const s = ch.repeat(Math.ceil(n / ch.length)).slice(0, n);
        const end = encodeString(buf, 0, s);
        expect(buf.subarray(0, end).equals(packValue(s))).toBe(true);
      }
    }
  });

  it('encode numbers byte for byte as msgpackr (property)', () => {
    const buf = Buffer.alloc(16);
    const numbers = fc.oneof(
      fc.integer(),
      fc.double(),
      fc.constantFrom(0, -0, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, -32, -33, -128, -129),
      fc.constantFrom(
        -32768,
        -32769,
        -(2 ** 31),
        -(2 ** 31) - 1,
        2 ** 53,
        Number.NaN,
        Number.POSITIVE_INFINITY,
      ),
    );
    fc.assert(
      fc.property(numbers, (n) => {
        const end = encodeNumber(buf, 1, n);
        expect(buf.subarray(1, end)).toEqual(packValue(n));
      }),
      { numRuns: 1000 },
    );
  });

  it('RecordWriter writes the same bodies as msgpackr would', () => {
    const value = fc.oneof(
      anyString,
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.array(fc.oneof(fc.integer(), fc.string())),
      fc.dictionary(fc.string(), fc.integer()),
      fc.uint8Array().map((u) => Buffer.from(u)),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(value, value), { maxLength: 40 }), (records) => {
        const hunks: Buffer[] = [];
        const w = new RecordWriter((h) => hunks.push(h), { compress: false });
        for (const [k, v] of records) w.write(k, v);
        w.close();
        const body = Buffer.concat(records.flatMap(([k, v]) => [packValue(k), packValue(v)]));
        const got = Buffer.concat(hunks);
        if (records.length === 0) expect(got.length).toBe(14);
        else expect(got.subarray(14, 14 + body.length)).toEqual(body);
      }),
      { numRuns: 200 },
    );
  });
});

describe('reading hunks in slices', () => {
  const value = fc.oneof(
    anyString,
    fc.integer(),
    fc.double(),
    fc.constant(null),
    fc.constant(undefined),
    fc.date({ noInvalidDate: true }),
    fc.array(fc.oneof(fc.string(), fc.integer(), fc.array(fc.integer())), { maxLength: 20 }),
    fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer())),
    fc.uint8Array().map((u) => Buffer.from(u)),
    fc.string({ minLength: 300, maxLength: 2000 }),
  );

  it('gives every record of every hunk, whatever the slice size (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(value, value), { maxLength: 60 }),
        fc.integer({ min: 1, max: 4096 }),
        fc.boolean(),
        (records, sliceBytes, compress) => {
          const hunks: Buffer[] = [];
          const w = new RecordWriter((h) => hunks.push(h), { compress, hunkSize: 2000 });
          for (const [k, v] of records) w.write(k, v);
          w.close();
          const data = Buffer.concat(hunks);
          const want = records.map(([k, v]) => unpackValues(Buffer.concat([packValue(k), packValue(v)])));
          const got: unknown[][] = [];
          const r = new HunkReader(new BufferSource(data), { sliceBytes });
          for (let vals = r.next(); vals !== null; vals = r.next()) {
            expect(vals.length % 2).toBe(0);
            for (let i = 0; i < vals.length; i += 2) got.push([vals[i], vals[i + 1]]);
          }
          expect(got).toEqual(want);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('cuts only between records, and tells an odd number of values', () => {
    const body = Buffer.concat(['a', 1, 'bb', [1, 2], 'ccc', { x: 'y' }].map((v) => packValue(v)));
    const cuts = sliceRecords(body, 1);
    expect(cuts?.odd).toBe(false);
    expect(cuts?.at).toEqual([0, 3, 9, 18]);
    expect(sliceRecords(Buffer.concat([body, packValue('odd')]), 1)?.odd).toBe(true);
    // Extension types are left to msgpackr, whole.
    expect(sliceRecords(Buffer.concat([packValue('k'), packValue(undefined)]), 1)).toBeNull();
    // Truncated data is not sliced (msgpackr reports it).
    expect(sliceRecords(packValue('hello').subarray(0, 3), 1)).toBeNull();
  });

  it('reads hunks through a reused buffer from files', () => {
    const want: [unknown, unknown][] = [];
    for (let i = 0; i < 500; i++) want.push([`key-${i}`, Buffer.from([i & 0xff, 1, 2])]);
    const got = fileRoundTrip(tempDir(), 'r', want, { compress: false, hunkSize: 100 });
    // Binary values are copies: the reader's buffer was reused many times over.
    expect(got).toEqual(want);
  });
});

describe('string-key sort', () => {
  it('keyPrefix never orders two keys against compareKeys (property)', () => {
    fc.assert(
      fc.property(trickyString, trickyString, (a, b) => {
        const c = compareKeys(a, b);
        if (c < 0) expect(keyPrefix(a)).toBeLessThanOrEqual(keyPrefix(b));
        if (c > 0) expect(keyPrefix(a)).toBeGreaterThanOrEqual(keyPrefix(b));
        if (c === 0) expect(keyPrefix(a)).toBe(keyPrefix(b));
      }),
      { numRuns: 2000 },
    );
  });

  it('utf8Prefix never orders two keys against compareKeys (property)', () => {
    const buf = Buffer.alloc(4096);
    const prefixOf = (s: string) => {
      // The key as the record format holds it (after its MessagePack header).
      const end = encodeString(buf, 0, s);
      const h = buf[0];
      return utf8Prefix(buf, h < 0xc0 ? 1 : h === 0xd9 ? 2 : 3, end);
    };
    const roundTrip = (s: string) => unpackValues(packValue(s))[0] as string;
    fc.assert(
      fc.property(trickyString, trickyString, (a0, b0) => {
        // Order is what the decoded keys give.
        const [a, b] = [roundTrip(a0), roundTrip(b0)];
        const c = compareKeys(a, b);
        if (c < 0) expect(prefixOf(a0)).toBeLessThanOrEqual(prefixOf(b0));
        if (c > 0) expect(prefixOf(a0)).toBeGreaterThanOrEqual(prefixOf(b0));
      }),
      { numRuns: 2000 },
    );
  });

  it('sorts string keys like a stable in-memory sort of what MessagePack gives back (property)', () => {
    const dir = tempDir();
    const roundTrip = (v: unknown) => unpackValues(packValue(v))[0];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(trickyString, fc.integer()), { maxLength: 400 }),
        fc.integer({ min: 100, max: 5000 }),
        fc.integer({ min: 2, max: 6 }),
        (records, bufferSize, fanIn) => {
          const want = records
            .map(([k, v], i) => [[roundTrip(k), v] as [unknown, unknown], i] as const)
            .sort((a, b) => compareKeys(a[0][0], b[0][0]) || a[1] - b[1])
            .map(([r]) => r);
          const stats: SortStats = { records: 0, runs: 0, bytesSpilled: 0, mergePasses: 0 };
          const got = [...externalSort(records, { bufferSize, tmpDir: dir, fanIn, stats })];
          expect(got).toEqual(want);
          expect(stats.records).toBe(records.length);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('keeps order and stability when a non-string key turns up mid-way', () => {
    const dir = tempDir();
    const records: [unknown, unknown][] = [];
    for (let i = 0; i < 3000; i++) records.push([i === 1500 ? 7 : `k${(i * 7919) % 97}`, i]);
    const want = records
      .map((r, i) => [r, i] as const)
      .sort((a, b) => compareKeys(a[0][0], b[0][0]) || a[1] - b[1])
      .map(([r]) => r);
    for (const bufferSize of [1000, 20000, 1 << 20])
      expect([...externalSort(records, { bufferSize, tmpDir: dir, fanIn: 3 })]).toEqual(want);
  });

  it('spills long runs of short keys (equal prefixes are equal keys)', () => {
    const dir = tempDir();
    const stats: SortStats = { records: 0, runs: 0, bytesSpilled: 0, mergePasses: 0 };
    const n = 50000;
    const input = function* (): Generator<[string, number]> {
      for (let i = 0; i < n; i++) yield [['b', 'a', 'ab', 'ba', 'a\u0000', ''][i % 6], i];
    };
    const out = [...externalSort(input(), { bufferSize: 64 << 10, tmpDir: dir, fanIn: 4, stats })];
    expect(out).toHaveLength(n);
    for (let i = 1; i < n; i++) {
      const c = compareKeys(out[i - 1][0], out[i][0]);
      expect(c).toBeLessThanOrEqual(0);
      if (c === 0) expect(out[i - 1][1] as number).toBeLessThan(out[i][1] as number);
    }
    expect(stats.runs).toBeGreaterThan(4);
    expect(stats.mergePasses).toBeGreaterThan(1);
    expect(stats.bytesSpilled).toBeGreaterThan(0);
  });
});

/** Run a map; the records of each output, by label. */
function mapOutputs(fns: JobFunctions, text: string, partitions: number): Map<string, [unknown, unknown][]> {
  const run = inProcessRun('map', fns, [`raw://${text}`], { partitions });
  const outs = runMap(run);
  run.outputs.closeAll();
  const got = new Map<string, [unknown, unknown][]>();
  for (const o of outs) {
    const src = new FileSource(o.abs);
    got.set(o.label, [...readRecords(src)] as [unknown, unknown][]);
    src.close();
  }
  return got;
}

/** The sums per key of all outputs. */
function totals(outs: Map<string, [unknown, unknown][]>): Map<string, number> {
  const t = new Map<string, number>();
  for (const recs of outs.values())
    for (const [k, v] of recs) t.set(JSON.stringify(k), (t.get(JSON.stringify(k)) ?? 0) + (v as number));
  return t;
}

describe('map sinks', () => {
  const saved = { ...MAP_LIMITS };
  const savedFunc = { ...FUNC_LIMITS };
  afterEach(() => {
    Object.assign(MAP_LIMITS, saved);
    Object.assign(FUNC_LIMITS, savedFunc);
  });

  // Keys of every kind: strings (some long, some alike), numbers, arrays.
  const map: UserFunction = (line) => {
    const out: [unknown, unknown][] = [];
    for (const w of String(line).split(' ')) {
      if (!w) continue;
      out.push([w, 1]);
      if (w.length % 3 === 0) out.push([w.length, 2]);
      if (w.length % 4 === 0) out.push([[w[0], w.length], 3]);
    }
    return out;
  };
  const text = fc
    .array(
      fc.array(
        fc.oneof(
          fc.constantFrom('a', 'bb', 'ccc', 'dddd', 'this-is-a-long-word'),
          fc.string({ minLength: 1 }),
        ),
        { maxLength: 12 },
      ),
      { maxLength: 30 },
    )
    .map((lines) => lines.map((ws) => ws.map((w) => w.replace(/[\s\n\r]/g, 'x')).join(' ')).join('\n'));

  it('sumCombiner with the default partition gives what the plain combiner path gives (property)', () => {
    // The same function behind a wrapper takes the generic path.
    const generic: UserFunction = (k, v, b, d, p) =>
      sumCombiner(k, v, b as Map<unknown, unknown>, d as boolean, p);
    fc.assert(
      fc.property(text, fc.integer({ min: 0, max: 4 }), (t, partitions) => {
        const fast = mapOutputs({ map, combiner: sumCombiner as UserFunction }, t, partitions);
        const plain = mapOutputs({ map, combiner: generic }, t, partitions);
        // Same totals, same labels; string keys in the same order within each output.
        expect(totals(fast)).toEqual(totals(plain));
        expect([...fast.keys()].sort()).toEqual([...plain.keys()].sort());
        for (const [label, recs] of fast) {
          const strings = (r: [unknown, unknown][]) => r.filter(([k]) => typeof k === 'string');
          expect(strings(recs)).toEqual(strings(plain.get(label) ?? []));
          if (partitions > 0)
            for (const [k] of recs) expect(String(defaultPartition(k, partitions))).toBe(label);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('flushes partial sums when it holds too much, results stay exact', () => {
    MAP_LIMITS.combineBytes = 2000;
    FUNC_LIMITS.sumCombinerKeys = 3;
    const words = Array.from({ length: 3000 }, (_, i) => `w${(i * 7919) % 211}`);
    const t = Array.from({ length: 100 }, (_, i) => words.slice(i * 30, i * 30 + 30).join(' ')).join('\n');
    const outs = mapOutputs({ map, combiner: sumCombiner as UserFunction }, t, 3);
    const recs = [...outs.values()].flat();
    const distinct = new Set(recs.map(([k]) => JSON.stringify(k)));
    // Flushed more than once: some keys were written several times.
    expect(recs.length).toBeGreaterThan(distinct.size);
    const want = new Map<string, number>();
    for (const line of t.split('\n'))
      for (const [k, v] of map(line) as [unknown, number][])
        want.set(JSON.stringify(k), (want.get(JSON.stringify(k)) ?? 0) + v);
    expect(totals(outs)).toEqual(want);
  });

  it('sumCombiner on its own returns its sums early past its key limit', () => {
    FUNC_LIMITS.sumCombinerKeys = 2;
    const buf = new Map<unknown, unknown>();
    expect(sumCombiner('a', 1, buf, false)).toBeUndefined();
    expect(sumCombiner('a', 1, buf, false)).toBeUndefined();
    expect([...(sumCombiner('b', 5, buf, false) ?? [])]).toEqual([
      ['a', 2],
      ['b', 5],
    ]);
    expect(buf.size).toBe(0);
    sumCombiner('a', 1, buf, false);
    expect([...(sumCombiner(null, null, buf, true) ?? [])]).toEqual([['a', 1]]);
  });

  it('groups what the sort gives (kvgroup over plain iterators)', () => {
    const pairs: [string, number][] = [
      ['a', 1],
      ['a', 2],
      ['b', 3],
    ];
    const got: [string, number[]][] = [];
    for (const [k, vs] of kvgroup(pairs)) got.push([k, [...vs]]);
    expect(got).toEqual([
      ['a', [1, 2]],
      ['b', [3]],
    ]);
  });
});

describe('line splitting into a reused buffer', () => {
  it('gives the lines whatever the pieces the source reads (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(fc.string({ unit: 'grapheme' }), fc.string()).map((l) => l.replace(/[\r\n]/g, '')),
          { maxLength: 20 },
        ),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 64 }),
        (lines, crlf, trailing, piece, chunk) => {
          const nl = crlf ? '\r\n' : '\n';
          let text = lines.join(nl);
          if (trailing && lines.length > 0) text += nl;
          const data = Buffer.from(text);
          let pos = 0;
          // A source that fills the caller's buffer at most `piece` bytes at a time.
          const src = {
            read: () => {
              throw new Error('readInto expected');
            },
            readInto(buf: Buffer, off: number, n: number): number {
              const m = Math.min(n, piece, data.length - pos);
              data.copy(buf, off, pos, pos + m);
              pos += m;
              return m;
            },
          };
          const want = text.split(nl);
          if (want[want.length - 1] === '') want.pop();
          expect([...splitLines(src, chunk)]).toEqual(want);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('partition hash', () => {
  it('hashes every string as its UTF-8 bytes, lone surrogates included (property)', () => {
    fc.assert(
      fc.property(fc.oneof(anyString, trickyString), (s) => {
        expect(fnv1aString(s)).toBe(fnv1aBytes(Buffer.from(s, 'utf8')));
      }),
      { numRuns: 2000 },
    );
  });
});
