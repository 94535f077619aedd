/**
 * The chunker: the fast line path gives exactly the records of the plain line reader (any
 * bytes, any split of the input, any chunk size), every chunk is a complete record stream on
 * its own, chunk sizes follow the limit, and hunks are compressed or not as asked.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type ChunkFile, chunkLines, chunkRecords, lineRecords } from '../../../src/ddfs/client/chunker.js';
import { BufferSource, HUNK_HEADER, type KV, readRecords } from '../../../src/protocol/record-stream.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'chunker-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function* pieces(buf: Buffer, cuts: number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    const to = Math.min(buf.length, c);
    if (to > at) yield buf.subarray(at, to);
    at = Math.max(at, to);
  }
  if (at < buf.length) yield buf.subarray(at);
}

async function collect(gen: AsyncIterable<ChunkFile>): Promise<{ chunks: ChunkFile[]; records: KV[][] }> {
  const chunks: ChunkFile[] = [];
  const records: KV[][] = [];
  for await (const c of gen) {
    chunks.push(c);
    // Each chunk is a whole stream by itself.
    const data = readFileSync(c.file);
    expect(data.length).toBe(c.size);
    records.push([...readRecords(new BufferSource(data))]);
  }
  return { chunks, records };
}

async function reference(buf: Buffer): Promise<KV[]> {
  const out: KV[] = [];
  for await (const r of lineRecords(pieces(buf, []))) out.push(r);
  return out;
}

describe('chunkLines', () => {
  it('equals lineRecords for any bytes and any split of the input', async () => {
    const line = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => Buffer.from(s.replace(/\n/g, ' '))),
      fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a.map((b) => (b === 10 ? 32 : b)))),
      fc.constant(Buffer.from('x'.repeat(70_000))),
      fc.constant(Buffer.from('with\r')),
      fc.constant(Buffer.alloc(0)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { maxLength: 30 }),
        fc.boolean(),
        fc.array(fc.nat(200_000), { maxLength: 5 }),
        fc.constantFrom(2_000, 100_000, 64 << 20),
        async (lines, trailing, cuts, chunkSize) => {
          const parts = lines.flatMap((l) => [l, Buffer.from('\n')]);
          if (!trailing && parts.length > 0) parts.pop();
          const buf = Buffer.concat(parts);
          const { records } = await collect(chunkLines(pieces(buf, cuts), { dir, chunkSize }));
          expect(records.flat()).toEqual(await reference(buf));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('cuts chunks near the size limit, on record boundaries, compressed or not', async () => {
    // Lines that compress only so much (a pseudo-random word each), so compressed chunks fill up too.
    const text = Buffer.from(
      Array.from(
        { length: 50_000 },
        (_, i) => `${i} ${((i * 2654435761) % 4294967296).toString(36)} ${'abcdefghij'.repeat(i % 7)}`,
      ).join('\n'),
    );
    for (const compression of [0, 1, 6]) {
      const { chunks, records } = await collect(
        chunkLines(pieces(text, [1000, 77_777]), { dir, chunkSize: 200_000, compression }),
      );
      expect(records.flat()).toEqual(await reference(text));
      expect(chunks.length).toBeGreaterThan(1);
      expect(chunks.map((c) => c.index)).toEqual(chunks.map((_, i) => i));
      // Sizes as stored (compressed, when compressed) near the limit: not above, nor far below.
      for (const c of chunks.slice(0, -1)) {
        expect(c.size).toBeLessThan(200_000 * 1.6);
        expect(c.size).toBeGreaterThan(200_000 * 0.8);
      }
      expect(chunks.reduce((n, c) => n + c.records, 0)).toBe(50_000);
    }
    // Compressed hunks carry flag 1, uncompressed flag 0.
    const one = async (compression: number) => {
      for await (const c of chunkLines(pieces(Buffer.from('a\nb\n'), []), { dir, compression, keep: true })) {
        const data = readFileSync(c.file);
        rmSync(c.file);
        return [data[0], data[1], data.length > HUNK_HEADER];
      }
      return null;
    };
    expect(await one(1)).toEqual([0x82, 1, true]);
    expect(await one(0)).toEqual([0x82, 0, true]);
  });

  it('worker threads build the same chunks, byte for byte, as this thread', async () => {
    const parts: Buffer[] = [];
    for (let i = 0; i < 20_000; i++) {
      parts.push(Buffer.from(`line ${i} ${'xyz'.repeat(i % 40)}\n`));
      if (i % 5000 === 0)
        parts.push(Buffer.from([0xff, 0xfe, 0x41, 0x0a]), Buffer.from(`${'L'.repeat(300_000)}\n`));
    }
    parts.push(Buffer.from('no newline at the end'));
    const text = Buffer.concat(parts);
    const files = async (encoders: number, compression: number) => {
      const out: Buffer[] = [];
      for await (const c of chunkLines(pieces(text, [5, 65_536, 1_000_000]), {
        dir,
        chunkSize: 300_000,
        compression,
        encoders,
      }))
        out.push(readFileSync(c.file));
      return out;
    };
    for (const compression of [0, 1]) {
      const inline = await files(0, compression);
      const threads = await files(2, compression);
      expect(inline.length).toBeGreaterThan(compression ? 0 : 3);
      expect(threads.map((b) => b.toString('base64'))).toEqual(inline.map((b) => b.toString('base64')));
      const records = inline.flatMap((b) => [...readRecords(new BufferSource(b))]);
      expect(records).toEqual(await reference(text));
    }
  });

  it('an empty input makes no chunk; files are removed unless kept', async () => {
    expect((await collect(chunkLines(pieces(Buffer.alloc(0), []), { dir }))).chunks).toEqual([]);
    const files: string[] = [];
    for await (const c of chunkLines(pieces(Buffer.from('x\n'.repeat(10_000)), []), { dir, chunkSize: 1000 }))
      files.push(c.file);
    expect(files.length).toBeGreaterThan(1);
    expect(files.filter((f) => existsSync(f))).toEqual([]);
  });
});

describe('chunkRecords', () => {
  it('any records, in order, split into whole-record chunks', async () => {
    async function* recs(): AsyncGenerator<KV> {
      for (let i = 0; i < 20_000; i++)
        yield [{ i, s: 'v'.repeat(i % 13) }, i % 3 === 0 ? null : [i, `x${i}`]];
    }
    const { chunks, records } = await collect(chunkRecords(recs(), { dir, chunkSize: 50_000 }));
    expect(chunks.length).toBeGreaterThan(1);
    const all = records.flat();
    expect(all).toHaveLength(20_000);
    expect(all[5]).toEqual([{ i: 5, s: 'vvvvv' }, [5, 'x5']]);
    expect(all[6]).toEqual([{ i: 6, s: 'vvvvvv' }, null]);
  });
});
