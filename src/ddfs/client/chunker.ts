/**
 * Record-aware chunking for `DDFS.chunk` (the original's `fileutils.Chunker`): records are
 * written in the internal record format (docs/record-format.md) into chunks of about
 * `chunkSize` bytes; a chunk is closed before the record that would start past the limit, so
 * no record is ever split across chunks.
 *
 * Chunks are built in memory (chunk-memory.ts) and handed out as soon as they are started:
 * their uploads stream each hunk as it is written, and a retry re-sends the chunk from memory.
 * Memory: about (uploads in flight + 1) × `chunkSize`, arenas reused from chunk to chunk
 * (`DDFS.chunk` starts a chunk once at most one earlier chunk is still uploading: two arenas
 * of the chunk size plus ~5 MiB, about 140 MiB with the default 64 MiB). Chunks larger than
 * {@link MAX_MEMORY_CHUNK} are written to temporary files instead and handed out once
 * complete: one file at a time being built, and the uploads read them back.
 *
 * Speed: text lines (the default reader, {@link chunkLines}) are encoded straight from the
 * input bytes into MessagePack, without making a JavaScript string of each line, one block
 * of lines per hunk, on worker threads (line-hunks.ts) while this thread reads and uploads,
 * or with two cores or fewer on this thread in WebAssembly (line-records-wasm.ts), straight
 * from the input into the chunk: a local file is read into the chunk's memory
 * ({@link fileReader}), encoded from there to the chunk's end, and sent from there; the
 * hunks' CRC-32s are computed meanwhile by a worker thread reading the same (shared) memory
 * (hunk-crc.ts).
 * Other records ({@link chunkRecords}) are built here and compressed, when asked for, on the
 * libuv thread pool, several hunks at a time. The chunk size counts bytes as stored
 * (compressed, if so), as the original; hunks still being compressed by the thread pool are
 * counted with the compression ratio seen so far.
 *
 * A chunk in memory is built while the consumer asks for the next one: do not wait for its
 * upload before that (it would wait for itself).
 *
 * @example
 * const uploads = [];
 * for await (const c of chunkLines(stream, { chunkSize: 64 << 20 }))
 *   uploads.push(putBlob(url, c.source).finally(() => c.release())); // streams as it is built
 * await Promise.all(uploads);
 */

import { closeSync, openSync, readSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { HUNK_HEADER, HUNK_SIZE, type KV, packValue, RECORD_VERSION } from '../../protocol/record-stream.js';
import type { BlobSource } from './blob-put.js';
import { type Arena, ChunkMemoryPool, MemoryChunk } from './chunk-memory.js';
import { CrcWorker } from './hunk-crc.js';
import {
  defaultEncoders,
  type EncoderLib,
  encodeLineHunk,
  LIB,
  type LineHunk,
  LineHunkPool,
} from './line-hunks.js';

/** The original's default chunk size: 64 MiB. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024;
/**
 * Default zlib level of chunk hunks: 0, not compressed. The original compressed chunks (zlib
 * level 2); zlib, even at level 1, runs at a fraction of disk speed (`bench/ddfs.ts`), so
 * chunking is I/O-bound only without it. `compression: 1..9` trades speed for space.
 */
export const DEFAULT_CHUNK_COMPRESSION = 0;

const deflate = promisify(zlib.deflate);

/**
 * Turns an input's bytes into records: `[key, value]` pairs (anything else is stored as
 * `[item, null]` by `DDFS.chunk`).
 */
export type RecordReader = (
  input: AsyncIterable<Buffer>,
  url: string,
) => AsyncIterable<unknown> | Iterable<unknown>;

/**
 * Transforms an input's bytes before its records are read (the original's `input_stream`),
 * e.g. decompression. Applied in order; the result may yield Buffers, byte arrays or strings.
 */
export type ByteTransform = (
  input: AsyncIterable<Buffer>,
  url: string,
) => AsyncIterable<Buffer | Uint8Array | string>;

/** A {@link ByteTransform} that gunzips its input (`ddfs chunk -T gunzip`). */
export const gunzipInput: ByteTransform = (input) => {
  const z = zlib.createGunzip();
  // Errors of either side end the iteration of `z` with that error.
  pipeline(Readable.from(input), z, () => undefined);
  return z;
};

/** Apply {@link ByteTransform}s in order, checking what each one returns. */
export async function* transformed(
  input: AsyncIterable<Buffer>,
  url: string,
  transforms: readonly ByteTransform[],
): AsyncGenerator<Buffer> {
  let cur: AsyncIterable<Buffer> = input;
  for (const [i, f] of transforms.entries()) {
    const out = f(cur, url) as unknown;
    if (out === null || typeof out !== 'object' || !(Symbol.asyncIterator in out))
      throw new TypeError(
        `input stream function ${i + 1} (${f.name || 'anonymous'}) returned ${out === null ? 'null' : typeof out}, expected an async iterable of bytes (e.g. a Readable)`,
      );
    cur = asBuffers(out as AsyncIterable<unknown>, i + 1);
  }
  yield* cur;
}

async function* asBuffers(src: AsyncIterable<unknown>, n: number): AsyncGenerator<Buffer> {
  for await (const b of src) {
    if (Buffer.isBuffer(b)) yield b;
    else if (b instanceof Uint8Array) yield Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    else if (typeof b === 'string') yield Buffer.from(b, 'utf8');
    else throw new TypeError(`input stream function ${n} yielded ${typeof b}; yield Buffers or strings`);
  }
}

/**
 * One record per line, `[line, null]`, the line decoded as UTF-8 without its `\n` (a last line
 * without newline counts too). `DDFS.chunk` does the same faster with {@link chunkLines}.
 */
export async function* lineRecords(input: AsyncIterable<Buffer>): AsyncGenerator<KV> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of input) {
    let buf = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    let nl = buf.indexOf(0x0a);
    while (nl >= 0) {
      yield [buf.subarray(0, nl).toString('utf8'), null];
      buf = buf.subarray(nl + 1);
      nl = buf.indexOf(0x0a);
    }
    rest = Buffer.from(buf);
  }
  if (rest.length > 0) yield [rest.toString('utf8'), null];
}

/**
 * Bytes read straight into {@link chunkLines}'s buffers — for a local file, no copy from a
 * read buffer: `read` puts up to `length` bytes at `offset` of `into` and says how many (0 at
 * the end); `close` is called once chunking ends.
 */
export interface ByteReader {
  read(into: Buffer, offset: number, length: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * A local file as a {@link ByteReader}; `onBytes` counts what is read. The reads block this
 * thread: from the page cache a read is a copy of about 1 MiB (~0.15 ms), cheaper than a
 * thread-pool read and without its latency, which nothing could overlap (the bytes go where
 * they are encoded next).
 *
 * @example
 * for await (const c of chunkLines(fileReader('./big.log'), {})) uploads.push(upload(c));
 */
export function fileReader(file: string, onBytes?: (n: number) => void): ByteReader {
  let fd: number | null = null;
  return {
    async read(into, offset, length) {
      fd ??= openSync(file, 'r');
      const n = readSync(fd, into, offset, length, null);
      onBytes?.(n);
      return n;
    },
    async close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

/** The input of {@link chunkLines}: buffers (which it copies), or a reader into its own. */
export type LineInput = AsyncIterable<Buffer> | ByteReader;

/** A reader's bytes as buffers, 1 MiB at a time (a buffer is overwritten by the next read). */
async function* readerBuffers(r: ByteReader): AsyncGenerator<Buffer> {
  const bufs = [Buffer.allocUnsafeSlow(1 << 20), Buffer.allocUnsafeSlow(1 << 20)];
  for (let i = 0; ; i ^= 1) {
    const n = await r.read(bufs[i], 0, bufs[i].length);
    if (n === 0) return;
    yield bufs[i].subarray(0, n);
  }
}

/** Input as a {@link ByteReader} (buffers are copied from). */
function asReader(input: LineInput): ByteReader {
  if (!(Symbol.asyncIterator in input)) return input;
  const it = input[Symbol.asyncIterator]();
  let cur: Buffer = EMPTY;
  let from = 0;
  return {
    async read(into, offset, length) {
      while (from >= cur.length) {
        const r = await it.next();
        if (r.done) return 0;
        cur = r.value;
        from = 0;
      }
      const n = Math.min(length, cur.length - from);
      cur.copy(into, offset, from, from + n);
      from += n;
      return n;
    },
    async close() {
      await it.return?.();
    },
  };
}

/**
 * Chunks of at most this size (`chunkSize`) are built in memory and streamed to the nodes
 * as they are built; larger ones are written to temporary files first (memory for two such
 * chunks would be too much).
 */
export const MAX_MEMORY_CHUNK = 256 * 1024 * 1024;

/** Size and records of a complete chunk. */
export interface ChunkInfo {
  /** Bytes as stored (the record stream, end hunk included). */
  size: number;
  records: number;
}

/**
 * A chunk of an input. In memory (the default) it is handed out as soon as it is started,
 * and its `source` streams the chunk while it is being built; in a file, once complete.
 */
export interface Chunk {
  /** Index of the chunk within its input (0, 1, ...). */
  index: number;
  /**
   * The chunk's bytes for uploads, as often as needed (retries, replicas): each `open`
   * replays the chunk from its start (and follows it while it is built; a stream of a chunk
   * whose building fails fails too), or a file.
   */
  source: BlobSource;
  /** Resolves once the chunk is complete; rejects if its building failed. */
  done: Promise<ChunkInfo>;
  /** Once every upload of the chunk has ended: frees its memory or removes its file. */
  release(): Promise<void>;
}

/** Options of {@link chunkRecords} and {@link chunkLines}. */
export interface ChunkerOptions {
  chunkSize?: number;
  /**
   * Chunks larger than this are built in files (default {@link MAX_MEMORY_CHUNK}), in
   * `dir`, which is then required.
   */
  memoryLimit?: number;
  /** Directory for chunk files. */
  dir?: string;
  prefix?: string;
  /** Arenas for chunks in memory, to share between inputs (default: one pool per call). */
  memory?: ChunkMemoryPool;
  /** zlib level of the hunks, 0 = not compressed (default {@link DEFAULT_CHUNK_COMPRESSION}). */
  compression?: number;
  /** Hunks compressed at once (default 4). */
  parallel?: number;
  /**
   * {@link chunkLines}: worker threads building hunks (default: one per core beyond two, at
   * most 4; 0 = on this thread). Small inputs never start any.
   */
  encoders?: number;
}

/** Hunk size (uncompressed) for chunks of `limit` bytes. */
function hunkSizeFor(limit: number): number {
  // Chunks smaller than a few hunks: cut hunks early, or a chunk could never be smaller
  // than one 1 MiB hunk (the original's granularity).
  return limit < 4 * HUNK_SIZE ? Math.max(1024, Math.floor(limit / 4)) : HUNK_SIZE;
}

/** Text of a block of lines: a block's records are a little larger: a bit below a hunk. */
function blockSizeFor(hunk: number): number {
  return Math.max(512, Math.floor(hunk * 0.95));
}

/**
 * Memory for chunks of `chunkSize` bytes: a chunk is closed once past its limit, so it holds
 * at most one hunk more (records of a block of text: up to twice the text, all lines empty) —
 * two to also cover hunks still in compression when it was measured; then the text of a block.
 * `wasm`: false for plain buffers (the JavaScript line encoder, as without WebAssembly).
 */
export function chunkMemoryPool(chunkSize = DEFAULT_CHUNK_SIZE, wasm = true): ChunkMemoryPool {
  const hunk = hunkSizeFor(chunkSize);
  return new ChunkMemoryPool(chunkSize + 2 * (2 * hunk + 64 * 1024), blockSizeFor(hunk) + 64, wasm);
}

const EMPTY = Buffer.alloc(0);

/** The header of a hunk. */
function hunkHeader(compressed: boolean, crc: number, len: number): Buffer {
  const h = Buffer.allocUnsafe(HUNK_HEADER);
  h[0] = 0x80 + RECORD_VERSION;
  h[1] = compressed ? 1 : 0;
  h.writeUInt32LE(crc, 2);
  h.writeBigUInt64LE(BigInt(len), 6);
  return h;
}

/** Where a chunk's bytes go, in order. */
interface HunkSink {
  /** Append these buffers; they may be reused once this returns (or resolves). */
  write(parts: readonly Buffer[]): void | Promise<void>;
  close(): void | Promise<void>;
  /** Building failed: drop what was written. */
  abort(error: Error): Promise<void>;
}

/** A chunk file. */
class FileSink implements HunkSink {
  private readonly fh: Promise<fs.FileHandle>;

  constructor(readonly file: string) {
    this.fh = fs.open(file, 'w');
    this.fh.catch(() => undefined);
  }

  /** One `writev`, continued after a short write. */
  async write(parts: readonly Buffer[]): Promise<void> {
    const fh = await this.fh;
    let rest = parts;
    while (rest.length > 0) {
      let n = (await fh.writev(rest as Buffer[])).bytesWritten;
      while (rest.length > 0 && n >= rest[0].length) {
        n -= rest[0].length;
        rest = rest.slice(1);
      }
      if (rest.length > 0 && n > 0) rest = [rest[0].subarray(n), ...rest.slice(1)];
    }
  }

  async close(): Promise<void> {
    await (await this.fh).close();
  }

  async abort(): Promise<void> {
    await (await this.fh.catch(() => null))?.close().catch(() => undefined);
    await fs.rm(this.file, { force: true });
  }
}

/** The sink of a chunk in memory. */
class MemorySink implements HunkSink {
  constructor(readonly chunk: MemoryChunk) {}

  write(parts: readonly Buffer[]): void {
    this.chunk.write(parts);
  }

  close(): void {
    this.chunk.close();
  }

  async abort(error: Error): Promise<void> {
    this.chunk.fail(error);
  }
}

/**
 * One chunk being written: hunk bodies built here, compressed in the thread pool.
 *
 * Hunk buffers are recycled: a sealed hunk's buffer goes to the write (and compression) as it
 * is and comes back to the pool once written, so building a chunk allocates (and page-faults)
 * no new memory per hunk.
 */
class ChunkWriter {
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
    private readonly parallel: number,
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
    const written = this.lastWrite.then(async () => {
      await this.write(h.bytes);
      this.pendingHunks -= h.bytes.length;
      h.release();
    });
    written.catch(() => undefined);
    this.lastWrite = written;
    this.inflight.push(written);
    while (this.inflight.length > this.parallel) await this.inflight.shift();
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
    const crc = zlib.crc32(raw);
    const compressed = this.level > 0;
    const ready = compressed ? deflate(raw, { level: this.level }) : Promise.resolve(raw);
    this.inflightRaw += raw.length;
    const written = this.lastWrite.then(async () => {
      const z = await ready;
      await this.write(hunkHeader(compressed, crc, z.length), z);
      this.pool.push(buffer);
      this.inflightRaw -= raw.length;
      this.rawDone += raw.length;
      this.zDone += z.length;
      this.ratio = this.zDone / Math.max(1, this.rawDone);
    });
    // A failure surfaces from the next wait (below, or in close); never unhandled meanwhile.
    written.catch(() => undefined);
    this.lastWrite = written;
    this.inflight.push(written);
    while (this.inflight.length > this.parallel) await this.inflight.shift();
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
class Rotator {
  private index = 0;
  private current: { writer: ChunkWriter; chunk: Chunk; settle(e?: Error): void } | null = null;
  private readonly limit: number;
  /** Uncompressed size at which hunks are cut. */
  readonly hunk: number;
  private readonly pool: Buffer[] = [];
  private readonly memory: ChunkMemoryPool | null;

  constructor(private readonly opts: ChunkerOptions) {
    this.limit = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.hunk = hunkSizeFor(this.limit);
    const inMemory = this.limit <= (opts.memoryLimit ?? MAX_MEMORY_CHUNK);
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
      let writer: ChunkWriter | null = null;
      let settle!: (e?: Error) => void;
      const done = new Promise<ChunkInfo>((resolve, reject) => {
        settle = (e) =>
          e ? reject(e) : resolve({ size: writer?.written ?? 0, records: writer?.records ?? 0 });
      });
      done.catch(() => undefined);
      const make = (sink: HunkSink) =>
        new ChunkWriter(
          sink,
          this.opts.compression ?? DEFAULT_CHUNK_COMPRESSION,
          Math.max(1, this.opts.parallel ?? 4),
          this.hunk,
          this.pool,
        );
      if (this.memory) {
        const mem = new MemoryChunk(this.memory);
        writer = make(new MemorySink(mem));
        const chunk: Chunk = { index, source: mem.source, done, release: async () => mem.release() };
        this.current = { writer, chunk, settle };
        yield chunk;
      } else {
        const file = path.join(this.opts.dir as string, `${this.opts.prefix ?? 'chunk'}-${index}`);
        writer = make(new FileSink(file));
        const chunk: Chunk = { index, source: { file }, done, release: () => fs.rm(file, { force: true }) };
        this.current = { writer, chunk, settle };
      }
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

/** The error a chunk under construction fails with when its generator stops. */
function stopped(failure: { e: unknown } | null): Error {
  if (!failure) return new Error('chunking stopped before the end of the input');
  return failure.e instanceof Error ? failure.e : new Error(String(failure.e));
}

/**
 * Write `records` into chunks; each chunk is yielded when started (in memory) or once
 * complete (in a file, see {@link ChunkerOptions.memoryLimit}). Release each one once done.
 */
export async function* chunkRecords(records: AsyncIterable<KV>, opts: ChunkerOptions): AsyncGenerator<Chunk> {
  const rot = new Rotator(opts);
  let failure: { e: unknown } | null = null;
  try {
    for await (const [k, v] of records) {
      const w = yield* rot.writer();
      w.add(k, v);
      if (w.hunkFull()) await w.seal();
    }
    yield* rot.finish();
  } catch (e) {
    failure = { e };
    throw e;
  } finally {
    await rot.abort(stopped(failure));
  }
}

/**
 * Chunks of text lines: one record `[line, null]` per line (UTF-8, without its `\n`; a last
 * line without newline counts), the same records as {@link lineRecords} gives, built
 * directly from the bytes. The input is cut into blocks of whole lines of about one hunk;
 * each block becomes a hunk on a worker thread (line-hunks.ts) while the next blocks are
 * read, and the hunks are written in order. Inputs of a few hunks are encoded on this
 * thread: starting workers would cost more. Chunks are yielded as {@link chunkRecords} does.
 */
export async function* chunkLines(source: LineInput, opts: ChunkerOptions): AsyncGenerator<Chunk> {
  const limit = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const encoders = opts.encoders ?? defaultEncoders();
  if (encoders === 0 && limit <= (opts.memoryLimit ?? MAX_MEMORY_CHUNK)) {
    const reader = asReader(source);
    try {
      yield* linesInMemory(reader, opts, limit);
    } finally {
      await reader.close();
    }
    return;
  }
  const input = Symbol.asyncIterator in source ? source : readerBuffers(source);
  const rot = new Rotator(opts);
  // A block's records are a little larger than its text: cut blocks a bit below a hunk.
  const pool = new LineHunkPool({
    level: opts.compression ?? DEFAULT_CHUNK_COMPRESSION,
    capacity: blockSizeFor(rot.hunk),
  });
  let blocks = 0;
  const queue: Promise<LineHunk>[] = [];
  let failure: { e: unknown } | null = null;
  // Hunks are written before they pile up: a few blocks in flight per worker.
  const written = async function* (max: number): AsyncGenerator<Chunk> {
    while (queue.length > max) {
      const h = await (queue.shift() as Promise<LineHunk>);
      const w = yield* rot.writer();
      await w.addHunk(h);
    }
  };
  let work = pool.take();
  let at = pool.inputAt(work);
  let cap = pool.capacityOf(work);
  let len = 0;
  /** A work buffer of at least `capacity` holding `work`'s text from `from` on. */
  const moveTo = (capacity: number, from: number) => {
    const next = pool.take(capacity);
    const nextAt = pool.inputAt(next);
    work.copy(next, nextAt, at + from, at + len);
    len -= from;
    work = next;
    at = nextAt;
    cap = pool.capacityOf(next);
  };
  /** Encode the first `upTo` bytes of text (whole lines); the rest starts the next block. */
  const send = (upTo: number) => {
    const full = work;
    moveTo(len - upTo, upTo);
    if (++blocks === 5 && encoders > 0) pool.startWorkers(encoders);
    const hunk = pool.encode(full, upTo);
    // Awaited in order later; a failure meanwhile is not an unhandled rejection.
    hunk.catch(() => undefined);
    queue.push(hunk);
  };
  try {
    for await (const chunk of input) {
      for (let from = 0; from < chunk.length; ) {
        const take = Math.min(chunk.length - from, cap - len);
        chunk.copy(work, at + len, from, from + take);
        len += take;
        from += take;
        if (len < cap) break;
        const nl = work.lastIndexOf(0x0a, at + len - 1) - at;
        // One line longer than a block: a larger buffer for all of it.
        if (nl < 0) moveTo(2 * cap, 0);
        else send(nl + 1);
        yield* written(pool.threaded ? 2 * encoders : 0);
      }
    }
    if (len > 0) {
      if (work[at + len - 1] !== 0x0a) {
        if (len === cap) moveTo(cap + 1, 0);
        work[at + len++] = 0x0a;
      }
      send(len);
    }
    yield* written(0);
    yield* rot.finish();
  } catch (e) {
    failure = { e };
    throw e;
  } finally {
    // A failure leaves encodings running: wait for them so no worker outlives the call.
    await Promise.allSettled(queue);
    await pool.close();
    await rot.abort(stopped(failure));
    if (!(Symbol.asyncIterator in source)) await source.close();
  }
}

/** A hunk in the arena waiting for its CRC-32 (see {@link linesInMemory}). */
interface PendingHunk {
  mem: MemoryChunk;
  /** Where in the arena (header first). */
  start: number;
  length: number;
  crc: number | null;
  /** Resolves once `crc` is set. */
  known: Promise<void>;
}

/** Text encoded on this thread before CRCs go to a worker (starting one costs ~30 ms). */
const CRC_WORKER_AFTER = 4 << 20;
/** Hunks waiting for their CRC at most. */
const MAX_PENDING_CRCS = 4;
/** An {@link EncoderLib} leaving the CRC to a worker (0 in the header until known). */
const NO_CRC: EncoderLib = { ...LIB, crc32: () => 0 };

/** A chunk being built by {@link linesInMemory}. */
interface Building {
  mem: MemoryChunk;
  records: number;
  settle(e?: Error): void;
}

/**
 * {@link chunkLines} on this thread, chunks in memory: each block of text is put in the
 * current chunk's arena after the chunk, and its records are encoded from there to the end of
 * the chunk, in WebAssembly when the arena is WebAssembly memory: a hunk is built where it is
 * sent from, without a copy. Lines longer than a block are encoded in buffers of their own
 * (by JavaScript) and copied in.
 */
async function* linesInMemory(input: ByteReader, opts: ChunkerOptions, limit: number): AsyncGenerator<Chunk> {
  const memory = opts.memory ?? chunkMemoryPool(limit);
  const level = opts.compression ?? DEFAULT_CHUNK_COMPRESSION;
  const block = blockSizeFor(hunkSizeFor(limit));
  const long = new LineHunkPool({ level, capacity: block, wasm: false });
  let index = 0;
  let cur: Building | null = null;
  let arena: Arena | null = null;
  /** The text to encode: `work[at, at + len)`, room for `cap` (the arena's, or a long line's buffer). */
  let work: Buffer = EMPTY;
  let at = 0;
  let cap = 0;
  let len = 0;
  let inArena = false;
  /** A block's text while the chunk changes. */
  let carry: Buffer = EMPTY;
  let failure: { e: unknown } | null = null;
  /**
   * CRC-32s on a worker thread (hunk-crc.ts), once the input is past a few MiB: hunks wait
   * in the arena, in order, until theirs is known, and are then committed.
   */
  let crcs: CrcWorker | null = null;
  let encoded = 0;
  const pending: PendingHunk[] = [];
  let pendingBytes = 0;
  /** Commit the hunks at the head of `pending` whose CRC is known. */
  const commitReady = () => {
    while (pending.length > 0 && pending[0].crc !== null) {
      const h = pending.shift() as PendingHunk;
      pendingBytes -= h.length;
      h.mem.memory().buffer.writeUInt32LE(h.crc as number, h.start + 2);
      h.mem.commit(h.length);
    }
  };
  /** Wait until at most `max` hunks wait for their CRC. */
  const settle = async (max: number) => {
    while (pending.length > max) {
      await pending[0].known;
      commitReady();
    }
  };

  const start = async function* (): AsyncGenerator<Chunk> {
    const mem = new MemoryChunk(memory);
    let settle!: (e?: Error) => void;
    const done = new Promise<ChunkInfo>((resolve, reject) => {
      settle = (e) => (e ? reject(e) : resolve({ size: mem.written, records: building.records }));
    });
    done.catch(() => undefined);
    const building: Building = { mem, records: 0, settle };
    cur = building;
    yield { index: index++, source: mem.source, done, release: async () => mem.release() };
    // Only now: the consumer may have waited for an earlier chunk to give its arena back.
    arena = mem.memory();
  };
  const finish = () => {
    const c = cur as Building;
    cur = null;
    c.mem.write([hunkHeader(false, 0, 0)]);
    c.mem.close();
    c.settle();
  };
  /** The text from `from` on moves to `dest` (the arena's room for text when null). */
  const moveText = (from: number, dest: Buffer | null) => {
    const next = dest ?? (arena as Arena).buffer;
    const nextAt = dest ? long.inputAt(dest) : (arena as Arena).textAt;
    work.copy(next, nextAt, at + from, at + len);
    len -= from;
    work = next;
    at = nextAt;
    cap = dest ? long.capacityOf(dest) : block;
    inArena = !dest;
  };
  /** Encode the first `upTo` bytes of text (whole lines) into the current chunk. */
  const send = async function* (upTo: number): AsyncGenerator<Chunk> {
    if ((cur as Building).mem.written + pendingBytes > limit) {
      await settle(0);
      if (inArena) {
        if (carry.length < len) carry = Buffer.allocUnsafeSlow(block + 64);
        work.copy(carry, 0, at, at + len);
      }
      finish();
      yield* start();
      if (inArena) {
        work = carry;
        at = 0;
        moveText(0, null);
      }
    }
    const c = cur as Building;
    if (inArena) {
      const a = arena as Arena;
      const shared = a.buffer.buffer instanceof SharedArrayBuffer ? a.buffer.buffer : null;
      encoded += upTo;
      if (!crcs && encoded >= CRC_WORKER_AFTER && level === 0 && a.encoder && shared) crcs = new CrcWorker();
      const defer = crcs !== null && level === 0 && a.encoder !== null && shared !== null;
      await settle(defer ? MAX_PENDING_CRCS - 1 : 0);
      const out = c.mem.end + pendingBytes;
      const r = encodeLineHunk(work, at, upTo, level, defer ? NO_CRC : LIB, a.encoder?.encode, out);
      const bytes = r.bytes as Buffer;
      if (defer && bytes.buffer === shared) {
        const h: PendingHunk = {
          mem: c.mem,
          start: out,
          length: bytes.length,
          crc: null,
          known: Promise.resolve(),
        };
        h.known = (crcs as CrcWorker).crc(shared, out + HUNK_HEADER, out + bytes.length).then((crc) => {
          h.crc = crc;
          commitReady();
        });
        // Awaited by settle (a failure surfaces there); not an unhandled rejection meanwhile.
        h.known.catch(() => undefined);
        pending.push(h);
        pendingBytes += h.length;
      } else {
        // Not in place (text that is not UTF-8): its CRC here.
        if (defer) bytes.writeUInt32LE(zlib.crc32(bytes.subarray(HUNK_HEADER)), 2);
        await settle(0);
        if (bytes.buffer === work.buffer) c.mem.commit(bytes.length);
        else c.mem.write([bytes]);
      }
      c.records += r.records;
      work.copyWithin(at, at + upTo, at + len);
      len -= upTo;
    } else {
      await settle(0);
      const full = work;
      // The rest goes back to the arena unless it is a long line still.
      moveText(upTo, len - upTo <= block ? null : long.take(len - upTo));
      const h = await long.encode(full, upTo);
      c.mem.write([h.bytes]);
      c.records += h.records;
      h.release();
    }
  };
  try {
    /** Text encoded since the event loop last ran. */
    let sent = 0;
    // The first bytes come before the first chunk: an empty input makes none.
    const first = Buffer.allocUnsafe(Math.min(4096, block));
    len = await input.read(first, 0, first.length);
    if (len === 0) return;
    yield* start();
    work = first;
    moveText(0, null);
    for (;;) {
      if (len === cap) {
        const nl = work.lastIndexOf(0x0a, at + len - 1) - at;
        // One line longer than a block: a larger buffer for all of it.
        if (nl < 0) moveText(0, long.take(2 * cap));
        else {
          yield* send(nl + 1);
          sent += nl + 1;
        }
        // The uploads send what was written when the event loop runs: let it run every MiB
        // (a reader that does not wait, as a local file's, would starve them until the chunk
        // is complete, and the chunk would be sent after it is built instead of meanwhile).
        if (sent >= 1 << 20) {
          sent = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        continue;
      }
      // Straight into the arena (or a long line's buffer).
      const n = await input.read(work, at + len, cap - len);
      if (n === 0) break;
      len += n;
    }
    if (len > 0) {
      if (work[at + len - 1] !== 0x0a) {
        if (len === cap) moveText(0, long.take(cap + 1));
        work[at + len++] = 0x0a;
      }
      yield* send(len);
    }
    await settle(0);
    finish();
  } catch (e) {
    failure = { e };
    throw e;
  } finally {
    await long.close();
    await (crcs as CrcWorker | null)?.close();
    const c = cur as Building | null;
    if (c) {
      const error = stopped(failure);
      c.mem.fail(error);
      c.settle(error);
    }
  }
}
