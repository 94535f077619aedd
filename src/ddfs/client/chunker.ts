/**
 * Record-aware chunking for `DDFS.chunk` (the original's `fileutils.Chunker`): records are
 * written in the internal record format (docs/record-format.md) into chunks of about
 * `chunkSize` bytes; a chunk is closed before the record that would start past the limit, so
 * no record is ever split across chunks. The two entry points are here; the parts, in the
 * order the data takes:
 *
 * - chunk-input.ts: input transforms (`-T gunzip`), record readers, byte readers;
 * - chunk-options.ts: options, defaults, the {@link Chunk}s handed out, sizes, memory;
 * - {@link chunkRecords}, and {@link chunkLines} with worker threads: hunks built a hunk at a
 *   time, chunks rotated at the size limit (chunk-writer.ts), written to a sink
 *   (chunk-sinks.ts): a chunk's memory (chunk-memory.ts) or, for chunks too large for memory,
 *   a temporary file;
 * - {@link chunkLines} on this thread: encoded in place in the chunk's memory
 *   (lines-in-memory.ts).
 *
 * Chunks in memory are handed out as soon as they are started: their uploads stream each
 * hunk as it is written, and a retry re-sends the chunk from memory. A chunk in memory is
 * built while the consumer asks for the next one: do not wait for its upload before that (it
 * would wait for itself).
 *
 * Speed: text lines (the default reader, {@link chunkLines}) are encoded straight from the
 * input bytes into MessagePack, without making a JavaScript string of each line, one block
 * of lines per hunk, on worker threads (line-hunks.ts) while this thread reads and uploads,
 * or with two cores or fewer on this thread in WebAssembly (line-records-wasm.ts), straight
 * from the input into the chunk (lines-in-memory.ts). Other records ({@link chunkRecords})
 * are built on this thread and compressed, when asked for, on the libuv thread pool.
 *
 * @example
 * const uploads = [];
 * for await (const c of chunkLines(stream, { chunkSize: 64 << 20 }))
 *   uploads.push(putBlob(url, c.source).finally(() => c.release())); // streams as it is built
 * await Promise.all(uploads);
 */

import type { KV } from '../../protocol/record-stream.js';
import { asReader, type LineInput, readerBuffers } from './chunk-input.js';
import {
  blockSizeFor,
  type Chunk,
  type ChunkerOptions,
  DEFAULT_CHUNK_COMPRESSION,
  DEFAULT_CHUNK_SIZE,
  MAX_MEMORY_CHUNK,
  stopped,
} from './chunk-options.js';
import { Rotator } from './chunk-writer.js';
import { defaultEncoders, type LineHunk, LineHunkPool } from './line-hunks.js';
import { linesInMemory } from './lines-in-memory.js';

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
