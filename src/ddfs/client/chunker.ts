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
import { asReader, type LineInput, type LineText, lineBlocks, moveLineText } from './chunk-input.js';
import {
  blockSizeFor,
  type Chunk,
  type ChunkerOptions,
  chunksInMemory,
  DEFAULT_CHUNK_COMPRESSION,
  withCleanup,
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
  const chunks = async function* (): AsyncGenerator<Chunk> {
    for await (const [k, v] of records) {
      const w = yield* rot.writer();
      w.add(k, v);
      if (w.hunkFull()) await w.seal();
    }
    yield* rot.finish();
  };
  yield* withCleanup(chunks(), (error) => rot.abort(error));
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
  const input = asReader(source);
  const encoders = opts.encoders ?? defaultEncoders(opts.compression ?? DEFAULT_CHUNK_COMPRESSION);
  if (encoders === 0 && chunksInMemory(opts)) {
    try {
      yield* linesInMemory(input, opts);
    } finally {
      await input.close();
    }
    return;
  }
  const rot = new Rotator(opts);
  const pool = new LineHunkPool({
    level: opts.compression ?? DEFAULT_CHUNK_COMPRESSION,
    capacity: blockSizeFor(rot.hunk),
  });
  let blocks = 0;
  const queue: Promise<LineHunk>[] = [];
  // Hunks are written before they pile up: a few blocks in flight per worker.
  const written = async function* (max: number): AsyncGenerator<Chunk> {
    while (queue.length > max) {
      const h = await (queue.shift() as Promise<LineHunk>);
      const w = yield* rot.writer();
      await w.addHunk(h);
    }
  };
  const first = pool.take();
  const text: LineText = { work: first, at: pool.inputAt(first), cap: pool.capacityOf(first), len: 0 };
  /** `text` from its byte `from` on moves to a work buffer of at least `capacity`. */
  const moveTo = (capacity: number, from: number) => {
    const next = pool.take(capacity);
    moveLineText(text, from, next, pool.inputAt(next), pool.capacityOf(next));
  };
  /** Encode the first `upTo` bytes of text (whole lines); the rest starts the next block. */
  const send = async function* (upTo: number): AsyncGenerator<Chunk> {
    const full = text.work;
    moveTo(text.len - upTo, upTo);
    if (++blocks === 5 && encoders > 0) pool.startWorkers(encoders);
    const hunk = pool.encode(full, upTo);
    // Awaited in order later; a failure meanwhile is not an unhandled rejection.
    hunk.catch(() => undefined);
    queue.push(hunk);
    yield* written(pool.threaded ? 2 * encoders : 0);
  };
  const chunks = async function* (): AsyncGenerator<Chunk> {
    yield* lineBlocks(input, text, send, (capacity) => moveTo(capacity, 0));
    yield* written(0);
    yield* rot.finish();
  };
  yield* withCleanup(chunks(), async (error) => {
    // A failure leaves encodings running: wait for them so no worker outlives the call.
    await Promise.allSettled(queue);
    await pool.close();
    await rot.abort(error);
    await input.close();
  });
}
