import { randomFillSync } from 'node:crypto';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CRC_SCRATCH, crc32, crc32Module, crcMemory, crcStats } from '../../../src/common/crc32.js';
import { wasmMemory } from '../../../src/common/wasm.js';
import { CrcWorker, crcWorkerStats } from '../../../src/ddfs/client/hunk-crc.js';
import { lineRecordEncoder } from '../../../src/ddfs/client/line-records-wasm.js';

const MIB = 1 << 20;
/** Random bytes, with runs of zeros and of 0xff (the CRC's fixed points are worth hitting). */
const big = Buffer.allocUnsafeSlow(3 * MIB);
randomFillSync(big);
big.fill(0, MIB, MIB + 70_000);
big.fill(0xff, 2 * MIB, 2 * MIB + 70_000);

const init = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 32 - 1 }));

describe('crc32', () => {
  it('the module is there (this Node has WebAssembly SIMD)', () => {
    expect(crc32Module()).not.toBeNull();
  });

  it('equals zlib.crc32 for lengths 0..20000 at any offset, from any initial CRC', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20_000 }), fc.nat(15), init, (bytes, off, c) => {
        const b = Buffer.alloc(off + bytes.length);
        b.set(bytes, off);
        const view = b.subarray(off);
        expect(crc32(view, c)).toBe(zlib.crc32(view, c));
      }),
      { numRuns: 300 },
    );
  });

  it('equals zlib.crc32 for ordinary buffers around the copying sizes and ~1 MiB', () => {
    const length = fc.oneof(
      fc.integer({ min: 30_000, max: 140_000 }),
      fc.integer({ min: MIB - 70_000, max: MIB + 70_000 }),
    );
    fc.assert(
      fc.property(fc.nat(MIB), length, init, (off, len, c) => {
        const view = big.subarray(off, off + len);
        expect(crc32(view, c)).toBe(zlib.crc32(view, c));
      }),
      { numRuns: 80 },
    );
    expect(crc32(big)).toBe(zlib.crc32(big));
  });

  it('continues from a previous result', () => {
    const a = big.subarray(5, 100_005);
    const b = big.subarray(100_005, 300_000);
    expect(crc32(b, crc32(a))).toBe(zlib.crc32(big.subarray(5, 300_000)));
  });
});

describe('crcMemory', () => {
  for (const shared of [true, false]) {
    it(`computes in place on a ${shared ? 'shared' : 'plain'} WebAssembly memory, for any range`, () => {
      const pages = 3 * 16 + 1;
      const mem = wasmMemory(pages, shared);
      const bytes = new Uint8Array(mem.buffer, 0, 3 * MIB);
      bytes.set(big);
      const crcOf = crcMemory(mem, (pages - 1) * 65536);
      const small = fc.record({ start: fc.nat(3 * MIB - 20_000), len: fc.nat(20_000), c: init });
      const large = fc.record({
        start: fc.nat(MIB),
        len: fc.integer({ min: 20_000, max: 2 * MIB }),
        c: init,
      });
      fc.assert(
        fc.property(fc.oneof(small, large), ({ start, len, c }) => {
          const want = zlib.crc32(bytes.subarray(start, start + len), c);
          expect(crcOf(start, start + len, c)).toBe(want);
          // crc32 of a view of the memory goes to the same place.
          expect(crc32(bytes.subarray(start, start + len), c)).toBe(want);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('takes the WebAssembly path, and keeps views and ranges out of the scratch area', () => {
    const mem = wasmMemory(3, true);
    const bytes = new Uint8Array(mem.buffer);
    bytes.set(big.subarray(0, bytes.length));
    const crcOf = crcMemory(mem, 2 * 65536);
    const before = { ...crcStats };
    expect(crc32(bytes.subarray(100, 100_000))).toBe(zlib.crc32(bytes.subarray(100, 100_000)));
    expect(crcStats.wasm - before.wasm).toBe(1);
    // A view reaching into the scratch area: right all the same (by zlib), scratch untouched.
    const whole = Buffer.from(bytes);
    expect(crc32(bytes)).toBe(zlib.crc32(whole));
    expect(crcStats.wasm - before.wasm).toBe(1);
    expect(() => crcOf(0, 2 * 65536 + 1)).toThrow(RangeError);
    expect(() => crcOf(10, 5)).toThrow(RangeError);
  });

  it('leaves the memory outside its scratch area alone', () => {
    const mem = wasmMemory(3, true);
    const bytes = new Uint8Array(mem.buffer);
    bytes.set(big.subarray(0, bytes.length));
    const before = Buffer.from(bytes.subarray(0, 65536));
    const crcOf = crcMemory(mem, 65536);
    expect(crcOf(0, 65536)).toBe(zlib.crc32(before));
    expect(Buffer.from(bytes.subarray(0, 65536)).equals(before)).toBe(true);
    expect(CRC_SCRATCH).toBe(65536);
  });
});

describe('CrcWorker', () => {
  it("computes hunks' CRCs of an encoder's memory on a worker, in its own scratch area", async () => {
    const enc = lineRecordEncoder(4 * MIB);
    expect(enc).not.toBeNull();
    if (!enc) return;
    enc.buffer.set(big.subarray(0, 4 * MIB));
    const crcs = new CrcWorker();
    const before = { ...crcWorkerStats };
    try {
      const ranges: [number, number][] = [
        [0, 0],
        [3, 1000],
        [7, MIB + 7],
        [MIB, 4 * MIB],
        [12345, 12345 + 300_001],
      ];
      // At the same time on this thread (its own scratch area): no interference.
      const pending = ranges.map(([s, e]) => crcs.crc(enc, s, e));
      for (const [s, e] of ranges)
        expect(crc32(enc.buffer.subarray(s, e))).toBe(zlib.crc32(enc.buffer.subarray(s, e)));
      const got = await Promise.all(pending);
      expect(got).toEqual(ranges.map(([s, e]) => zlib.crc32(enc.buffer.subarray(s, e))));
      // By the module, not a silent fallback to zlib.
      expect(crcWorkerStats.wasm - before.wasm).toBe(ranges.length);
      expect(crcWorkerStats.zlib).toBe(before.zlib);
      // Nothing reaching into the scratch areas past the data.
      await expect(crcs.crc(enc, 0, enc.crcScratch)).rejects.toThrow(RangeError);
      await expect(crcs.crc(enc, 10, 5)).rejects.toThrow(RangeError);
    } finally {
      await crcs.close();
    }
  });
});

describe('without WebAssembly', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  it('falls back to zlib.crc32', async () => {
    vi.stubGlobal('WebAssembly', undefined);
    vi.resetModules();
    const m = await import('../../../src/common/crc32.js');
    expect(m.crc32Module()).toBeNull();
    for (const len of [0, 100, 40_000, MIB])
      expect(m.crc32(big.subarray(1, 1 + len), 7)).toBe(zlib.crc32(big.subarray(1, 1 + len), 7));
    // A memory's CRC by zlib over its buffer.
    const sab = new SharedArrayBuffer(65536);
    new Uint8Array(sab).set(big.subarray(0, 65536));
    const crcOf = m.crcMemory({ buffer: sab }, 65536);
    expect(crcOf(10, 50_000, 3)).toBe(zlib.crc32(new Uint8Array(sab, 10, 49_990), 3));
  });
});
