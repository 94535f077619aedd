/**
 * The line hunk encoders: the WebAssembly one (line-records-wasm.ts) writes byte for byte
 * what the JavaScript one writes, and both what packValue of `[line, null]` gives, for any
 * lines (every MessagePack string header size, text that is not UTF-8) and for full blocks of
 * the shortest lines, where the records come closest to the text still to encode.
 */
import os from 'node:os';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultEncoders, LineHunkPool } from '../../../src/ddfs/client/line-hunks.js';
import { lineRecordEncoder } from '../../../src/ddfs/client/line-records-wasm.js';
import { HUNK_HEADER, packValue, RECORD_VERSION } from '../../../src/protocol/record-stream.js';

const CAPACITY = 256 * 1024;

/** The hunk of `[line, null]` records as the generic record encoder builds it. */
function reference(text: Buffer): Buffer {
  const lines = text.toString('utf8').split('\n').slice(0, -1);
  const body = Buffer.concat(lines.flatMap((l) => [packValue(l), packValue(null)]));
  const h = Buffer.alloc(HUNK_HEADER);
  h[0] = 0x80 + RECORD_VERSION;
  h.writeUInt32LE(zlib.crc32(body), 2);
  h.writeBigUInt64LE(BigInt(body.length), 6);
  return Buffer.concat([h, body]);
}

async function encode(text: Buffer, wasm: boolean): Promise<{ bytes: Buffer; records: number; raw: number }> {
  const pool = new LineHunkPool({ level: 0, capacity: CAPACITY, wasm });
  const work = pool.take(text.length);
  text.copy(work, pool.inputAt(work));
  const h = await pool.encode(work, text.length);
  const out = { bytes: Buffer.from(h.bytes), records: h.records, raw: h.raw };
  h.release();
  await pool.close();
  return out;
}

describe('default encoder threads', () => {
  it('uncompressed: one per core beyond two; compressed: at least two (deflate is the work)', () => {
    const cores = os.availableParallelism();
    expect(defaultEncoders(0)).toBe(Math.max(0, Math.min(4, cores - 2)));
    expect(defaultEncoders(1)).toBe(Math.max(2, Math.min(4, cores)));
    expect(defaultEncoders(9)).toBeGreaterThanOrEqual(2);
  });
});

describe('line hunk encoders', () => {
  it('this Node runs the WebAssembly encoder (else the tests below compare JavaScript with itself)', () => {
    expect(lineRecordEncoder(1024)).not.toBeNull();
  });

  it('WebAssembly, JavaScript and packValue give the same bytes for any lines', async () => {
    const sized = (n: number) => fc.constant(Buffer.alloc(n, 0x61 + (n % 26)));
    const line = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 300 }).map((s) => Buffer.from(s.replace(/\n/g, ' '))),
      fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a.map((b) => (b === 10 ? 32 : b)))),
      fc.constantFrom(0, 1, 15, 16, 17, 31, 32, 33, 255, 256, 257, 65_535, 65_536).chain(sized),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 40 }), async (lines) => {
        const text = Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')]));
        const fast = await encode(text, true);
        const js = await encode(text, false);
        expect(fast.bytes.equals(js.bytes)).toBe(true);
        expect([fast.records, fast.raw]).toEqual([js.records, js.raw]);
        expect(fast.records).toBe(lines.length);
        expect(fast.bytes.equals(reference(text))).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('full blocks of the shortest lines (records twice the text) encode in place correctly', async () => {
    for (const unit of ['\n', 'a\n', 'ab\n', `${'c'.repeat(31)}\n`, `${'d'.repeat(255)}\n`]) {
      const text = Buffer.from(unit.repeat(Math.floor(CAPACITY / unit.length)));
      const fast = await encode(text, true);
      expect(fast.bytes.equals(reference(text)), JSON.stringify(unit.slice(0, 3))).toBe(true);
    }
  });
});
