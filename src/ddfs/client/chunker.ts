/**
 * Record-aware chunking for `DDFS.chunk` (the original's `fileutils.Chunker`): records are
 * written in the internal record format (docs/record-format.md) into chunk files of about
 * `chunkSize` bytes; a chunk is closed before the record that would start past the limit, so
 * no record is ever split across chunks. Chunks are spilled to temporary files, so memory
 * stays bounded whatever the input size, and a chunk can be re-sent when a push is retried.
 *
 * Speed: text lines (the default reader, {@link chunkLines}) are encoded straight from the
 * input bytes into MessagePack, without making a JavaScript string of each line, one block
 * of lines per hunk, on worker threads (line-hunks.ts) while this thread reads and writes, or
 * with two cores or fewer on this thread in WebAssembly (line-records-wasm.ts);
 * each hunk is written with one `writev`. Other records ({@link chunkRecords}) are built
 * here and compressed, when asked for, on the libuv thread pool, several hunks at a time.
 * The chunk size counts bytes as stored (compressed, if so), as the original; hunks still
 * being compressed by the thread pool are counted with the compression ratio seen so far.
 *
 * @example
 * for await (const c of chunkLines(stream, { chunkSize: 64 << 20, dir })) push(c.file);
 */

import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { HUNK_HEADER, HUNK_SIZE, type KV, packValue, RECORD_VERSION } from '../../protocol/record-stream.js';
import { defaultEncoders, type LineHunk, LineHunkPool } from './line-hunks.js';

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
 * A local file's bytes for {@link chunkLines}, 1 MiB at a time, read one buffer ahead into
 * two buffers used in turn: **a yielded buffer is overwritten once the next one is asked
 * for**, which suits chunkLines (it copies what it keeps) and saves allocating and
 * page-faulting fresh memory for every read.
 */
export async function* readFileReusingBuffers(file: string, size = 1 << 20): AsyncGenerator<Buffer> {
  const fh = await fs.open(file, 'r');
  const bufs = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
  let i = 0;
  let next = fh.read(bufs[0], 0, size, null);
  try {
    for (;;) {
      const { bytesRead } = await next;
      if (bytesRead === 0) return;
      const cur = bufs[i];
      i ^= 1;
      next = fh.read(bufs[i], 0, size, null);
      yield cur.subarray(0, bytesRead);
    }
  } finally {
    await next.catch(() => undefined);
    await fh.close();
  }
}

/** A finished chunk file. */
export interface ChunkFile {
  file: string;
  /** Index of the chunk within its input (0, 1, ...). */
  index: number;
  size: number;
  records: number;
}

/** Options of {@link chunkRecords} and {@link chunkLines}. */
export interface ChunkerOptions {
  chunkSize?: number;
  /** Directory for the chunk files. */
  dir: string;
  prefix?: string;
  /** Leave each yielded file to the consumer (default: deleted when the next is asked for). */
  keep?: boolean;
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

/**
 * One chunk file being written: hunk bodies built here, compressed in the thread pool.
 *
 * Hunk buffers are recycled: a sealed hunk's buffer goes to the write (and compression) as it
 * is and comes back to the pool once written, so building a chunk allocates (and page-faults)
 * no new memory per hunk.
 */
class ChunkWriter {
  private body: Buffer;
  private off = 0;
  private readonly fh: Promise<fs.FileHandle>;
  /** Hunks being compressed or written, in file order; each one's promise ends once written. */
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
    readonly file: string,
    private readonly level: number,
    private readonly parallel: number,
    private readonly hunkSize: number,
    /** Free hunk buffers, shared by the chunks of one input. */
    private readonly pool: Buffer[],
  ) {
    this.fh = fs.open(file, 'w');
    this.fh.catch(() => undefined);
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

  /** Write the buffers in order: one `writev`, continued after a short write. */
  private async write(...parts: Buffer[]): Promise<void> {
    const fh = await this.fh;
    let rest = parts;
    while (rest.length > 0) {
      let n = (await fh.writev(rest)).bytesWritten;
      this.written += n;
      while (rest.length > 0 && n >= rest[0].length) {
        n -= rest[0].length;
        rest = rest.slice(1);
      }
      if (rest.length > 0 && n > 0) rest = [rest[0].subarray(n), ...rest.slice(1)];
    }
  }

  /** Flush, write the terminating empty hunk and close. */
  async close(): Promise<void> {
    try {
      await this.seal();
      await this.lastWrite;
      this.inflight.length = 0;
      await this.write(hunkHeader(false, 0, 0));
    } finally {
      await this.abort();
    }
  }

  /** Close the file (on failure: without caring about its content). */
  async abort(): Promise<void> {
    await this.lastWrite.catch(() => undefined);
    await (await this.fh.catch(() => null))?.close().catch(() => undefined);
  }
}

/** Chunk files under construction: rotation at the size limit, and clean-up. */
class Rotator {
  private index = 0;
  current: ChunkWriter | null = null;
  private readonly limit: number;
  /** Uncompressed size at which hunks are cut. */
  readonly hunk: number;
  private readonly pool: Buffer[] = [];

  constructor(private readonly opts: ChunkerOptions) {
    this.limit = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    // Chunks smaller than a few hunks: cut hunks early, or a chunk could never be smaller
    // than one 1 MiB hunk (the original's granularity).
    this.hunk = this.limit < 4 * HUNK_SIZE ? Math.max(1024, Math.floor(this.limit / 4)) : HUNK_SIZE;
  }

  /** The writer for the next record, or the finished chunk to hand out first. */
  full(): boolean {
    return this.current !== null && this.current.size() > this.limit;
  }

  writer(): ChunkWriter {
    if (!this.current) {
      const file = path.join(this.opts.dir, `${this.opts.prefix ?? 'chunk'}-${this.index}`);
      this.current = new ChunkWriter(
        file,
        this.opts.compression ?? DEFAULT_CHUNK_COMPRESSION,
        Math.max(1, this.opts.parallel ?? 4),
        this.hunk,
        this.pool,
      );
    }
    return this.current;
  }

  async finish(): Promise<ChunkFile> {
    const c = this.current!;
    this.current = null;
    await c.close();
    return { file: c.file, index: this.index++, size: c.written, records: c.records };
  }

  async abort(): Promise<void> {
    const c = this.current;
    this.current = null;
    if (c) {
      await c.abort();
      await fs.rm(c.file, { force: true });
    }
  }
}

/**
 * Write `records` into chunk files under `dir`; each chunk is yielded once complete, and
 * deleted when the consumer asks for the next one (so at most one chunk is on disk) unless
 * `keep` (then the consumer removes it).
 */
export async function* chunkRecords(
  records: AsyncIterable<KV>,
  opts: ChunkerOptions,
): AsyncGenerator<ChunkFile> {
  const rot = new Rotator(opts);
  try {
    for await (const [k, v] of records) {
      if (rot.full()) yield* handOut(await rot.finish(), opts);
      const w = rot.writer();
      w.add(k, v);
      if (w.hunkFull()) await w.seal();
    }
    if (rot.current) yield* handOut(await rot.finish(), opts);
  } finally {
    await rot.abort();
  }
}

async function* handOut(c: ChunkFile, opts: ChunkerOptions): AsyncGenerator<ChunkFile> {
  yield c;
  if (!opts.keep) await fs.rm(c.file, { force: true });
}

/**
 * Chunks of text lines: one record `[line, null]` per line (UTF-8, without its `\n`; a last
 * line without newline counts), the same records as {@link lineRecords} gives, built
 * directly from the bytes. The input is cut into blocks of whole lines of about one hunk;
 * each block becomes a hunk on a worker thread (line-hunks.ts) while the next blocks are
 * read, and the hunks are written in order. Inputs of a few hunks are encoded on this
 * thread: starting workers would cost more.
 */
export async function* chunkLines(
  input: AsyncIterable<Buffer>,
  opts: ChunkerOptions,
): AsyncGenerator<ChunkFile> {
  const rot = new Rotator(opts);
  // A block's records are a little larger than its text: cut blocks a bit below a hunk.
  const pool = new LineHunkPool({
    level: opts.compression ?? DEFAULT_CHUNK_COMPRESSION,
    capacity: Math.max(512, Math.floor(rot.hunk * 0.95)),
  });
  const encoders = opts.encoders ?? defaultEncoders();
  let blocks = 0;
  const queue: Promise<LineHunk>[] = [];
  // Hunks are written before they pile up: a few blocks in flight per worker.
  const written = async function* (max: number): AsyncGenerator<ChunkFile> {
    while (queue.length > max) {
      const h = await (queue.shift() as Promise<LineHunk>);
      if (rot.full()) yield* handOut(await rot.finish(), opts);
      await rot.writer().addHunk(h);
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
    if (rot.current) yield* handOut(await rot.finish(), opts);
  } finally {
    // A failure leaves encodings running: wait for them so no worker outlives the call.
    await Promise.allSettled(queue);
    await pool.close();
    await rot.abort();
  }
}
