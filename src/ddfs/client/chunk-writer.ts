/**
 * Chunks built on this thread, a hunk at a time, for `chunkRecords` and for `chunkLines`
 * with its hunks built on worker threads (chunker.ts). A {@link ChunkWriter} writes one
 * chunk: records packed here into hunks, compressed, when asked for, on the libuv thread
 * pool, several hunks at a time (or hunks built elsewhere, line-hunks.ts), and the hunks go
 * in order to the chunk's sink (chunk-sinks.ts). The chunk size counts bytes as stored
 * (compressed, if so), as the original; hunks still being compressed are counted with the
 * compression ratio seen so far. The {@link Rotator} closes a chunk once past the size and
 * starts the next: a chunk in memory is handed out as soon as it is started, its uploads
 * streaming each hunk as it is written; a chunk file once complete.
 *
 * @example
 * const rot = new Rotator({ chunkSize: 1 << 20, compression: 1 });
 * for await (const [k, v] of records) {
 *   const w = yield* rot.writer(); // yields a chunk when one starts
 *   w.add(k, v);
 *   if (w.hunkFull()) await w.seal();
 * }
 * yield* rot.finish();
 */

import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { crc32 } from '../../common/crc32.js';
import { hunkHeader, packValue } from '../../protocol/record-stream.js';
import { type ChunkMemoryPool, MemoryChunk } from './chunk-memory.js';
import {
  type Chunk,
  type ChunkerOptions,
  checkChunkerOptions,
  chunkMemoryPool,
  chunksInMemory,
  DEFAULT_CHUNK_COMPRESSION,
  DEFAULT_CHUNK_SIZE,
  hunkSizeFor,
  type StartedChunk,
  startChunk,
} from './chunk-options.js';
import { FileSink, type HunkSink, MemorySink } from './chunk-sinks.js';
import type { LineHunk } from './line-hunks.js';

const deflate = promisify(zlib.deflate);

const EMPTY = Buffer.alloc(0);
/** Hunks being compressed or written at once, per chunk. */
const HUNKS_IN_FLIGHT = 4;

/**
 * One chunk being written: hunk bodies built here, compressed in the thread pool.
 *
 * Hunk buffers are recycled: a sealed hunk's buffer goes to the write (and compression) as it
 * is and comes back to the pool once written, so building a chunk allocates (and page-faults)
 * no new memory per hunk.
 */
export class ChunkWriter {
  private body: Buffer;
  private off = 0;
  /** Hunks being compressed or written, in order; each one's promise ends once written. */
  private readonly inflight: Promise<void>[] = [];
  /** The last hunk's write (writes happen in order, one at a time). */
  private lastWrite: Promise<void> = Promise.resolve();
  written = 0;
  records = 0;
  private inflightRaw = 0;
  /** Bytes of hunks from {@link addHunk} not written yet. */
  private pendingHunks = 0;
  /** Compressed / uncompressed bytes so far (for sizing hunks still in flight). */
  private ratio = 1;
  private rawDone = 0;
  private zDone = 0;

  constructor(
    private readonly sink: HunkSink,
    private readonly level: number,
    private readonly hunkSize: number,
    /** Free hunk buffers, shared by the chunks of one input. */
    private readonly pool: Buffer[],
  ) {
    // Taken when the first record comes: chunks of whole hunks (addHunk) need none.
    this.body = EMPTY;
  }

  /** A hunk buffer: room for a full hunk and its last record (larger records grow it). */
  private newBody(): Buffer {
    return this.pool.pop() ?? Buffer.allocUnsafe(this.hunkSize + 64 * 1024);
  }

  /** Compressed size so far, counting hunks not yet written at the current ratio. */
  size(): number {
    return this.written + this.pendingHunks + Math.round(this.inflightRaw * this.ratio);
  }

  /** Append a hunk built elsewhere (line-hunks.ts); waits while too many writes are queued. */
  async addHunk(h: LineHunk): Promise<void> {
    this.records += h.records;
    this.pendingHunks += h.bytes.length;
    await this.queue(async () => {
      await this.write(h.bytes);
      this.pendingHunks -= h.bytes.length;
      h.release();
    });
  }

  /** Room for `n` more bytes in the hunk body. */
  private room(n: number): void {
    if (this.off + n <= this.body.length) return;
    if (this.body === EMPTY) {
      this.body = this.newBody();
      if (n <= this.body.length) return;
    }
    const bigger = Buffer.allocUnsafe(Math.max(this.body.length * 2, this.off + n));
    this.body.copy(bigger, 0, 0, this.off);
    this.body = bigger;
  }

  /** Any record. */
  add(k: unknown, v: unknown): void {
    const pk = packValue(k);
    const pv = packValue(v);
    this.room(pk.length + pv.length);
    this.body.set(pk, this.off);
    this.body.set(pv, this.off + pk.length);
    this.off += pk.length + pv.length;
    this.records++;
  }

  /** Is the hunk full (then {@link seal} it)? */
  hunkFull(): boolean {
    return this.off >= this.hunkSize;
  }

  /** Send the hunk to compression; waits while too many hunks are in flight. */
  async seal(): Promise<void> {
    if (this.off === 0) return;
    const buffer = this.body;
    const raw = buffer.subarray(0, this.off);
    this.body = EMPTY;
    this.off = 0;
    const crc = crc32(raw);
    const compressed = this.level > 0;
    const ready = compressed ? deflate(raw, { level: this.level }) : Promise.resolve(raw);
    // Awaited by the queued write, which is skipped once an earlier write failed: that
    // failure is what surfaces, and this one must not become an unhandled rejection.
    ready.catch(() => undefined);
    this.inflightRaw += raw.length;
    await this.queue(async () => {
      const z = await ready;
      await this.write(hunkHeader(compressed, crc, z.length), z);
      this.pool.push(buffer);
      this.inflightRaw -= raw.length;
      this.rawDone += raw.length;
      this.zDone += z.length;
      this.ratio = this.zDone / Math.max(1, this.rawDone);
    });
  }

  /** Run `write` after the writes queued before; waits while too many are in flight. */
  private async queue(write: () => Promise<void>): Promise<void> {
    const written = this.lastWrite.then(write);
    // A failure surfaces from the next wait (below, or in close); never unhandled meanwhile.
    written.catch(() => undefined);
    this.lastWrite = written;
    this.inflight.push(written);
    while (this.inflight.length > HUNKS_IN_FLIGHT) await this.inflight.shift();
  }

  private async write(...parts: Buffer[]): Promise<void> {
    await this.sink.write(parts);
    for (const p of parts) this.written += p.length;
  }

  /** Flush, write the terminating empty hunk and close. */
  async close(): Promise<void> {
    await this.seal();
    await this.lastWrite;
    this.inflight.length = 0;
    await this.write(hunkHeader(false, 0, 0));
    await this.sink.close();
  }

  /** Stop: what was written is dropped (a file is removed, streams of a chunk fail). */
  async abort(error: Error): Promise<void> {
    await this.lastWrite.catch(() => undefined);
    await this.sink.abort(error);
  }
}

/**
 * Chunks under construction: rotation at the size limit, hand-out, clean-up. A chunk in
 * memory is handed out when started, a chunk file once complete.
 */
export class Rotator {
  private index = 0;
  private current: (StartedChunk & { writer: ChunkWriter }) | null = null;
  private readonly limit: number;
  /** Uncompressed size at which hunks are cut. */
  readonly hunk: number;
  private readonly pool: Buffer[] = [];
  private readonly memory: ChunkMemoryPool | null;

  constructor(private readonly opts: ChunkerOptions) {
    checkChunkerOptions(opts);
    this.limit = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.hunk = hunkSizeFor(this.limit);
    const inMemory = chunksInMemory(opts);
    if (!inMemory && !opts.dir) throw new Error('chunks too large for memory need a directory');
    this.memory = inMemory ? (opts.memory ?? chunkMemoryPool(this.limit)) : null;
  }

  /**
   * The writer for what comes next (a hunk or a record): the current chunk unless it is
   * full; chunks to hand out first are yielded.
   */
  async *writer(): AsyncGenerator<Chunk, ChunkWriter> {
    if (this.current && this.current.writer.size() > this.limit) yield* this.finish();
    if (!this.current) {
      const index = this.index++;
      const { memory, opts } = this;
      const where = memory
        ? new MemoryChunk(memory)
        : path.join(opts.dir as string, `${opts.prefix ?? 'chunk'}-${index}`);
      const sink = typeof where === 'string' ? new FileSink(where) : new MemorySink(where);
      const level = opts.compression ?? DEFAULT_CHUNK_COMPRESSION;
      const writer = new ChunkWriter(sink, level, this.hunk, this.pool);
      const info = () => ({ size: writer.written, records: writer.records });
      this.current = { writer, ...startChunk(index, where, info) };
      if (memory) yield this.current.chunk;
    }
    return this.current.writer;
  }

  /** Complete the current chunk (a chunk file is yielded then). */
  async *finish(): AsyncGenerator<Chunk> {
    const c = this.current;
    if (!c) return;
    this.current = null;
    try {
      await c.writer.close();
    } catch (e) {
      await c.writer.abort(e as Error);
      c.settle(e as Error);
      throw e;
    }
    c.settle();
    if (!this.memory) yield c.chunk;
  }

  /** Drop the chunk under construction (its uploads fail with `error`). */
  async abort(error: Error): Promise<void> {
    const c = this.current;
    this.current = null;
    if (c) {
      await c.writer.abort(error);
      c.settle(error);
    }
  }
}
