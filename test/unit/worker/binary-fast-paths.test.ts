/**
 * The data path's fast paths for binary (Buffer) keys and values — what external programs
 * give — agree with the plain paths: Buffers are encoded byte for byte as msgpackr encodes
 * them, decoded into Buffers that share no reader buffer (and hold little memory), sorted and
 * grouped in the bytewise order of `compareKeys`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BufferSource,
  DETACHED_BYTES,
  encodeBinary,
  HunkReader,
  PackBuffer,
  packValue,
  RecordWriter,
  unpackValues,
} from '../../../src/protocol/record-stream.js';
import { kvgroup } from '../../../src/worker/func.js';
import { compareBinary, compareKeys, keysEqual } from '../../../src/worker/key-order.js';
import { externalSort, type SortStats } from '../../../src/worker/sort/external-sort.js';
import { bytesPrefix } from '../../../src/worker/sort/key-prefix.js';
import { fileRoundTrip, tempDir } from './helpers.js';

type KV = [unknown, unknown];

/** Bytes that share prefixes, hold zeros and 0xff, and straddle the 6-byte key prefix. */
const trickyBytes = fc.oneof(
  fc.uint8Array({ maxLength: 12 }),
  fc.uint8Array({ minLength: 60, maxLength: 80 }),
  fc
    .tuple(
      fc.constantFrom([], [1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6, 7]),
      fc.array(fc.constantFrom(0, 1, 0x7f, 0xed, 0xff), { maxLength: 4 }),
    )
    .map(([a, b]) => Uint8Array.from([...a, ...b])),
);
const trickyBuffer = trickyBytes.map((u) => Buffer.from(u));

/** What the record format gives back for `v` (a Buffer for a Buffer). */
const roundTrip = (v: unknown) => unpackValues(packValue(v))[0];

/** The reference: a stable in-memory sort by `compareKeys` of what the record format gives back. */
function reference(records: readonly KV[]): KV[] {
  return records
    .map(([k, v], i) => [[roundTrip(k), roundTrip(v)] as KV, i] as const)
    .sort((a, b) => compareKeys(a[0][0], b[0][0]) || a[1] - b[1])
    .map(([r]) => r);
}

describe('binary values in the record format', () => {
  it('are encoded byte for byte as msgpackr encodes Buffers (property)', () => {
    const buf = Buffer.alloc(80000);
    const sizes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.constantFrom(0, 16, 17, 255, 256, 65535, 65536, 70000).map((n) => new Uint8Array(n).fill(n & 0xff)),
    );
    fc.assert(
      fc.property(sizes, fc.integer({ min: 0, max: 7 }), (u, at) => {
        const b = Buffer.from(u);
        const end = encodeBinary(buf, at, b);
        expect(buf.subarray(at, end).equals(packValue(b))).toBe(true);
        const p = new PackBuffer(4);
        p.pack(b);
        expect(p.buf.subarray(0, p.off).equals(packValue(b))).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('leave other typed arrays to msgpackr (its typed-array extension), views included', () => {
    const whole = Buffer.from('0123456789');
    for (const v of [new Uint8Array([1, 2, 3]), whole.subarray(2, 5), new Uint16Array([1, 513])]) {
      const p = new PackBuffer(4);
      p.pack(v);
      expect(p.buf.subarray(0, p.off).equals(packValue(v))).toBe(true);
    }
    // A view of a bigger Buffer is still a Buffer: only its bytes are written.
    expect(roundTrip(whole.subarray(2, 5))).toEqual(Buffer.from('234'));
  });

  it('RecordWriter writes the bodies msgpackr would, Buffers among other values (property)', () => {
    const value = fc.oneof(trickyBuffer, fc.string(), fc.integer(), fc.array(trickyBuffer, { maxLength: 3 }));
    fc.assert(
      fc.property(fc.array(fc.tuple(value, value), { maxLength: 40 }), (records) => {
        const hunks: Buffer[] = [];
        const w = new RecordWriter((h) => hunks.push(h), { compress: false });
        for (const [k, v] of records) w.write(k, v);
        w.close();
        const body = Buffer.concat(records.flatMap(([k, v]) => [packValue(k), packValue(v)]));
        expect(
          Buffer.concat(hunks)
            .subarray(14, 14 + body.length)
            .equals(body),
        ).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('are decoded into Buffers that share neither the reader buffers nor whole hunks', () => {
    const dir = tempDir();
    for (const compress of [false, true]) {
      const want: KV[] = [];
      for (let i = 0; i < 20000; i++) {
        const rec: KV = [Buffer.from(`key-${i % 977}`), Buffer.from([i & 0xff, (i >> 8) & 0xff])];
        if (i % 1000 === 0) rec[1] = Buffer.alloc(20000, i & 0xff);
        want.push(rec);
      }
      const got = fileRoundTrip(dir, `r-${compress}`, want, { compress, hunkSize: 64 << 10 });
      // Kept after the reader reused its buffers for every later hunk: still intact.
      expect(got).toEqual(want);
      for (const [k, v] of got) {
        expect(Buffer.isBuffer(k) && Buffer.isBuffer(v)).toBe(true);
        // A kept small value holds a piece of a few KiB, never a hunk.
        const small = (v as Buffer).length < 100;
        if (small) expect((v as Buffer).buffer.byteLength).toBeLessThanOrEqual(DETACHED_BYTES + 100);
        expect((k as Buffer).buffer.byteLength).toBeLessThanOrEqual(DETACHED_BYTES + 20100);
      }
      // Changing one value changes no other.
      (got[0][0] as Buffer).fill(0x21);
      expect(got[1][0]).toEqual(Buffer.from('key-1'));
    }
  });

  it('are decoded alike in slices of any size (property)', () => {
    const value = fc.oneof(
      trickyBuffer,
      fc.string({ maxLength: 5 }),
      fc.integer(),
      fc.uint8Array({ minLength: 9000, maxLength: 9100 }).map((u) => Buffer.from(u)),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(value, value), { maxLength: 60 }),
        fc.integer({ min: 1, max: 1 << 17 }),
        (records, sliceBytes) => {
          const hunks: Buffer[] = [];
          const w = new RecordWriter((h) => hunks.push(h), { compress: false, hunkSize: 30000 });
          for (const [k, v] of records) w.write(k, v);
          w.close();
          const got: unknown[] = [];
          const r = new HunkReader(new BufferSource(Buffer.concat(hunks)), { sliceBytes });
          for (let vals = r.next(); vals !== null; vals = r.next()) got.push(...vals);
          expect(got).toEqual(records.flat().map(roundTrip));
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('binary key order', () => {
  it('compareBinary is Buffer.compare, keysEqual its equality (property)', () => {
    fc.assert(
      fc.property(trickyBytes, trickyBytes, (a, b) => {
        const want = Buffer.compare(Buffer.from(a), Buffer.from(b));
        expect(compareBinary(a, b)).toBe(want);
        expect(compareKeys(Buffer.from(a), b)).toBe(want);
        expect(keysEqual(Buffer.from(a), Buffer.from(b))).toBe(want === 0);
      }),
      { numRuns: 2000 },
    );
    // Binary keys still order after strings and before dates, whatever their bytes.
    expect(compareKeys('zzz', Buffer.from([0]))).toBeLessThan(0);
    expect(compareKeys(Buffer.from([0xff]), new Date(0))).toBeLessThan(0);
    expect(keysEqual(Buffer.from('a'), 'a')).toBe(false);
  });

  it('bytesPrefix never orders two keys against compareKeys (property)', () => {
    fc.assert(
      fc.property(trickyBytes, trickyBytes, fc.integer({ min: 0, max: 3 }), (a, b, at) => {
        const c = compareKeys(Buffer.from(a), Buffer.from(b));
        const pa = bytesPrefix(Buffer.concat([Buffer.alloc(at, 9), a]), at, at + a.length);
        const pb = bytesPrefix(b, 0, b.length);
        if (c < 0) expect(pa).toBeLessThanOrEqual(pb);
        if (c > 0) expect(pa).toBeGreaterThanOrEqual(pb);
        if (c === 0) expect(pa).toBe(pb);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('binary-key sort', () => {
  it('sorts Buffer keys like a stable in-memory sort, spilled or not (property)', () => {
    const dir = tempDir();
    const value = fc.oneof(fc.integer(), trickyBuffer, fc.string({ maxLength: 3 }));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(trickyBuffer, value), { maxLength: 400 }),
        fc.integer({ min: 100, max: 20000 }),
        fc.integer({ min: 2, max: 6 }),
        (records, bufferSize, fanIn) => {
          const stats: SortStats = { records: 0, runs: 0, bytesSpilled: 0, mergePasses: 0 };
          const got = [...externalSort(records, { bufferSize, tmpDir: dir, fanIn, stats })];
          expect(got).toEqual(reference(records));
          expect(stats.records).toBe(records.length);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('sorts long runs of equal and near-equal Buffer keys, stable, through merge passes', () => {
    const dir = tempDir();
    const stats: SortStats = { records: 0, runs: 0, bytesSpilled: 0, mergePasses: 0 };
    const keys = ['b', 'a', 'ab', 'ba', 'a\u0000', '', 'abcdefgh', 'abcdefgi', 'abcdefgh\u0000'].map((s) =>
      Buffer.from(s),
    );
    const n = 30000;
    const input = function* (): Generator<KV> {
      for (let i = 0; i < n; i++) yield [keys[(i * 7) % keys.length], i];
    };
    for (const bufferSize of [16 << 10, 64 << 20]) {
      const out = [...externalSort(input(), { bufferSize, tmpDir: dir, fanIn: 4, stats })];
      expect(out).toHaveLength(n);
      for (let i = 1; i < n; i++) {
        const c = compareKeys(out[i - 1][0], out[i][0]);
        expect(c).toBeLessThanOrEqual(0);
        if (c === 0) expect(out[i - 1][1] as number).toBeLessThan(out[i][1] as number);
      }
    }
    expect(stats.mergePasses).toBeGreaterThan(1);
  });

  it('keeps the order when string, Buffer and other keys meet in one sort', () => {
    const dir = tempDir();
    const records: KV[] = [];
    for (let i = 0; i < 3000; i++) {
      // Strings first, then Buffers (runs of each kind), a typed array and a number among them.
      const k = i < 1000 ? `k${(i * 7919) % 97}` : Buffer.from(`k${(i * 7919) % 89}`);
      records.push([i === 2000 ? new Uint8Array([107, 1]) : i === 2500 ? 7 : k, Buffer.from([i & 0xff])]);
    }
    for (const bufferSize of [2000, 20000, 1 << 20])
      expect([...externalSort(records, { bufferSize, tmpDir: dir, fanIn: 3 })]).toEqual(reference(records));
  });

  it('groups what the sort gives with kvgroup (Buffer keys)', () => {
    const dir = tempDir();
    const records: KV[] = Array.from({ length: 5000 }, (_, i) => [
      Buffer.from(`w${(i * 31) % 50}`),
      Buffer.from('1'),
    ]);
    const groups: [string, number][] = [];
    for (const [k, vs] of kvgroup(externalSort(records, { bufferSize: 8000, tmpDir: dir })))
      groups.push([(k as Buffer).toString(), [...vs].length]);
    expect(groups).toHaveLength(50);
    expect(groups.map(([k]) => k)).toEqual(groups.map(([k]) => k).sort());
    for (const [, n] of groups) expect(n).toBe(100);
  });
});
