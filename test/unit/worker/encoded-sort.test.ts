/**
 * The sort's encoded-record path: a reduce with `sort: true` and the default reader takes the
 * records of record-format inputs as their bytes (`readEncodedRecords`) and decodes them once,
 * after the sort. It must give exactly what decoding first gives — the same (key, value)
 * sequence, equal keys in input order — whatever the keys: strings (non-ASCII, shared
 * prefixes, lone surrogates, bytes that are not UTF-8 from foreign writers), numbers, Buffers,
 * null, arrays, and hunks the fast path does not take (extension types).
 */
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BufferSource,
  EncodedRecord,
  type KV,
  packValue,
  RecordWriter,
  readEncodedRecords,
  readRecords,
  scanValues,
  sliceRecords,
  valueStarts,
} from '../../../src/protocol/record-stream.js';
import { compareKeys } from '../../../src/worker/key-order.js';
import { runReduce } from '../../../src/worker/reduce.js';
import { externalSort, type SortStats } from '../../../src/worker/sort/external-sort.js';
import { tempDir } from './helpers.js';
import { inProcessRun } from './task-run-fixture.js';

/** Strings that share prefixes, straddle the 6-byte key prefix and U+D000, or are anything. */
const stringKey = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({
    unit: fc.constantFrom(
      'a',
      'b',
      '\u0000',
      '\u00e9',
      '\u07ff',
      '\u0800',
      '\ucfff',
      '\ud000',
      '\ud800',
      '\ud83d\ude00',
      '\uffff',
    ),
  }),
  fc
    .tuple(fc.constantFrom('', 'prefix', 'prefix-prefix-'), fc.string({ maxLength: 3 }))
    .map(([a, b]) => a + b),
  fc.string({ unit: 'grapheme', minLength: 60, maxLength: 70 }),
);
const bufferKey = fc
  .oneof(fc.uint8Array({ maxLength: 9 }), fc.constantFrom([], [0], [1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6, 0]))
  .map((b) => Buffer.from(b));
const anyKey = fc.oneof(
  stringKey,
  bufferKey,
  fc.integer({ min: -40, max: 40 }),
  fc.double({ noNaN: true, min: -1e6, max: 1e6 }),
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.oneof(fc.string({ maxLength: 2 }), fc.integer({ min: -3, max: 3 })), { maxLength: 3 }),
);
const value = fc.oneof(
  fc.integer(),
  fc.string({ maxLength: 30 }),
  bufferKey,
  fc.constant(null),
  fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), bufferKey), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
  // An extension type: its hunk is decoded whole (not taken as bytes).
  fc.constant(new Date(86400000)),
);

/** Records of one of the key families: all strings, all Buffers, or anything. */
const records = fc.oneof(
  fc.array(fc.tuple(stringKey, value), { maxLength: 250 }),
  fc.array(fc.tuple(bufferKey, value), { maxLength: 250 }),
  fc.array(fc.tuple(anyKey, value), { maxLength: 250 }),
  fc.array(fc.tuple(fc.oneof(stringKey, stringKey, stringKey, anyKey), value), { maxLength: 250 }),
);

/** `recs` as record streams: split over `files` inputs, in small hunks, some compressed. */
function streams(recs: KV[], files: number, hunkSize: number): Buffer[] {
  const out: Buffer[] = [];
  for (let f = 0; f < files; f++) {
    const hunks: Buffer[] = [];
    const w = new RecordWriter((h) => hunks.push(h), { compress: f % 2 === 0, hunkSize });
    for (let i = f; i < recs.length; i += files) w.write(recs[i][0], recs[i][1]);
    w.close();
    out.push(Buffer.concat(hunks));
  }
  return out;
}

function* chain<T>(iters: Iterable<T>[]): Generator<T> {
  for (const it of iters) yield* it;
}

/** Stable sort by `compareKeys` (the reference). */
function stableSort(recs: KV[]): KV[] {
  return recs
    .map((r, i) => [r, i] as const)
    .sort((a, b) => compareKeys(a[0][0], b[0][0]) || a[1] - b[1])
    .map(([r]) => r);
}

/** The records of `inputs` in input order (file by file), decoded. */
function decodedInput(inputs: Buffer[]): KV[] {
  return [...chain(inputs.map((b) => readRecords(new BufferSource(b))))];
}

describe('the sort of encoded records', () => {
  it('gives what sorting the decoded records gives, stable, any keys, spilled or not (property)', () => {
    const dir = tempDir();
    let spilled = 0;
    fc.assert(
      fc.property(
        records,
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 40, max: 4000 }),
        fc.oneof(fc.integer({ min: 300, max: 6000 }), fc.constant(1 << 20)),
        fc.integer({ min: 2, max: 5 }),
        (recs, files, hunkSize, bufferSize, fanIn) => {
          const inputs = streams(recs as KV[], files, hunkSize);
          const decoded = decodedInput(inputs);
          const want = [...externalSort(decoded, { bufferSize, tmpDir: dir, fanIn })];
          expect(want).toEqual(stableSort(decoded));
          const encoded = chain(inputs.map((b) => readEncodedRecords(new BufferSource(b))));
          const stats: SortStats = { records: 0, runs: 0, bytesSpilled: 0, mergePasses: 0 };
          const got = [...externalSort(encoded, { bufferSize, tmpDir: dir, fanIn, stats })];
          expect(got).toEqual(want);
          expect(stats.records).toBe(recs.length);
          // Run counts may differ: bytes as read can be longer or shorter than the same
          // values encoded again (a lone surrogate, a map's encoding), so where a run is cut
          // moves. The order must not.
          if (stats.runs > 0) spilled++;
          expect(readdirSync(dir)).toEqual([]);
        },
      ),
      { numRuns: 250 },
    );
    // The merge of spilled runs was exercised, not only the in-memory sort.
    expect(spilled).toBeGreaterThan(8);
  });

  it('orders string keys whose bytes are not UTF-8 (a foreign writer) as their decoded strings', () => {
    const dir = tempDir();
    // Raw key bytes: stray continuation bytes, truncated and overlong sequences, a lone
    // surrogate's 3-byte form, and valid keys around them.
    const keyBytes = fc.oneof(
      fc.uint8Array({ maxLength: 8 }),
      fc
        .array(
          fc.constantFrom(
            0x41,
            0x7a,
            0x80,
            0xbf,
            0xc0,
            0xc3,
            0xa9,
            0xe0,
            0xe2,
            0x82,
            0xac,
            0xed,
            0xa0,
            0xef,
            0xf0,
            0xff,
          ),
          {
            maxLength: 8,
          },
        )
        .map((a) => Uint8Array.from(a)),
      fc
        .constantFrom('abc', 'ab\u00e9', '\u00e9', 'a\u4e00', '\ud83d\ude00')
        .map((s) => new Uint8Array(Buffer.from(s))),
    );
    fc.assert(
      fc.property(
        fc.array(keyBytes, { maxLength: 120 }),
        fc.integer({ min: 200, max: 3000 }),
        (keys, bufferSize) => {
          // One uncompressed hunk of str8 keys with the raw bytes, values their index.
          const parts: Buffer[] = [];
          keys.forEach((k, i) => {
            parts.push(Buffer.from([0xd9, k.length]), Buffer.from(k), packValue(i));
          });
          const body = Buffer.concat(parts);
          const header = Buffer.alloc(14);
          header[0] = 0x82;
          header.writeUInt32LE(zlib.crc32(body), 2);
          header.writeBigUInt64LE(BigInt(body.length), 6);
          const input = Buffer.concat([header, body]);
          const decoded = decodedInput([input]);
          const want = [...externalSort(decoded, { bufferSize, tmpDir: dir, fanIn: 3 })];
          expect(want).toEqual(stableSort(decoded));
          const got = [
            ...externalSort(readEncodedRecords(new BufferSource(input)), {
              bufferSize,
              tmpDir: dir,
              fanIn: 3,
            }),
          ];
          expect(got).toEqual(want);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reads records as bytes, as readRecords reads them decoded (property)', () => {
    fc.assert(
      fc.property(records, fc.integer({ min: 20, max: 2000 }), (recs, hunkSize) => {
        const [input] = streams(recs as KV[], 1, hunkSize);
        const got: KV[] = [];
        let encoded = 0;
        const it = readEncodedRecords(new BufferSource(input));
        for (const r of it) {
          if (r instanceof EncodedRecord) {
            encoded++;
            const vals = readRecordBytes(r);
            expect(r.valueAt).toBeGreaterThan(r.start);
            got.push(vals);
          } else got.push(r);
        }
        expect(got).toEqual([...readRecords(new BufferSource(input))]);
        if (recs.length > 0 && recs.every(([, v]) => !(v instanceof Date))) expect(encoded).toBe(recs.length);
      }),
      { numRuns: 200 },
    );
  });

  it('gives decoded records once one was decoded', () => {
    const recs: KV[] = Array.from({ length: 2000 }, (_, i) => [`k${i % 37}`, i]);
    const [input] = streams(recs, 1, 4096);
    const it = readEncodedRecords(new BufferSource(input));
    const first = it.next().value as EncodedRecord;
    expect(first).toBeInstanceOf(EncodedRecord);
    expect(first.decode()).toEqual(['k0', 0]);
    const rest = [...it];
    expect(rest.every((r) => Array.isArray(r))).toBe(true);
    expect(rest).toEqual(recs.slice(1));
  });

  it('scans value starts where sliceRecords cuts, and refuses extension types', () => {
    const w: Buffer[] = [];
    const writer = new RecordWriter((h) => w.push(h), { compress: false });
    for (let i = 0; i < 50; i++) writer.write(`key${i}`, i % 2 ? [i, 'x'.repeat(i)] : { a: i });
    writer.close();
    const body = w[0].subarray(14);
    const starts = valueStarts();
    expect(scanValues(body, starts)).toBe(true);
    expect(starts.count).toBe(100);
    expect(starts.at[100]).toBe(body.length);
    const cuts = sliceRecords(body, 64);
    expect(
      cuts?.at.every((c) => c === body.length || Array.from(starts.at.subarray(0, 100)).includes(c)),
    ).toBe(true);
    expect(scanValues(Buffer.concat([packValue('k'), packValue(new Date(0))]), starts)).toBe(false);
  });
});

/** Decode an encoded record from its bytes (what the sort does after the merge). */
function readRecordBytes(r: EncodedRecord): KV {
  const body = Buffer.from(r.buf.subarray(r.start, r.end));
  const header = Buffer.alloc(14);
  header[0] = 0x82;
  header.writeUInt32LE(zlib.crc32(body), 2);
  header.writeBigUInt64LE(BigInt(body.length), 6);
  return [...readRecords(new BufferSource(Buffer.concat([header, body])))][0];
}

describe('a reduce with sort: true over record files', () => {
  it('gives the same entries with the default reader (bytes) as with a decoding reader', () => {
    const dir = tempDir();
    const recs: KV[] = [];
    for (let i = 0; i < 30000; i++)
      recs.push([
        i % 1000 === 7 ? Buffer.from(`b${i % 13}`) : `w\u00e9${(i * 7919) % 4001}`,
        [i, 'v'.repeat(i % 40)],
      ]);
    const inputs = streams(recs, 3, 64 << 10);
    const files = inputs.map((b, i) => {
      const f = path.join(dir, `in-${i}`);
      writeFileSync(f, b);
      return `file://${f}`;
    });
    const sortedBy = (reduceReader: unknown) => {
      const seen: KV[] = [];
      const run = inProcessRun(
        'reduce',
        {
          reduce: ((iter: Iterable<KV>) => {
            for (const kv of iter) seen.push(kv);
            return [];
          }) as never,
          ...(reduceReader ? { reduceReader: reduceReader as never } : {}),
        },
        files,
        { sort: true, sortBufferSize: 64 << 10, statusInterval: 0 },
      );
      runReduce(run);
      run.outputs.closeAll();
      expect(run.msgs.some((m) => /Sorted 30000 entries: \d+ runs/.test(m))).toBe(true);
      return seen;
    };
    const decoding = (stream: unknown, _size: unknown, url: string) =>
      readRecords(stream as BufferSource, { url });
    const want = sortedBy(decoding);
    expect(want).toEqual(stableSort(decodedInput(inputs)));
    expect(sortedBy(undefined)).toEqual(want);
  });
});
