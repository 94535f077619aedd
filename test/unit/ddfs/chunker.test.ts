/**
 * The chunker: the fast line path gives exactly the records of the plain line reader (any
 * bytes, any split of the input, any chunk size), every chunk is a complete record stream on
 * its own, chunk sizes follow the limit, and hunks are compressed or not as asked.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { fileReader, lineRecords } from '../../../src/ddfs/client/chunk-input.js';
import { MemoryChunk } from '../../../src/ddfs/client/chunk-memory.js';
import { type Chunk, chunkMemoryPool } from '../../../src/ddfs/client/chunk-options.js';
import { chunkLines, chunkRecords } from '../../../src/ddfs/client/chunker.js';
import { crcWorkerStats } from '../../../src/ddfs/client/hunk-crc.js';
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

/** Chunks compared by digest (deep equality of large buffers is slow). */
const digests = (chunks: Buffer[]) => chunks.map((b) => createHash('sha256').update(b).digest('hex'));

/** A chunk's bytes, as an upload reads them (a chunk in memory is read while it is built). */
async function bytesOf(c: Chunk): Promise<Buffer> {
  if ('file' in c.source) return readFileSync(c.source.file);
  if (!('open' in c.source)) throw new Error('unexpected source');
  const parts: Buffer[] = [];
  for await (const b of c.source.open()) parts.push(b as Buffer);
  return Buffer.concat(parts);
}

interface Collected {
  index: number;
  size: number;
  records: number;
}

/**
 * Every chunk of `gen`, read while the next ones are built (as uploads do), each released
 * once read.
 */
async function collect(
  gen: AsyncIterable<Chunk>,
): Promise<{ chunks: Collected[]; records: KV[][]; data: Buffer[] }> {
  const reads: Promise<[Collected, Buffer]>[] = [];
  for await (const c of gen) {
    const read = (async (): Promise<[Collected, Buffer]> => {
      const data = await bytesOf(c);
      const info = await c.done;
      expect(data.length).toBe(info.size);
      await c.release();
      return [{ index: c.index, ...info }, data];
    })();
    read.catch(() => undefined);
    reads.push(read);
  }
  const all = await Promise.all(reads);
  // Each chunk is a whole stream by itself.
  const records = all.map(([, data]) => [...readRecords(new BufferSource(data))]);
  return { chunks: all.map((r) => r[0]), records, data: all.map((r) => r[1]) };
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
      const { data } = await collect(chunkLines(pieces(Buffer.from('a\nb\n'), []), { compression }));
      expect(data).toHaveLength(1);
      return [data[0][0], data[0][1], data[0].length > HUNK_HEADER];
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
      const { data } = await collect(
        chunkLines(pieces(text, [5, 65_536, 1_000_000]), { chunkSize: 300_000, compression, encoders }),
      );
      return data;
    };
    for (const compression of [0, 1]) {
      const inline = await files(0, compression);
      const threads = await files(2, compression);
      expect(inline.length).toBeGreaterThan(compression ? 0 : 3);
      expect(digests(threads)).toEqual(digests(inline));
      const records = inline.flatMap((b) => [...readRecords(new BufferSource(b))]);
      expect(records).toEqual(await reference(text));
    }
  });

  it('an empty input makes no chunk; chunk files (over the memory limit) are removed once released', async () => {
    expect((await collect(chunkLines(pieces(Buffer.alloc(0), []), {}))).chunks).toEqual([]);
    const text = Buffer.from('x\n'.repeat(10_000));
    const opts = { dir, chunkSize: 1000, memoryLimit: 0 };
    const files: string[] = [];
    for await (const c of chunkLines(pieces(text, []), opts)) {
      if (!('file' in c.source)) throw new Error('a chunk file was expected');
      files.push(c.source.file);
      expect(existsSync(c.source.file)).toBe(true);
      await c.release();
    }
    expect(files.length).toBeGreaterThan(1);
    expect(files.filter((f) => existsSync(f))).toEqual([]);
    // Files or memory: the same chunks.
    const inFiles = await collect(chunkLines(pieces(text, [3]), opts));
    const inMemory = await collect(chunkLines(pieces(text, [3]), { chunkSize: 1000 }));
    expect(digests(inMemory.data)).toEqual(digests(inFiles.data));
    expect(inMemory.chunks).toEqual(inFiles.chunks);
  });
});

describe('chunks in memory', () => {
  it('a local file read straight into the chunks gives the same chunks as its buffers, with or without WebAssembly', async () => {
    const text = Buffer.from(
      Array.from(
        { length: 30_000 },
        (_, i) => `${i} ${'ü'.repeat(i % 5)}${i % 997 === 0 ? 'L'.repeat(5000) : ''}`,
      ).join('\n'),
    );
    const file = path.join(dir, 'lines.txt');
    writeFileSync(file, text);
    for (const chunkSize of [4000, 100_000]) {
      let read = 0;
      const direct = await collect(
        chunkLines(
          fileReader(file, (n) => (read += n)),
          // On this thread, in the chunk's memory (the default with two cores or fewer).
          { chunkSize, encoders: 0 },
        ),
      );
      const buffers = await collect(chunkLines(pieces(text, [77]), { chunkSize }));
      expect(digests(direct.data)).toEqual(digests(buffers.data));
      // Without WebAssembly memory (plain arenas, JavaScript encoder): the same bytes.
      const plain = await collect(
        chunkLines(fileReader(file), { chunkSize, encoders: 0, memory: chunkMemoryPool(chunkSize, false) }),
      );
      expect(digests(plain.data)).toEqual(digests(buffers.data));
      expect(read).toBe(text.length);
      // And through the other paths (threads, files), which read it into buffers.
      const threads = await collect(chunkLines(fileReader(file), { chunkSize, encoders: 1 }));
      expect(threads.records).toEqual(buffers.records);
    }
    expect((await collect(chunkLines(pieces(text, [77]), {}))).records.flat()).toEqual(await reference(text));
  });

  it('reuse a few arenas whatever the input size, read while they are built', async () => {
    const arenas = async (mb: number) => {
      const memory = chunkMemoryPool(256 * 1024);
      const line = Buffer.from('some words of a line\n');
      const text = Buffer.concat(Array.from({ length: Math.ceil((mb << 20) / line.length) }, () => line));
      const buffers = new Set<ArrayBufferLike>();
      // As DDFS.chunk does: a chunk's upload starts when it is handed out; at most two run.
      const inflight = new Set<Promise<void>>();
      let records = 0;
      for await (const c of chunkLines(pieces(text, [1000, 300_000]), {
        chunkSize: 256 * 1024,
        memory,
        encoders: 0,
      })) {
        while (inflight.size > 1) await Promise.race(inflight);
        const upload = async () => {
          if (!('open' in c.source)) throw new Error('a chunk in memory was expected');
          // Flowing, as an upload reads it (`read()` would join buffered parts into new buffers).
          const s = c.source.open();
          s.on('data', (b: Buffer) => buffers.add(b.buffer));
          await finished(s);
          const info = await c.done;
          records += info.records;
          await c.release();
        };
        const p = upload().finally(() => inflight.delete(p));
        inflight.add(p);
      }
      await Promise.all(inflight);
      expect(records).toBe(text.length / line.length);
      return { allocated: memory.allocated, buffers: buffers.size };
    };
    const small = await arenas(2);
    const large = await arenas(24);
    expect(small.allocated).toBeLessThanOrEqual(3);
    expect(large.allocated).toBe(small.allocated);
    // Every hunk sent is a view of an arena (the end hunk too): nothing is copied out.
    expect(large.buffers).toBe(large.allocated);
  });

  it('past 4 MiB the CRCs come from a worker thread: the same bytes as chunk files built here', async () => {
    const parts: Buffer[] = [];
    for (let i = 0; i < 250_000; i++) {
      parts.push(Buffer.from(`${i} ${'abcdefghijklmnopqrstuvwxyz'.slice(i % 26)} ${'é'.repeat(i % 4)}\n`));
      // Text that is not UTF-8 now and then (encoded apart, its CRC computed here).
      if (i % 60_000 === 59_999) parts.push(Buffer.from([0x41, 0xff, 0xfe, 0x0a]));
    }
    const text = Buffer.concat(parts);
    expect(text.length).toBeGreaterThan(6_000_000);
    const chunkSize = 1 << 20;
    const before = crcWorkerStats.wasm + crcWorkerStats.zlib;
    const inMemory = await collect(chunkLines(pieces(text, [3 << 20]), { chunkSize, encoders: 0 }));
    // Computed by the worker (WebAssembly where the runtime has it), not on this thread.
    expect(crcWorkerStats.wasm + crcWorkerStats.zlib).toBeGreaterThan(before);
    const inFiles = await collect(chunkLines(pieces(text, [3 << 20]), { chunkSize, dir, memoryLimit: 0 }));
    expect(inMemory.data.length).toBeGreaterThan(5);
    expect(digests(inMemory.data)).toEqual(digests(inFiles.data));
    expect(inMemory.records.flat()).toEqual(await reference(text));
  });

  it('a chunk whose building fails fails its streams (an upload never ends as if complete)', async () => {
    async function* broken(): AsyncGenerator<Buffer> {
      yield Buffer.from('a line\n'.repeat(100_000));
      throw new Error('input broke');
    }
    const streams: Promise<string>[] = [];
    const done: Promise<unknown>[] = [];
    await expect(
      (async () => {
        for await (const c of chunkLines(broken(), { chunkSize: 500_000 })) {
          if (!('open' in c.source)) throw new Error('a chunk in memory was expected');
          const s = c.source.open();
          streams.push(
            (async () => {
              for await (const _ of s);
              return 'ended';
            })().catch((e: Error) => e.message),
          );
          done.push(c.done.catch((e: Error) => e.message));
        }
      })(),
    ).rejects.toThrow('input broke');
    expect(streams.length).toBeGreaterThan(1);
    const ends = await Promise.all(streams);
    expect(ends.slice(0, -1).every((e) => e === 'ended')).toBe(true);
    expect(ends.at(-1)).toBe('input broke');
    expect(await done.at(-1)).toBe('input broke');
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

describe('options and memory checks', () => {
  it('refuses a compression that is not a zlib level with a clear error (no crash)', async () => {
    const lines = () => pieces(Buffer.from('a\nb\n'.repeat(100_000)), []);
    for (const encoders of [0, 1])
      await expect(collect(chunkLines(lines(), { compression: 10, encoders }))).rejects.toThrow(
        'compression must be a zlib level 0-9, got 10',
      );
    const records = async function* (): AsyncGenerator<KV> {
      for (let i = 0; i < 10_000; i++) yield [i, 'x'.repeat(100)];
    };
    await expect(collect(chunkRecords(records(), { compression: 10 }))).rejects.toThrow(
      'compression must be a zlib level 0-9',
    );
  });

  it('refuses a shared memory pool too small for the chunk size', async () => {
    const memory = chunkMemoryPool(1 << 20);
    const lines = () => pieces(Buffer.from('a\n'.repeat(1000)), []);
    for (const encoders of [0, 1])
      await expect(collect(chunkLines(lines(), { chunkSize: 4 << 20, memory, encoders }))).rejects.toThrow(
        'memory pool too small',
      );
    // Large enough: accepted.
    const { chunks } = await collect(chunkLines(lines(), { chunkSize: 1 << 20, memory, encoders: 0 }));
    expect(chunks).toHaveLength(1);
  });

  it('a write to a chunk already complete and released takes no arena from the pool', () => {
    const pool = chunkMemoryPool(1 << 20, false);
    const chunk = new MemoryChunk(pool);
    chunk.write([Buffer.from('hunk')]);
    chunk.close();
    chunk.release();
    expect(pool.allocated).toBe(1);
    const other = pool.take(); // the arena is back in the pool, and in use again
    expect(() => chunk.write([Buffer.from('late')])).toThrow('chunk is complete');
    expect(() => chunk.commit(4)).toThrow('chunk is complete');
    expect(pool.allocated).toBe(1);
    pool.give(other);
  });
});
